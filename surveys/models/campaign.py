"""Campaigns: one survey sent to an audience on a channel, once, on a schedule, or on an event."""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from customers.models import ClientType, Customer, EventKind, LifecycleStage, Segment, ServiceClass
from cxplatform.validation import choice_list_errors

from .survey import Survey


def new_token() -> str:
    """32 URL-safe characters (192 bits): unguessable, and short enough for an SMS later."""
    return secrets.token_urlsafe(24)


class NewToken(models.Func):
    """new_token() made by the database, for rows inserted by INSERT ... SELECT: the same 32
    URL-safe characters of 24 random bytes. PostgreSQL: pgcrypto's gen_random_bytes (a strong random
    source; the extension is created by migration 0005, and is "trusted", so a database owner may
    create it), base64url-encoded. SQLite: new_token() itself, registered on each connection
    (SurveysConfig)."""

    output_field = models.CharField()
    SQLITE_FUNCTION = "cx_new_token"

    def as_sql(self, compiler, connection, **extra_context):
        raise NotImplementedError(f"NewToken has no SQL for {connection.vendor}")

    def as_postgresql(self, compiler, connection, **extra_context):
        return "translate(encode(gen_random_bytes(24), 'base64'), '+/', '-_')", []

    def as_sqlite(self, compiler, connection, **extra_context):
        return f"{self.SQLITE_FUNCTION}()", []


class ContactPolicy(models.Model):
    """The global survey-fatigue rule, one row (pk=1), editable by a CX lead in the admin."""

    quarantine_days = models.PositiveSmallIntegerField(
        default=30,
        validators=[MaxValueValidator(365)],
        help_text="A customer is sent at most one survey invitation in this many days, "
        "across all campaigns and channels (0 turns the global rule off).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "contact policy"

    def __str__(self):
        return f"At most one survey per customer in {self.quarantine_days} days"

    @classmethod
    def current(cls) -> "ContactPolicy":
        return cls.objects.get_or_create(pk=1)[0]


class Campaign(models.Model):
    class Kind(models.TextChoices):
        ONE_OFF = "one_off", "One-off (now or at a time)"
        RECURRING = "recurring", "Recurring (every N days to the audience of the day)"
        EVENT_TRIGGERED = "event_triggered", "Event-triggered (when a customer event arrives)"

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail invitation"
        LINK = "link", "Anonymous link"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"

    name = models.CharField(max_length=200, unique=True)
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="campaigns")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ONE_OFF)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False)

    # --- audience: within a criterion any value matches, across criteria all must (AND);
    # the explicit list is added on top. Only customers who consent are ever invited.
    everyone = models.BooleanField(default=False, help_text="All customers who consent to surveys.")
    segments = models.ManyToManyField(Segment, blank=True, related_name="campaigns")
    client_types = models.ManyToManyField(ClientType, blank=True, related_name="campaigns")
    lifecycle_stages = models.JSONField(
        default=list, blank=True, help_text=f"Any of: {', '.join(LifecycleStage.values)}."
    )
    service_classes = models.JSONField(
        default=list, blank=True, help_text=f"Any of: {', '.join(ServiceClass.values)}."
    )
    customers = models.ManyToManyField(
        Customer, blank=True, related_name="campaigns", help_text="Invited in addition to the criteria."
    )

    # --- when
    send_at = models.DateTimeField(
        null=True, blank=True, help_text="One-off: when to send (empty: at launch). Recurring: first run."
    )
    repeat_every_days = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(366)]
    )
    trigger_event_kind = models.CharField(max_length=32, choices=EventKind.choices, blank=True)
    trigger_delay_minutes = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(60 * 24 * 90)], help_text="Wait this long after the event."
    )

    # --- contact policy, reminders, expiry
    quarantine_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(365)],
        help_text="Not more than one invitation of this campaign per customer in this many days.",
    )
    defer_held_back = models.BooleanField(
        default=True, help_text="Send to quarantined customers on the first allowed date instead of skipping."
    )
    reminder_count = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(5)])
    reminder_every_days = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    expires_after_days = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="An invitation can be answered for this many days after it is sent.",
    )
    email_subject = models.JSONField(
        default=dict, blank=True, help_text='Per language; empty: a standard subject, e.g. {"en": "..."}.'
    )

    # --- run state
    link_token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_run_at = models.DateTimeField(null=True, blank=True, editable=False)
    runs = models.PositiveIntegerField(default=0, editable=False, help_text="Waves built so far.")
    # Event-triggered: events recorded up to here have been looked at (with a look-back overlap).
    events_seen_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "kind"])]

    def __str__(self):
        return self.name

    @property
    def is_live(self) -> bool:
        return self.status in (self.Status.SCHEDULED, self.Status.RUNNING)

    def clean(self):
        errors = choice_list_errors(
            self, {"lifecycle_stages": LifecycleStage, "service_classes": ServiceClass}
        )
        if self.kind == self.Kind.RECURRING and not self.repeat_every_days:
            errors["repeat_every_days"] = "A recurring campaign needs its interval in days."
        if self.kind != self.Kind.RECURRING and self.repeat_every_days:
            errors["repeat_every_days"] = "Only recurring campaigns repeat."
        if self.kind == self.Kind.EVENT_TRIGGERED and not self.trigger_event_kind:
            errors["trigger_event_kind"] = "Say which customer event sends the survey."
        if self.kind != self.Kind.EVENT_TRIGGERED and (self.trigger_event_kind or self.trigger_delay_minutes):
            errors["trigger_event_kind"] = "Only event-triggered campaigns react to events."
        if self.kind == self.Kind.EVENT_TRIGGERED and self.send_at:
            errors["send_at"] = "An event-triggered campaign sends when its event arrives."
        if self.reminder_count and not self.reminder_every_days:
            errors["reminder_every_days"] = "Say every how many days a reminder goes out."
        if not self.reminder_count and self.reminder_every_days:
            errors["reminder_count"] = "Set how many reminders (1-5), or clear the interval."
        if (
            self.reminder_count
            and self.reminder_every_days
            and self.reminder_count * self.reminder_every_days >= self.expires_after_days
        ):
            errors["reminder_every_days"] = (
                f"{self.reminder_count} reminder(s) every {self.reminder_every_days} day(s) run past the "
                f"invitation's expiry ({self.expires_after_days} days); send fewer or expire later."
            )
        if self.channel == self.Channel.LINK:
            if self.kind != self.Kind.ONE_OFF:
                errors["kind"] = (
                    "An anonymous link is one-off: it has no recipients to repeat or trigger for."
                )
            if self.reminder_count:
                errors["reminder_count"] = "An anonymous link has no recipients to remind."
        if not isinstance(self.email_subject, dict) or not all(
            code in dict(settings.LANGUAGES) and isinstance(text, str)
            for code, text in self.email_subject.items()
        ):
            errors["email_subject"] = (
                f'Per language, e.g. {{"en": "..."}}; languages: {", ".join(dict(settings.LANGUAGES))}.'
            )
        if errors:
            raise ValidationError(errors)
