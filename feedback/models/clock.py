"""SLA clocks: one per target of an item, kept as a log of running and paused segments.

The segments are the truth; `used_seconds` (business seconds of the closed running segments) and
`due_at` / `warn_at` (when a running clock reaches its target or its warning share) are caches
the sweep and the lists read, rebuilt from the segments by services.clock_rebuild."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .choices import Target
from .item import FeedbackItem
from .sla import SlaPolicy


class ClockState(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused (waiting on the customer)"
    MET = "met", "Met"  # stopped: the response was given or the item resolved, in time or not
    STOPPED = "stopped", "Stopped"  # no longer applies (e.g. the item closed before any response)


class SlaClock(models.Model):
    item = models.ForeignKey(FeedbackItem, on_delete=models.CASCADE, related_name="clocks")
    target = models.CharField(max_length=16, choices=Target.choices)
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, related_name="clocks")
    target_seconds = models.PositiveIntegerField(help_text="Business seconds allowed, from the policy.")
    warn_percent = models.PositiveSmallIntegerField(default=80)
    state = models.CharField(max_length=8, choices=ClockState.choices, default=ClockState.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    running_since = models.DateTimeField(
        null=True, blank=True, help_text="Start of the open running segment."
    )
    used_seconds = models.PositiveIntegerField(
        default=0, help_text="Business seconds of closed running segments."
    )
    due_at = models.DateTimeField(
        null=True, blank=True, help_text="While running: when the target is reached."
    )
    warn_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    # When the sweep saw the warning share and the target passed (once each per clock).
    warned_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["item", "target"]
        constraints = [
            # One clock per target at a time; a next-response clock is one per customer reply,
            # so only the first-response and resolution clocks are unique per item.
            models.UniqueConstraint(
                fields=["item", "target"],
                condition=~Q(target=Target.NEXT_RESPONSE),
                name="one_clock_per_target",
            ),
        ]
        indexes = [
            # The sweep: running clocks whose warning or due moment has come.
            models.Index(
                fields=["warn_at"],
                condition=Q(state="running", warned_at__isnull=True),
                name="clock_warn_due",
            ),
            models.Index(
                fields=["due_at"],
                condition=Q(state="running", breached_at__isnull=True),
                name="clock_breach_due",
            ),
        ]

    def __str__(self):
        return f"{self.get_target_display()} of #{self.item_id}"

    @property
    def breached(self) -> bool:
        return self.breached_at is not None


class SegmentKind(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"


class ClockSegment(models.Model):
    """A stretch of a clock's life: running (counts in business time) or paused (with its reason)."""

    clock = models.ForeignKey(SlaClock, on_delete=models.CASCADE, related_name="segments")
    kind = models.CharField(max_length=8, choices=SegmentKind.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    business_seconds = models.PositiveIntegerField(default=0, help_text="Running segments, once ended.")
    reason = models.CharField(max_length=200, blank=True, help_text="Why the clock was paused.")

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clock"], condition=Q(ended_at__isnull=True), name="one_open_segment"
            ),
        ]

    def __str__(self):
        return f"{self.kind} from {self.started_at}"


class SlaNotification(models.Model):
    """A warning or breach notice owed to one person: a row first, sent after, exactly once."""

    class Kind(models.TextChoices):
        WARNING = "warning", "Warning"
        BREACH = "breach", "Breach"

    clock = models.ForeignKey(SlaClock, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["clock", "kind", "recipient"], name="one_notice_per_person"),
        ]
        indexes = [
            models.Index(fields=["created_at"], condition=Q(sent_at__isnull=True), name="notice_unsent")
        ]

    def __str__(self):
        return f"{self.kind} to {self.recipient} for {self.clock}"
