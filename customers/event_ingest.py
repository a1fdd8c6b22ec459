"""Parse and validate incoming events (API bulk ingest, CSV import) into unsaved Event rows.

Written as plain checks rather than a serializer per row: a ModelSerializer costs ~9x more per
row, and a bulk call carries up to tens of thousands of events. The messages name the field the
way the API's serializers do, so callers see one error format.
"""

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .models import Customer, Event, EventKind, Touchpoint

KINDS = frozenset(EventKind.values)
MAX_EXTERNAL_ID = Event._meta.get_field("external_id").max_length
AMOUNT_LIMIT = Decimal(10) ** 12  # max_digits 14, 2 of them decimals


class EventBatchInvalid(Exception):
    """Raised with {position: {field: [messages]}} for every bad event of the batch."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]):
        super().__init__(f"{len(errors)} invalid events")
        self.errors = errors


def _chunks(values: list, size: int = 900):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _as_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _parse_time(value, default_tz) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = parse_datetime(value.strip())
        except ValueError:
            return None
        if moment is None:
            return None
    else:
        return None
    return timezone.make_aware(moment, default_tz) if timezone.is_naive(moment) else moment


def parse_events(items: list) -> list[Event]:
    """Turn a list of event payloads into Event objects, or raise EventBatchInvalid.

    Each payload: customer (id) or customer_external_id, kind, occurred_at (ISO 8601; naive
    times are read in the platform's time zone; default now), touchpoint (id), amount (needed
    for purchases), data (object), external_id (for idempotent resends).
    """
    errors: dict[int, dict[str, list[str]]] = {}

    def fail(pos: int, name: str, message: str) -> None:
        errors.setdefault(pos, {}).setdefault(name, []).append(message)

    # Resolve every referenced customer and touchpoint in a few queries, not one per event.
    ids, external_ids, touchpoint_ids = set(), set(), set()
    for item in items:
        if isinstance(item, dict):
            if item.get("customer") is not None:
                if (cid := _as_int(item["customer"])) is not None:
                    ids.add(cid)
            elif isinstance(item.get("customer_external_id"), str):
                external_ids.add(item["customer_external_id"])
            if (tid := _as_int(item.get("touchpoint"))) is not None:
                touchpoint_ids.add(tid)
    known_ids = set()
    for chunk in _chunks(sorted(ids)):
        known_ids.update(Customer.objects.filter(pk__in=chunk).values_list("pk", flat=True))
    by_external_id = {}
    for chunk in _chunks(sorted(external_ids)):
        by_external_id.update(Customer.objects.filter(external_id__in=chunk).values_list("external_id", "pk"))
    known_touchpoints = set(Touchpoint.objects.filter(pk__in=touchpoint_ids).values_list("pk", flat=True))

    now = timezone.now()
    default_tz = timezone.get_current_timezone()
    seen_external_ids: dict[str, int] = {}
    events = []
    for pos, item in enumerate(items):
        if not isinstance(item, dict):
            fail(pos, "non_field_errors", "Each event must be a JSON object.")
            continue
        customer_id = None
        if item.get("customer") is not None:
            customer_id = _as_int(item["customer"])
            if customer_id is None:
                fail(pos, "customer", "Must be a customer id (a whole number).")
            elif customer_id not in known_ids:
                fail(pos, "customer", f"Unknown customer {customer_id}.")
        elif item.get("customer_external_id") is not None:
            customer_id = by_external_id.get(item["customer_external_id"])
            if customer_id is None:
                fail(
                    pos,
                    "customer_external_id",
                    f"No customer has external id {item['customer_external_id']!r}.",
                )
        else:
            fail(pos, "customer", "This field is required (or give customer_external_id).")

        kind = item.get("kind")
        if kind not in KINDS:
            fail(pos, "kind", f"{kind!r} is not a known event kind; one of: {', '.join(sorted(KINDS))}.")

        occurred_at = now
        if item.get("occurred_at") is not None:
            occurred_at = _parse_time(item["occurred_at"], default_tz)
            if occurred_at is None:
                fail(pos, "occurred_at", "Must be an ISO 8601 date and time, e.g. 2026-05-01T14:30:00Z.")

        touchpoint_id = None
        if item.get("touchpoint") is not None:
            touchpoint_id = _as_int(item["touchpoint"])
            if touchpoint_id is None or touchpoint_id not in known_touchpoints:
                fail(pos, "touchpoint", f"Unknown touchpoint {item['touchpoint']!r}.")

        amount = None
        if item.get("amount") not in (None, ""):
            try:
                amount = Decimal(str(item["amount"]))
                if not amount.is_finite() or amount < 0 or amount >= AMOUNT_LIMIT:
                    raise InvalidOperation
                amount = amount.quantize(Decimal("0.01"))
            except (InvalidOperation, ValueError):
                fail(pos, "amount", "Must be an amount of 0 or more, e.g. 1499.90.")
        elif kind == EventKind.PURCHASE:
            fail(pos, "amount", "A purchase needs an amount.")

        data = item.get("data") or {}
        if not isinstance(data, dict):
            fail(pos, "data", "Must be a JSON object.")

        external_id = item.get("external_id") or None
        if external_id is not None:
            if not isinstance(external_id, str) or len(external_id) > MAX_EXTERNAL_ID:
                fail(pos, "external_id", f"Must be text of at most {MAX_EXTERNAL_ID} characters.")
            elif external_id in seen_external_ids:
                fail(
                    pos,
                    "external_id",
                    f"Repeats the external id of event {seen_external_ids[external_id]} in this batch.",
                )
            else:
                seen_external_ids[external_id] = pos

        if pos not in errors:
            events.append(
                Event(
                    customer_id=customer_id,
                    kind=kind,
                    occurred_at=occurred_at,
                    touchpoint_id=touchpoint_id,
                    amount=amount,
                    data=data,
                    external_id=external_id,
                    recorded_at=now,
                )
            )
    if errors:
        raise EventBatchInvalid(errors)
    return events
