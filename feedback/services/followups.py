"""Follow-up items for unhappy survey answers, read off the customer event stream.

The surveys app records a "survey answered" event with `detractor` (NPS 0-6) or `dissatisfied`
(CSAT 1-2) in its data; feedback never imports surveys (DESIGN.md), it reads the events. The sweep
looks back over a week of such events and opens an item for each that has none yet: the item's
one-to-one link to its event makes a second look (or two sweeps at once) open nothing twice."""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q

from customers.models import Event, EventKind

from ..models import Channel, ItemKind, Priority

LOOKBACK = timedelta(days=7)


def follow_ups_open(*, now: datetime, lookback: timedelta = LOOKBACK) -> int:
    from .items import item_create

    unhappy = Q(data__detractor=True) | Q(data__dissatisfied=True)
    events = (
        Event.objects.filter(unhappy, kind=EventKind.SURVEY_ANSWERED, recorded_at__gte=now - lookback)
        .filter(follow_up_item__isnull=True)
        .select_related("customer")
        .order_by("recorded_at")[:1000]
    )
    opened = 0
    for event in events:
        scores = ", ".join(
            f"{kind.upper()} {score}" for kind, score in (event.data.get("scores") or {}).items()
        )
        try:
            with transaction.atomic():
                item = item_create(
                    data={
                        "kind": ItemKind.COMPLAINT,
                        "priority": Priority.HIGH,
                        "channel": Channel.EMAIL,
                        "customer": event.customer,
                        "touchpoint": event.touchpoint,
                        "subject": f"Follow up an unhappy survey answer ({scores or 'low score'})",
                        "description": "Opened automatically from a survey answer: call or write to the "
                        "customer, find out what went wrong, and put it right.",
                    },
                    now=now,
                )
                item.origin_event = event
                item.save(update_fields=["origin_event"])
        except IntegrityError:
            continue  # another sweep opened it first
        opened += 1
    return opened
