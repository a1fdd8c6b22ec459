"""Reads of the feedback app: item lists with their clocks, an item's history, review counts and
the SLA outcomes the reports are made of."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncMonth

from customers.models import Customer

from .models import (
    NEGATIVE_REVIEW_RATING,
    PRIORITY_RANK,
    Attachment,
    ClockState,
    FeedbackItem,
    ItemChange,
    ItemKind,
    ItemMessage,
    SlaClock,
)

# A review rated this low or lower (FeedbackItem.is_negative_review, as a query).
NEGATIVE_REVIEW = Q(kind=ItemKind.REVIEW, review_rating__lte=NEGATIVE_REVIEW_RATING)


def _clocks() -> Prefetch:
    # clock_reading needs each clock's calendar (business time so far) and its segments (paused time).
    clocks = SlaClock.objects.select_related("policy__calendar").prefetch_related("segments")
    return Prefetch("clocks", queryset=clocks)


def item_list() -> QuerySet[FeedbackItem]:
    """Items with what a list shows of each: names of the related rows and every clock."""
    return (
        FeedbackItem.objects.select_related("customer", "assignee", "category", "sla_policy")
        .prefetch_related(_clocks())
        # Priorities sort by urgency, not alphabetically ("high" < "low" < "normal" < "urgent").
        .annotate(
            priority_rank=Case(
                *(When(priority=value, then=Value(rank)) for value, rank in PRIORITY_RANK.items()),
                output_field=IntegerField(),
            )
        )
    )


def item_detail() -> QuerySet[FeedbackItem]:
    """Items with their conversation, attachments and history too (one query each, whatever the size)."""
    return (
        item_list()
        .select_related("created_by")
        .prefetch_related(
            Prefetch("messages", queryset=ItemMessage.objects.select_related("author")),
            Prefetch("attachments", queryset=Attachment.objects.select_related("uploaded_by")),
            Prefetch("changes", queryset=ItemChange.objects.select_related("changed_by")),
        )
    )


def breached_items(now: datetime) -> Q:
    """Items with a clock past its target: recorded by the sweep (or on stopping), or running past
    its due moment and not swept yet (the sweep runs once a minute)."""
    clocks = SlaClock.objects.filter(item=OuterRef("pk")).filter(
        Q(breached_at__isnull=False) | Q(state=ClockState.RUNNING, due_at__lte=now)
    )
    return Q(Exists(clocks))


@dataclass(frozen=True)
class HistoryEntry:
    """One line of an item's history: a change (status, priority, assignee, SLA) or a message."""

    at: datetime
    kind: str  # "created", "change", or the message's kind: note, reply, customer
    by: str  # who, empty for the system or the customer
    field: str = ""
    old_value: str = ""
    new_value: str = ""
    note: str = ""
    body: str = ""


def person_name(user) -> str:
    return (user.get_full_name() or user.username) if user else ""


def item_history(item: FeedbackItem) -> list[HistoryEntry]:
    """The item's logging, then its changes and messages in the order they happened. At the same
    moment the message comes first: a reply, then the status change it caused. Reads the
    prefetched rows (item_detail)."""
    created = HistoryEntry(at=item.created_at, kind="created", by=person_name(item.created_by))
    rows = [((item.created_at, -1, 0), created)]
    rows += [
        (
            (message.created_at, 0, message.pk),
            HistoryEntry(
                at=message.created_at, kind=message.kind, by=person_name(message.author), body=message.body
            ),
        )
        for message in item.messages.all()
    ]
    rows += [
        (
            (change.changed_at, 1, change.pk),
            HistoryEntry(
                at=change.changed_at,
                kind="change",
                by=person_name(change.changed_by),
                field=change.field,
                old_value=change.old_value,
                new_value=change.new_value,
                note=change.note,
            ),
        )
        for change in item.changes.all()
    ]
    return [entry for _, entry in sorted(rows, key=lambda row: row[0])]


def review_counts(items: QuerySet[FeedbackItem]) -> dict[str, int]:
    """Public reviews among the items, the negative ones, and how many of those have a public
    answer: one query."""
    answered = ~Q(public_answer="")
    return items.filter(kind=ItemKind.REVIEW).aggregate(
        reviews=Count("id"),
        negative=Count("id", filter=NEGATIVE_REVIEW),
        negative_answered=Count("id", filter=NEGATIVE_REVIEW & answered),
        negative_unanswered=Count("id", filter=NEGATIVE_REVIEW & ~answered),
    )


# What the SLA outcomes can be grouped by, for the reports app.
SLA_GROUPS = {
    "policy": F("policy__name"),
    "agent": F("item__assignee__username"),
    "channel": F("item__channel"),
    "category": F("item__category__name"),
    "kind": F("item__kind"),
    "month": TruncMonth("stopped_at"),
}


def sla_outcomes(
    *, target: str, by: str, since: datetime | None = None, until: datetime | None = None
) -> QuerySet:
    """Per group, of the clocks of one target that stopped in [since, until): how many, how many
    breached, and the average business seconds used. One grouped query over stored fields."""
    clocks = SlaClock.objects.filter(target=target, state=ClockState.MET)
    if since:
        clocks = clocks.filter(stopped_at__gte=since)
    if until:
        clocks = clocks.filter(stopped_at__lt=until)
    breached = Q(breached_at__isnull=False) | Q(used_seconds__gt=F("target_seconds"))
    return (
        clocks.annotate(group=SLA_GROUPS[by])
        .values("group")
        .annotate(
            total=Count("id"),
            breached=Count("id", filter=breached),
            average_business_seconds=Avg("used_seconds"),
        )
        .order_by("group")
    )


# All the status page reads of an item: never its people, notes or history.
STATUS_PAGE_FIELDS = (
    "kind", "status", "subject", "language", "time_zone", "created_at", "resolved_at", "closed_at",
    "resolution_note", "sla_policy__calendar__time_zone",
)  # fmt: skip


def item_for_status_page(token: str) -> FeedbackItem | None:
    return (
        FeedbackItem.objects.select_related("sla_policy__calendar")
        .filter(status_token=token)
        .only(*STATUS_PAGE_FIELDS)
        .first()
    )


def customer_by_email(contact: str) -> Customer | None:
    """The customer this e-mail address belongs to (as they typed it, in any letter case); the
    oldest record if several share it."""
    if "@" not in contact:
        return None
    return Customer.objects.filter(email__iexact=contact).order_by("id").first()
