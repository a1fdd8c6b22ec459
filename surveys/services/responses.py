"""What customers do with an invitation: open it, answer (bit by bit), unsubscribe."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from customers.models import EventKind
from customers.services import event_record

from ..models import (
    CHOICE_KINDS,
    OPEN_STATUSES,
    PENDING_STATUSES,
    SCALED_KINDS,
    Answer,
    Campaign,
    HeldBackReason,
    Invitation,
    InvitationStatus,
    QuestionKind,
    Response,
    SurveyOptOut,
)

# An invitation can be answered while in these states; an unsubscribe stops emails, not answers.
ANSWERABLE = (*PENDING_STATUSES, *OPEN_STATUSES, InvitationStatus.UNSUBSCRIBED)


class SurveyClosed(Exception):
    """The survey cannot take answers through this token; `reason` picks the polite page."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "answered", "expired"


@dataclass
class SaveResult:
    response: Response
    errors: dict[int, str] = field(default_factory=dict)  # question id -> message
    completed: bool = False


def invitation_state(invitation: Invitation, now: datetime | None = None) -> str:
    """ "open", "answered" or "expired", as the survey page shows it."""
    now = now or timezone.now()
    if invitation.status == InvitationStatus.ANSWERED:
        return "answered"
    if invitation.status not in ANSWERABLE or (invitation.expires_at and invitation.expires_at <= now):
        return "expired"
    return "open"


def invitation_open(*, invitation: Invitation, now: datetime | None = None) -> None:
    """The customer opened the survey page: proof the email arrived, whatever the ledger said."""
    now = now or timezone.now()
    expires_at = now + timedelta(days=invitation.campaign.expires_after_days)
    Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.SENT).update(
        status=InvitationStatus.OPENED, opened_at=now
    )
    # Clicked while the worker was still marking it sent, or after a crash put it back in the queue.
    Invitation.objects.filter(pk=invitation.pk, status__in=PENDING_STATUSES).update(
        status=InvitationStatus.OPENED, opened_at=now, sent_at=now, expires_at=expires_at
    )
    Invitation.objects.filter(pk=invitation.pk, opened_at__isnull=True).update(opened_at=now)


def response_save(
    *,
    answers: dict[str, object],
    submit: bool,
    invitation: Invitation | None = None,
    campaign: Campaign | None = None,
    browser_key: str = "",
    language: str = "en",
    now: datetime | None = None,
) -> SaveResult:
    """Keep what the customer answered so far; on submit, complete the response if every required
    question is answered well. Answers are keyed by question id (as text, the form's names).

    One response per invitation (or per browser on an anonymous link): the row is locked while
    saving, so a double click or a second tab cannot complete it twice.
    """
    now = now or timezone.now()
    with transaction.atomic():
        response = _locked_response(invitation, campaign, browser_key, language, now)
        if response.completed_at:
            raise SurveyClosed("answered")
        questions = list(response.survey.questions.all())
        errors, cleaned = {}, {}
        for question in questions:
            raw = answers.get(str(question.pk))
            if not submit and raw in (None, "", []):
                if str(question.pk) in answers:
                    cleaned[question.pk] = None  # cleared on purpose
                continue
            try:
                cleaned[question.pk] = question.validate_answer(raw)
            except ValidationError as exc:
                errors[question.pk] = exc.messages[0]
        _store_answers(response, {q.pk: q for q in questions}, cleaned)
        completed = submit and not errors
        if completed:
            response.completed_at = now
            response.save(update_fields=["completed_at", "updated_at"])
            if invitation is not None:
                Invitation.objects.filter(pk=invitation.pk).update(
                    status=InvitationStatus.ANSWERED, answered_at=now, next_reminder_at=None
                )
            _record_answered_event(response, questions, cleaned, now)
        else:
            response.save(update_fields=["updated_at"])
        return SaveResult(response=response, errors=errors, completed=completed)


def _locked_response(invitation, campaign, browser_key, language, now) -> Response:
    if invitation is not None:
        invitation = Invitation.objects.select_for_update().select_related("campaign").get(pk=invitation.pk)
        state = invitation_state(invitation, now)
        if state != "open":
            raise SurveyClosed(state)
        response, _ = Response.objects.get_or_create(
            invitation=invitation,
            defaults={
                "campaign_id": invitation.campaign_id,
                "survey_id": invitation.campaign.survey_id,
                "customer_id": invitation.customer_id,
                "language": invitation.language,
                "started_at": now,
            },
        )
    else:
        if campaign is None or not browser_key:
            raise ValueError("an anonymous response needs its campaign and the browser's key")
        if campaign.status != Campaign.Status.RUNNING:
            raise SurveyClosed("expired")
        response, _ = Response.objects.get_or_create(
            campaign=campaign,
            browser_key=browser_key,
            defaults={"survey_id": campaign.survey_id, "language": language, "started_at": now},
        )
    return Response.objects.select_for_update().select_related("survey").get(pk=response.pk)


def _store_answers(response: Response, questions: dict, cleaned: dict) -> None:
    if not cleaned:
        return
    Answer.objects.filter(response=response, question_id__in=list(cleaned)).delete()
    rows = []
    for question_id, value in cleaned.items():
        if value is None:
            continue
        kind = questions[question_id].kind
        answer = Answer(response=response, question_id=question_id)
        if kind in SCALED_KINDS:
            answer.score = value
        elif kind in CHOICE_KINDS:
            answer.choices = value if isinstance(value, list) else [value]
        else:
            answer.text = value
        rows.append(answer)
    Answer.objects.bulk_create(rows)


def nps_category(score: int) -> str:
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def _record_answered_event(response: Response, questions, cleaned: dict, now: datetime) -> None:
    """The spine: a "survey answered" event, so segments and other apps can react (the feedback
    app opens a follow-up case for a detractor). Idempotent by the response id."""
    if response.customer_id is None:
        return  # an anonymous link: nobody's timeline
    scores, touchpoint = {}, None
    for question in questions:
        value = cleaned.get(question.pk)
        if question.kind in SCALED_KINDS and value is not None:
            scores.setdefault(question.kind, value)
            touchpoint = touchpoint or question.touchpoint
    data = {
        "survey": response.survey_id,
        "campaign": response.campaign_id,
        "response": response.pk,
        "invitation": response.invitation_id,
        "scores": scores,
    }
    if QuestionKind.NPS in scores:
        data["nps_category"] = nps_category(scores[QuestionKind.NPS])
        data["detractor"] = data["nps_category"] == "detractor"
    if QuestionKind.CSAT in scores:
        data["dissatisfied"] = scores[QuestionKind.CSAT] <= 2
    event_record(
        customer=response.customer,
        kind=EventKind.SURVEY_ANSWERED,
        occurred_at=now,
        touchpoint=touchpoint,
        data=data,
        external_id=f"survey-response-{response.pk}",
    )


@transaction.atomic
def invitation_unsubscribe(*, invitation: Invitation, now: datetime | None = None) -> None:
    """No more survey emails to this customer from any campaign; what is queued is held back."""
    now = now or timezone.now()
    SurveyOptOut.objects.get_or_create(
        customer_id=invitation.customer_id, defaults={"invitation": invitation, "created_at": now}
    )
    mine = Invitation.objects.filter(customer_id=invitation.customer_id)
    mine.filter(Q(pk=invitation.pk) | Q(status__in=OPEN_STATUSES)).exclude(
        status=InvitationStatus.ANSWERED
    ).update(status=InvitationStatus.UNSUBSCRIBED, unsubscribed_at=now, next_reminder_at=None)
    mine.filter(status=InvitationStatus.QUEUED).update(
        status=InvitationStatus.HELD_BACK,
        held_back_reason=HeldBackReason.UNSUBSCRIBED,
        held_back_at=now,
    )


@transaction.atomic
def invitation_mark_bounced(
    *, invitation: Invitation, reason: str = "", now: datetime | None = None
) -> Invitation:
    """A bounce reported after sending (a provider's webhook, a bounce mailbox)."""
    now = now or timezone.now()
    if invitation.status not in (InvitationStatus.SENDING, *OPEN_STATUSES):
        raise ValidationError(
            {"status": f"Only a sent invitation can bounce; this one is {invitation.status}."}
        )
    bounceable = (InvitationStatus.SENDING, *OPEN_STATUSES)
    # Conditional: an answer that lands between the check above and here is not overwritten.
    Invitation.objects.filter(pk=invitation.pk, status__in=bounceable).update(
        status=InvitationStatus.BOUNCED, bounced_at=now, next_reminder_at=None, last_error=reason[:2000]
    )
    invitation.refresh_from_db()
    return invitation
