"""The public survey page (/s/<token>/) and the unsubscribe page.

No login: the token in the URL is the credential. So these pages show nothing beyond what the token
opens (never the customer's name or e-mail), and tell browsers, caches and crawlers not to keep the
page or pass its address on.
"""

import math
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from cxplatform.public import public_page

from . import selectors, services, texts
from .models import (
    LANGUAGE_CODES,
    MAX_TEXT_ANSWER,
    SCALED_KINDS,
    Campaign,
    Invitation,
    QuestionKind,
    Response,
    Survey,
)

# An anonymous link allows one response per browser: this cookie is how a browser is recognised.
BROWSER_COOKIE = "survey_browser"
BROWSER_COOKIE_AGE = 400 * 24 * 3600  # the longest a browser keeps a cookie (Chrome's cap)
AUTOSAVE_FIELD = "partial"


@dataclass
class Target:
    """What a token opens: an invitation, or (anonymous link) a campaign and this browser's key."""

    survey: Survey
    state: str  # "open", "answered", "expired"
    invitation: Invitation | None = None
    campaign: Campaign | None = None
    browser_key: str = ""
    set_cookie: bool = False
    response: Response | None = None


def _find(request: HttpRequest, token: str) -> Target | None:
    invitation = selectors.invitation_by_token(token)
    if invitation is not None:
        response = selectors.response_for(invitation=invitation)
        return Target(
            survey=invitation.campaign.survey,
            state=services.invitation_state(invitation),
            invitation=invitation,
            response=response,
        )
    campaign = selectors.link_campaign_by_token(token)
    if campaign is None:
        return None
    key = request.COOKIES.get(BROWSER_COOKIE, "")
    fresh = not (0 < len(key) <= 64)
    key = secrets.token_urlsafe(24) if fresh else key
    response = None
    if not fresh:
        response = selectors.response_for(campaign=campaign, browser_key=key)
    if response is not None and response.completed_at:
        state = "answered"
    else:
        state = "open" if campaign.status == Campaign.Status.RUNNING else "expired"
    return Target(
        survey=campaign.survey,
        state=state,
        campaign=campaign,
        browser_key=key,
        set_cookie=fresh,
        response=response,
    )


def _language(request: HttpRequest, target: Target | None) -> tuple[str, bool]:
    """The page's language and whether it was asked for in the address (?lang=, kept on posts)."""
    if target is not None and target.invitation is not None:
        language = target.invitation.language
        return (language if language in LANGUAGE_CODES else settings.LANGUAGE_CODE), False
    asked = request.GET.get("lang", "")
    if asked in LANGUAGE_CODES:
        return asked, True
    if target is not None and target.response is not None and target.response.language in LANGUAGE_CODES:
        return target.response.language, False
    language = translation.get_language_from_request(request).split("-")[0]
    return (language if language in LANGUAGE_CODES else settings.LANGUAGE_CODE), False


def _t(language: str) -> dict[str, str]:
    return {key: texts.text(language, key) for key in texts.TEXTS["en"]}


def _message(request, language: str, kind: str, status: int = 200, **extra) -> HttpResponse:
    """A polite page: unknown, expired, already answered, thanks, unsubscribed."""
    t = _t(language)
    context = {"lang": language, "t": t, "kind": kind, "title": t[f"{kind}_title"], "body": t[kind]}
    return render(request, "surveys/page/message.html", context | extra, status=status)


def _with_cookie(response: HttpResponse, request: HttpRequest, target: Target, token: str) -> HttpResponse:
    if target.set_cookie:
        response.set_cookie(
            BROWSER_COOKIE,
            target.browser_key,
            max_age=BROWSER_COOKIE_AGE,
            path=f"/s/{token}/",
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
    return response


@require_http_methods(["GET", "HEAD", "POST"])
@public_page(referrer_policy="same-origin")
@csrf_protect
def survey_page(request, token):
    target = _find(request, token)
    language, language_in_url = _language(request, target)
    if target is None:
        return _message(request, language, "unknown", status=404)
    partial = request.method == "POST" and request.POST.get(AUTOSAVE_FIELD) == "1"
    if partial and target.state != "open":
        # 200, not 409: the page's script only needs to know, and the browser console stays clean.
        return JsonResponse({"saved": False, "closed": target.state})
    if target.state == "answered":
        kind = "thanks" if request.GET.get("done") else "already"
        return _with_cookie(_message(request, language, kind), request, target, token)
    if target.state == "expired":
        return _message(request, language, "expired", status=410)
    action = request.path + (f"?lang={language}" if language_in_url else "")
    questions = list(target.survey.questions.all())
    if request.method != "POST":
        if request.method == "GET" and target.invitation is not None:
            services.invitation_open(invitation=target.invitation)
        page = _survey(request, language, action, target, questions, _stored_values(target.response), {})
        return _with_cookie(page, request, target, token)

    answers = _answers_from(request, questions)
    try:
        result = services.response_save(
            answers=answers,
            submit=not partial,
            invitation=target.invitation,
            campaign=target.campaign,
            browser_key=target.browser_key,
            language=language,
        )
    except services.SurveyClosed as closed:
        if partial:  # the survey closed between the page's look and the save (another tab)
            return JsonResponse({"saved": False, "closed": closed.reason})
        if closed.reason == "answered":
            return _with_cookie(_message(request, language, "already"), request, target, token)
        return _message(request, language, "expired", status=410)
    if partial:
        errors = {str(pk): texts.validation_message(language, msg) for pk, msg in result.errors.items()}
        page = JsonResponse({"saved": True, "errors": errors})
    elif result.completed:
        page = redirect(f"{request.path}?done=1" + (f"&lang={language}" if language_in_url else ""))
        page.status_code = 303
    else:
        page = _survey(request, language, action, target, questions, answers, result.errors)
    return _with_cookie(page, request, target, token)


def _answers_from(request: HttpRequest, questions) -> dict[str, object]:
    """Every question's field as the form sent it: the whole form is the customer's latest word, so
    an emptied field clears the answer kept for it."""
    answers = {}
    for question in questions:
        name = str(question.pk)
        if question.kind == QuestionKind.MULTIPLE_CHOICE:
            answers[name] = request.POST.getlist(name)
        else:
            answers[name] = request.POST.get(name, "")
    return answers


def _stored_values(response: Response | None) -> dict[str, object]:
    """The answers kept from an earlier visit, as the form would send them."""
    if response is None:
        return {}
    values = {}
    for answer in response.answers.all():
        name = str(answer.question_id)
        if answer.score is not None:
            values[name] = str(answer.score)
        elif answer.choices:
            values[name] = list(answer.choices)
        else:
            values[name] = answer.text
    return values


def _in(language: str, translations) -> str:
    if not isinstance(translations, dict) or not translations:
        return ""
    return (
        translations.get(language)
        or translations.get(settings.LANGUAGE_CODE)
        or next(iter(translations.values()), "")
    )


def _question_context(question, language: str, value, error: str) -> dict:
    name = str(question.pk)
    item = {
        "name": name,
        "id": f"q{question.pk}",
        "kind": question.kind,
        "text": question.text_in(language),
        "required": question.required,
        "error": texts.validation_message(language, error) if error else "",
        "value": value if isinstance(value, str) else "",
        "scaled": question.kind in SCALED_KINDS,
        "multiple": question.kind == QuestionKind.MULTIPLE_CHOICE,
        "max_length": MAX_TEXT_ANSWER,
    }
    if question.kind in SCALED_KINDS:
        scores = list(range(question.scale_min, question.scale_max + 1))
        low, high = _in(language, question.low_label), _in(language, question.high_label)
        if question.kind == QuestionKind.NPS:
            low, high = low or texts.text(language, "low"), high or texts.text(language, "high")
        item["options"] = [
            {"value": str(n), "label": str(n), "id": f"q{question.pk}-{n}", "checked": str(n) == value}
            for n in scores
        ]
        item["low_label"], item["high_label"] = low, high
        # On a phone a long scale wraps into two even rows (0-5 / 6-10) rather than shrinking.
        item["columns"] = len(scores)
        item["narrow_columns"] = len(scores) if len(scores) <= 6 else math.ceil(len(scores) / 2)
    elif question.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        picked = value if isinstance(value, list) else [value]
        item["options"] = [
            {
                "value": choice["value"],
                "label": _in(language, choice.get("label")),
                "id": f"q{question.pk}-{i}",
                "checked": choice["value"] in picked,
            }
            for i, choice in enumerate(question.choices or [])
        ]
        item["hint"] = texts.text(language, "choose_any" if item["multiple"] else "choose_one")
    return item


def _survey(request, language, action, target, questions, values, errors, status=200) -> HttpResponse:
    items = [
        _question_context(question, language, values.get(str(question.pk), ""), errors.get(question.pk, ""))
        | {"number": number}
        for number, question in enumerate(questions, start=1)
    ]
    context = {
        "lang": language,
        "t": _t(language),
        "action": action,
        "questions": items,
        "errors": [item for item in items if item["error"]],
        "unsubscribe_url": reverse("survey-unsubscribe", args=[target.invitation.token])
        if target.invitation is not None
        else "",
    }
    return render(request, "surveys/page/survey.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@public_page()
@csrf_exempt  # RFC 8058 one-click posts come from mail clients without a CSRF token.
def unsubscribe_page(request, token):
    """Unsubscribe only on POST: mail scanners fetch (GET) every link in a message."""
    invitation = selectors.invitation_by_token(token)
    if invitation is None:
        # Anonymous links (and unknown tokens) have nobody to unsubscribe.
        language, _ = _language(request, None)
        return _message(request, language, "unknown", status=404)
    language = invitation.language if invitation.language in LANGUAGE_CODES else settings.LANGUAGE_CODE
    if request.method == "POST":
        services.invitation_unsubscribe(invitation=invitation)
        return _message(request, language, "unsubscribed")
    if selectors.customer_opted_out(invitation.customer_id):
        return _message(request, language, "unsubscribed")
    t = _t(language)
    return render(request, "surveys/page/unsubscribe.html", {"lang": language, "t": t})
