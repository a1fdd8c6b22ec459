"""The invitation ledger, the answers, and the customers who asked not to be surveyed."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from customers.models import Customer, Event

from .campaign import Campaign, new_token
from .survey import Question, QuestionKind, Survey


class InvitationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"  # claimed by a worker; the email may be on its way
    SENT = "sent", "Sent"
    OPENED = "opened", "Opened"
    ANSWERED = "answered", "Answered"
    HELD_BACK = "held_back", "Held back"
    FAILED = "failed", "Failed"
    BOUNCED = "bounced", "Bounced"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled (campaign stopped first)"


class HeldBackReason(models.TextChoices):
    QUARANTINED = "quarantined", "Quarantined (surveyed recently)"
    NO_CONSENT = "no_consent", "No consent to surveys on this channel"
    NO_EMAIL = "no_email", "No e-mail address"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed from surveys"


# Invitations still to be sent, or sent and open to an answer; the rest are final.
PENDING_STATUSES = (InvitationStatus.QUEUED, InvitationStatus.SENDING)
OPEN_STATUSES = (InvitationStatus.SENT, InvitationStatus.OPENED)


class Invitation(models.Model):
    """One customer asked once by one campaign (one wave of it, or one triggering event)."""

    # No index of their own on the foreign keys: the composite indexes below lead with them. Every
    # index is written for each of a run's 100,000 rows (bench/campaign.py), so none is spare.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="invitations", db_index=False
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="survey_invitations", db_index=False
    )
    wave = models.PositiveIntegerField(default=1, help_text="Which run of a recurring campaign.")
    trigger_event = models.ForeignKey(
        Event,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_invitations",
        db_index=False,  # a partial index below: waves' invitations have no event
    )
    # Unique by a constraint, not unique=True, which on PostgreSQL adds a second, LIKE-pattern index
    # that no query here uses.
    token = models.CharField(max_length=64, default=new_token)
    language = models.CharField(max_length=8)
    status = models.CharField(
        max_length=12, choices=InvitationStatus.choices, default=InvitationStatus.QUEUED
    )
    held_back_reason = models.CharField(
        max_length=12,
        choices=HeldBackReason.choices,
        blank=True,
        help_text="Why it was held back, or why a queued invitation waits (deferred by quarantine).",
    )
    send_after = models.DateTimeField(default=timezone.now, help_text="Not sent before this moment.")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # The ledger: when each step happened.
    queued_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True, help_text="Handed to a sending task.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    held_back_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]
        constraints = [
            # Building a wave twice, or seeing a triggering event twice, invites once.
            models.UniqueConstraint(
                fields=["campaign", "customer", "wave"],
                condition=Q(trigger_event__isnull=True),
                name="unique_invitation_per_wave",
            ),
            models.UniqueConstraint(
                fields=["campaign", "trigger_event"],
                condition=Q(trigger_event__isnull=False),
                name="unique_invitation_per_trigger_event",
            ),
            models.UniqueConstraint(fields=["token"], name="unique_invitation_token"),
        ]
        indexes = [
            models.Index(fields=["campaign", "status"]),
            # The sweep's look-ups: what is due to send, to remind, to expire; quarantine by customer.
            models.Index(fields=["status", "send_after"]),
            # Partial where most rows have no value: a new run's rows are not written into them.
            models.Index(
                fields=["status", "next_reminder_at"],
                condition=Q(next_reminder_at__isnull=False),
                name="invitation_reminder_due",
            ),
            models.Index(
                fields=["status", "expires_at"],
                condition=Q(expires_at__isnull=False),
                name="invitation_expiry_due",
            ),
            models.Index(fields=["customer", "sent_at"]),
            models.Index(
                fields=["trigger_event"],
                condition=Q(trigger_event__isnull=False),
                name="invitation_trigger_event",
            ),
        ]

    def __str__(self):
        return f"{self.campaign} → {self.customer} ({self.get_status_display()})"

    @property
    def message_id(self) -> str:
        """The same for every attempt at this invitation, so a resend is recognisably the same mail."""
        from django.conf import settings

        host = settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"
        return f"<survey-invitation-{self.pk}.{self.campaign_id}@{host}>"


class SurveyOptOut(models.Model):
    """A customer who used an unsubscribe link: no more survey emails, from any campaign."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="survey_opt_out")
    invitation = models.ForeignKey(Invitation, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "survey opt-out"

    def __str__(self):
        return f"{self.customer} unsubscribed"


class Response(models.Model):
    """A customer's answers to one invitation (or one browser's, on an anonymous link).

    Saved as the customer goes, so a half-finished survey keeps what was typed; complete once
    submitted with every required question answered.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="responses")
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="responses")
    invitation = models.OneToOneField(
        Invitation, on_delete=models.CASCADE, null=True, blank=True, related_name="response"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="survey_responses"
    )
    browser_key = models.CharField(max_length=64, blank=True, help_text="Anonymous link: one per browser.")
    language = models.CharField(max_length=8)
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "browser_key"],
                condition=~Q(browser_key=""),
                name="unique_link_response_per_browser",
            )
        ]
        indexes = [models.Index(fields=["campaign", "completed_at"])]

    def __str__(self):
        return f"Response {self.pk} to {self.survey}"


class Answer(models.Model):
    """One question's answer; scores are a column of their own so metrics aggregate in SQL."""

    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    score = models.SmallIntegerField(null=True, blank=True)
    choices = models.JSONField(default=list, blank=True)
    text = models.TextField(blank=True)

    class Meta:
        ordering = ["response", "question__position"]
        constraints = [models.UniqueConstraint(fields=["response", "question"], name="unique_answer")]
        indexes = [models.Index(fields=["question", "score"])]

    def __str__(self):
        return f"{self.question}: {self.value}"

    @property
    def value(self):
        if self.score is not None:
            return self.score
        if self.choices:
            return (
                self.choices
                if len(self.choices) > 1 or self.question.kind == QuestionKind.MULTIPLE_CHOICE
                else self.choices[0]
            )
        return self.text
