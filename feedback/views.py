"""The feedback app's public pages: the request-status page (/r/<token>/) and the web feedback
form (/feedback/).

No login. The status page's token is the credential, so the page shows only what the customer
told us and where it stands (never staff names, notes, the internal history or other items), and
tells browsers, caches and crawlers not to keep the page or pass its address on.
"""

import logging
import math
import zoneinfo
from datetime import datetime, tzinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import get_usage

from cxplatform.public import public_page

from . import selectors, services, texts
from .forms import TRAP_FIELD, WebFeedbackForm, form_stamp
from .models import ClockState, FeedbackItem, ItemStatus, Target

logger = logging.getLogger(__name__)

# Posts of the web form per client IP (django-ratelimit's "count/period"); invalid posts count too.
FORM_RATE = "10/h"


def _request_language(request: HttpRequest) -> tuple[str, bool]:
    """The language asked for in the address (?lang=, kept on posts), else the browser's."""
    asked = request.GET.get("lang", "")
    if asked in texts.LANGUAGE_CODES:
        return asked, True
    language = translation.get_language_from_request(request).split("-")[0]
    return (language if language in texts.LANGUAGE_CODES else settings.LANGUAGE_CODE), False


def _message(request: HttpRequest, language: str, kind: str, status: int, **values) -> HttpResponse:
    """A polite page: an unknown request, too many messages."""
    t = texts.all_texts(language)
    context = {"lang": language, "t": t, "kind": kind, "title": t[f"{kind}_title"]}
    context["body"] = texts.text(language, kind, **values)
    return render(request, "feedback/message.html", context, status=status)


# --- the request-status page ---------------------------------------------------------------------


def _zone(name: str) -> tzinfo | None:
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _item_zone(item: FeedbackItem) -> tzinfo:
    """The customer's zone, else the SLA calendar's, else the site's."""
    calendar = item.sla_policy.calendar if item.sla_policy else None
    return (
        _zone(item.time_zone)
        or (_zone(calendar.time_zone) if calendar else None)
        or _zone(settings.TIME_ZONE)
        or zoneinfo.ZoneInfo("UTC")
    )


def _moment(value: datetime, zone: tzinfo, language: str) -> dict[str, str]:
    """A moment as the customer reads it (their zone, their language's names of days and months),
    and as ISO 8601 for the <time> element."""
    local = value.astimezone(zone)
    with translation.override(language):
        date = formats.date_format(local, texts.text(language, "datetime_format"))
        weekday = formats.date_format(local, "l")
    if language == "ru":
        weekday = weekday.lower()  # Django's are capitalised as in a calendar's heading
    return {"iso": local.isoformat(), "text": texts.text(language, "moment", weekday=weekday, date=date)}


def _offset(zone: tzinfo, at: datetime) -> str:
    offset = at.astimezone(zone).strftime("%z")  # "+0300"
    return f"{offset[:3]}:{offset[3:]}" if offset not in ("+0000", "") else ""


# Where each status stands on the customer's step list.
STATUS_STEP = {
    ItemStatus.NEW: "received",
    ItemStatus.IN_PROGRESS: "working",
    ItemStatus.REOPENED: "working",
    ItemStatus.WAITING: "waiting",
    ItemStatus.RESOLVED: "resolved",
    ItemStatus.CLOSED: "closed",
}


def _steps(item: FeedbackItem, language: str) -> list[dict]:
    """Received -> being worked on -> (waiting for you) -> resolved -> closed. "Waiting for your
    reply" is a step only while it is the current one: most requests never wait on the customer,
    and a step shown as coming would promise them a question."""
    names = ["received", "working"] + (["waiting"] if item.status == ItemStatus.WAITING else [])
    names += ["resolved", "closed"]
    current = names.index(STATUS_STEP[item.status])
    steps = []
    for index, name in enumerate(names):
        label_key = "working_again" if name == "working" and item.status == ItemStatus.REOPENED else name
        state = "done" if index < current else "current" if index == current else "upcoming"
        if name == "closed" and state == "current":
            state = "done current"  # the last step: reached, and nothing comes after it
        steps.append({"name": name, "label": texts.text(language, f"step_{label_key}"), "state": state})
    return steps


def _expectation(item: FeedbackItem, clocks: list, zone: tzinfo, language: str, now: datetime) -> dict:
    """When to expect an answer: the running response clock's due moment (the first response, or
    the next one after the customer wrote back), else the resolution clock's."""
    if item.status == ItemStatus.WAITING:
        return {"kind": "paused", "text": texts.text(language, "expect_paused")}
    running = [clock for clock in clocks if clock.state == ClockState.RUNNING and clock.due_at]
    responses = [clock for clock in running if clock.target != Target.RESOLUTION]
    resolution = [clock for clock in running if clock.target == Target.RESOLUTION]
    if responses:
        due, key = min(clock.due_at for clock in responses), "expect_answer"
    elif resolution:
        due, key = resolution[0].due_at, "expect_resolution"
    else:  # no SLA policy applies: nothing to promise
        return {"kind": "soon", "text": texts.text(language, "expect_soon")}
    if due <= now:
        # A moment already gone reads as a broken promise; say sorry and that we are on it.
        return {"kind": "overdue", "text": texts.text(language, "expect_overdue")}
    when = _moment(due, zone, language)
    return {"kind": "due", "text": texts.text(language, key, time=when["text"]), "when": when}


def _finished(item: FeedbackItem, zone: tzinfo, language: str) -> list[dict[str, str]]:
    """ "Resolved on ...", "Closed on ..." for an item that is done."""
    lines = []
    for key, value in (("resolved_at", item.resolved_at), ("closed_at", item.closed_at)):
        if value:
            moment = _moment(value, zone, language)
            lines.append({"iso": moment["iso"], "text": texts.text(language, key, time=moment["text"])})
    return lines


@require_http_methods(["GET", "HEAD"])
@public_page()
def status_page(request, token):
    item = selectors.item_for_status_page(token)
    if item is None:
        language, _ = _request_language(request)
        return _message(request, language, "unknown", status=404)
    language = item.language if item.language in texts.LANGUAGE_CODES else settings.LANGUAGE_CODE
    zone, now = _item_zone(item), timezone.now()
    done = item.status in (ItemStatus.RESOLVED, ItemStatus.CLOSED)
    clocks = [] if done else list(item.clocks.only("target", "state", "due_at"))
    context = {
        "lang": language,
        "t": texts.all_texts(language),
        "kind_label": texts.text(language, f"kind_{item.kind}"),
        "reference": item.pk,
        "subject": item.subject,
        "logged": _moment(item.created_at, zone, language),
        "steps": _steps(item, language),
        "expectation": None if done else _expectation(item, clocks, zone, language, now),
        "resolution_note": item.resolution_note if done else "",
        "finished": _finished(item, zone, language) if done else [],
        "zone_note": texts.text(language, "zone_note", zone=str(zone), offset=_offset(zone, now)),
        "just_sent": request.GET.get("sent") == "1",
    }
    return render(request, "feedback/status.html", context)


# --- the web feedback form -----------------------------------------------------------------------


def _form_rate(group, request) -> str:
    return getattr(settings, "FEEDBACK_FORM_RATE", FORM_RATE)


def _over_the_limit(request: HttpRequest) -> int | None:
    """Counts this post against the client's IP; the seconds until they may post again if this
    one is over the limit, else None. A cache that is down lets the post through: a customer's
    complaint matters more than a spammer's extra message."""
    try:
        usage = get_usage(
            request, group="feedback.web_form", key="ip", rate=_form_rate, method="POST", increment=True
        )
    except Exception:  # the cache backend's own errors (Redis, memcached) have no common base
        logger.exception("The web feedback form's rate limit could not be checked")
        return None
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, usage["time_left"])


# The form's typed-in fields in order, with what the browser may fill in and how a phone's
# keyboard capitalises them.
TEXT_FIELDS = (
    ("name", "name", "words"),
    ("contact", "email", "off"),
    ("subject", "off", "sentences"),
    ("message", "off", "sentences"),
)


def _field(form: WebFeedbackForm, name: str, t: dict[str, str]) -> dict:
    errors = form.errors.get(name)
    return {
        "name": name,
        "id": f"id_{name}",
        "label": t[f"{name}_label"],
        "value": form[name].value() or "",
        "error": errors[0] if errors else "",
        "max_length": getattr(form.fields[name], "max_length", None),
    }


def _form_page(request, language: str, in_url: bool, form: WebFeedbackForm, stamp: str, status=200):
    t = texts.all_texts(language)
    inputs = [
        _field(form, name, t) | {"autocomplete": autocomplete, "autocapitalize": capitals}
        for name, autocomplete, capitals in TEXT_FIELDS
    ]
    kind = _field(form, "kind", t) | {
        "options": [
            {"value": value, "label": texts.text(language, f"kind_{value}"), "id": f"id_kind_{index}"}
            for index, (value, _) in enumerate(form.fields["kind"].choices)
        ]
    }
    chosen_language = _field(form, "language", t) | {
        "options": [{"value": "", "label": t["language_auto"]}]
        + [{"value": code, "label": name} for code, name in settings.LANGUAGES]
    }
    fields = [kind, *inputs, chosen_language]
    other = "ru" if language == "en" else "en"
    context = {
        "lang": language,
        "t": t,
        "kind": kind,
        "inputs": inputs,
        "language_field": chosen_language,
        "errors": [field for field in fields if field["error"]],
        "problems": form.non_field_errors(),
        "time_zone": form["time_zone"].value() or "",
        "stamp": stamp,
        "trap_field": TRAP_FIELD,
        "action": request.path + (f"?lang={language}" if in_url else ""),
        "other_language_url": f"{request.path}?lang={other}",
        "other_language": other,
    }
    return render(request, "feedback/form.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@public_page(referrer_policy="same-origin")
@csrf_protect
def feedback_form(request):
    language, in_url = _request_language(request)
    if request.method != "POST":
        form = WebFeedbackForm(language=language)
        return _form_page(request, language, in_url, form, form_stamp())
    wait = _over_the_limit(request)
    if wait is not None:
        response = _message(request, language, "limited", status=429, minutes=math.ceil(wait / 60))
        response["Retry-After"] = str(wait)
        return response
    form = WebFeedbackForm(request.POST, language=language)
    if form.is_valid():
        customer = selectors.customer_by_email(form.cleaned_data["contact"])
        try:
            item = services.item_create(data=form.item_data(customer))
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            # POST-redirect-GET: a reload does not send the message twice, and the address the
            # customer keeps is their request's own page.
            response = redirect(reverse("feedback-status", args=[item.status_token]) + "?sent=1")
            response.status_code = 303
            return response
    status = 400 if form.caught_a_bot else 200
    return _form_page(request, language, in_url, form, form.stamp_to_keep(), status=status)
