"""Reads of the customers app: querysets shaped for the API, the admin and other apps."""

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from .models import Customer, Event, Segment, SegmentSnapshot
from .segment_rules import compile_rules


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.select_related("client_type")


def customer_timeline(*, customer_id: int) -> QuerySet[Event]:
    """Everything that happened to the customer, newest first."""
    return Event.objects.filter(customer_id=customer_id).select_related("touchpoint")


def event_list() -> QuerySet[Event]:
    return Event.objects.select_related("touchpoint")


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.all()


def segment_members(*, segment: Segment) -> QuerySet[Customer]:
    return customer_list().filter(memberships__segment=segment)


def segment_history(*, segment: Segment) -> QuerySet[SegmentSnapshot]:
    return segment.snapshots.all()


def segment_preview(*, rules: dict, now: datetime | None = None, sample_size: int = 10) -> dict:
    """How many customers a (validated) rule set matches now, with a few of them to eyeball."""
    matching = Customer.objects.filter(compile_rules(rules, now=now or timezone.now()))
    return {
        "count": matching.count(),
        "sample": list(matching.order_by("name", "id").values("id", "name", "email")[:sample_size]),
    }
