"""Writes of the customers app. Every function is keyword-only, atomic, and validates before saving."""

import json
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from .models import (
    ClientType,
    Customer,
    Event,
    EventKind,
    LifecycleStageChange,
    Segment,
    SegmentMembership,
    SegmentSnapshot,
    Touchpoint,
)
from .segment_rules import compile_rules

CUSTOMER_FIELDS = (
    "name",
    "email",
    "phone",
    "company",
    "external_id",
    "client_type",
    "lifecycle_stage",
    "service_class",
    "survey_consent",
    "survey_consent_channel",
    "language",
    "attributes",
)


def _apply(instance, data: dict, fields: tuple[str, ...]):
    for name in fields:
        if name in data:
            setattr(instance, name, data[name])
    instance.full_clean()
    instance.save()
    return instance


# --- reference data ------------------------------------------------------------------------------


@transaction.atomic
def client_type_save(*, client_type: ClientType | None = None, data: dict) -> ClientType:
    return _apply(client_type or ClientType(), data, ("slug", "name", "guidance"))


@transaction.atomic
def client_type_delete(*, client_type: ClientType) -> None:
    """Delete a type of the CX lead's own; one still given to customers raises ProtectedError."""
    if client_type.is_builtin:
        # The five types of the method are what staff are trained on; their guidance is editable.
        raise ValidationError(
            {"slug": "A built-in client type cannot be deleted; edit its guidance instead."}
        )
    client_type.delete()


@transaction.atomic
def touchpoint_save(*, touchpoint: Touchpoint | None = None, data: dict) -> Touchpoint:
    fields = ("name", "kind", "journey_stage", "description", "is_active")
    return _apply(touchpoint or Touchpoint(), data, fields)


# --- customers -------------------------------------------------------------------------------------


@transaction.atomic
def customer_create(
    *, data: dict, by=None, customer: Customer | None = None, at: datetime | None = None
) -> Customer:
    """Create a customer (into `customer`, an unsaved instance, when the admin form made one);
    `at` is when they entered their first stage, for history imported from elsewhere."""
    customer = customer or Customer()
    customer.lifecycle_stage_changed_at = at or timezone.now()
    customer = _apply(customer, data, CUSTOMER_FIELDS)
    # The customer's entry into the funnel is its first stage change.
    _record_stage_change(customer, from_stage="", by=by, at=customer.lifecycle_stage_changed_at)
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, data: dict, by=None, at: datetime | None = None) -> Customer:
    """Update a customer; a change of lifecycle stage is recorded (at `at`, default now)."""
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    previous_stage = locked.lifecycle_stage
    _apply(locked, data, CUSTOMER_FIELDS)
    if locked.lifecycle_stage != previous_stage:
        locked.lifecycle_stage_changed_at = at or timezone.now()
        locked.save(update_fields=["lifecycle_stage_changed_at"])
        _record_stage_change(locked, from_stage=previous_stage, by=by, at=locked.lifecycle_stage_changed_at)
    return locked


def customer_change_stage(*, customer: Customer, stage: str, by=None, at: datetime | None = None) -> Customer:
    return customer_update(customer=customer, data={"lifecycle_stage": stage}, by=by, at=at)


def _record_stage_change(customer: Customer, *, from_stage: str, by=None, at=None) -> None:
    at = at or timezone.now()
    change = LifecycleStageChange.objects.create(
        customer=customer,
        from_stage=from_stage,
        to_stage=customer.lifecycle_stage,
        changed_at=at,
        changed_by=by if by is not None and by.is_authenticated else None,
    )
    Event.objects.create(
        customer=customer,
        kind=EventKind.STAGE_CHANGED,
        occurred_at=at,
        data={"from": from_stage, "to": customer.lifecycle_stage},
        external_id=f"stage-change:{change.pk}",
    )


# --- events ------------------------------------------------------------------------------------------


@dataclass
class IngestResult:
    created: int = 0
    duplicates: int = 0


# Above this many events PostgreSQL takes them by COPY (~4x bulk INSERT); smaller batches use
# bulk_create, which also sets each Event's pk (the single-event API answer needs it).
COPY_THRESHOLD = 1000
EVENT_COPY_COLUMNS = ("customer_id", "kind", "occurred_at", "touchpoint_id", "amount", "data", "external_id")


@transaction.atomic
def events_record(*, events: list[Event], batch_size: int = 2000) -> IngestResult:
    """Store already-validated events (see customers.event_ingest), all or none.

    An event whose external_id is already stored is a resend and is skipped, so a client that
    retries a batch after a timeout does not double-count purchases.
    """
    keyed = [e.external_id for e in events if e.external_id]
    existing = set()
    for start in range(0, len(keyed), 900):  # SQLite caps the number of query parameters
        chunk = keyed[start : start + 900]
        existing.update(Event.objects.filter(external_id__in=chunk).values_list("external_id", flat=True))
    fresh = [e for e in events if not e.external_id or e.external_id not in existing]
    if connection.vendor == "postgresql" and len(fresh) >= COPY_THRESHOLD:
        _copy_events(fresh)
    else:
        Event.objects.bulk_create(fresh, batch_size=batch_size)
    return IngestResult(created=len(fresh), duplicates=len(events) - len(fresh))


def _copy_events(events: list[Event]) -> None:
    recorded_at = timezone.now()
    columns = ", ".join((*EVENT_COPY_COLUMNS, "recorded_at"))
    copy_sql = f"COPY {Event._meta.db_table} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
        for e in events:
            copy.write_row(
                (
                    e.customer_id,
                    e.kind,
                    e.occurred_at,
                    e.touchpoint_id,
                    e.amount,
                    json.dumps(e.data, cls=DjangoJSONEncoder),
                    e.external_id,
                    recorded_at,
                )
            )


@transaction.atomic
def event_save(*, event: Event) -> Event:
    """Store or correct one event typed in by staff."""
    event.full_clean()
    event.save()
    return event


def event_record(
    *,
    customer: Customer,
    kind: str,
    occurred_at: datetime | None = None,
    touchpoint: Touchpoint | None = None,
    amount=None,
    data: dict | None = None,
    external_id: str | None = None,
) -> Event:
    """Record one event; with an external_id, recording it again returns the stored one.

    Other apps call this to put their happenings on the customer's timeline (the spine).
    """
    # No savepoint: other apps call this inside their own writes (logging an item records its
    # event), and it is two round trips per call; a failure here fails the caller's transaction.
    with transaction.atomic(savepoint=False):
        if external_id:
            stored = Event.objects.filter(external_id=external_id).first()
            if stored:
                return stored
        event = Event(
            customer=customer,
            kind=kind,
            occurred_at=occurred_at or timezone.now(),
            touchpoint=touchpoint,
            amount=amount,
            data=data or {},
            external_id=external_id or None,
        )
        # The customer and touchpoint arrive as loaded objects, and the external id was looked up
        # just above (its unique constraint guards a race): re-checking them would be three more
        # queries on every event other apps record.
        event.full_clean(exclude=["customer", "touchpoint"], validate_unique=False)
        event.save()
        return event


# --- segments ------------------------------------------------------------------------------------------


@transaction.atomic
def segment_save(*, segment: Segment | None = None, data: dict) -> Segment:
    segment = segment or Segment()
    before = (
        Segment.objects.filter(pk=segment.pk).values("rules", "is_active").first() if segment.pk else None
    )
    segment = _apply(segment, data, ("name", "description", "rules", "is_active"))
    # Membership depends on the rules alone: renaming or describing a segment recomputes nothing.
    if before is None or before["rules"] != segment.rules or (segment.is_active and not before["is_active"]):
        segment_request_refresh(segment=segment)
    return segment


def segment_request_refresh(*, segment: Segment) -> None:
    """Recompute membership in the worker once the current transaction has committed."""
    from .tasks import segment_refresh_task

    transaction.on_commit(lambda: segment_refresh_task.delay(segment.pk))


@transaction.atomic
def segment_refresh(*, segment_id: int, now: datetime | None = None) -> SegmentSnapshot:
    """Bring membership in line with the rules, set-based, and log the size.

    The matching customers are computed once into a temporary table (the rules' query is the
    expensive part), then members who no longer match are deleted and new ones inserted from it.
    Members who still match keep their row and their added_at; the lock on the segment row makes
    concurrent refreshes of one segment take turns instead of racing.
    """
    now = now or timezone.now()
    segment = Segment.objects.select_for_update().get(pk=segment_id)
    # Aliased, because databases name a qualified column differently inside a derived table.
    matching = (
        Customer.objects.filter(compile_rules(segment.rules, now=now)).order_by().values(member_id=F("pk"))
    )
    matching_sql, params = matching.query.sql_with_params()
    members = SegmentMembership._meta.db_table
    scratch = f"segment_refresh_{segment.pk}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {scratch} AS {matching_sql}", params)
        try:
            cursor.execute(f"SELECT COUNT(*) FROM {scratch}")  # noqa: S608
            member_count = cursor.fetchone()[0]
            cursor.execute(
                f"DELETE FROM {members} WHERE segment_id = %s AND NOT EXISTS "  # noqa: S608
                f"(SELECT 1 FROM {scratch} m WHERE m.member_id = {members}.customer_id)",
                [segment.pk],
            )
            removed = max(cursor.rowcount, 0)
            cursor.execute(
                f"INSERT INTO {members} (segment_id, customer_id, added_at) "  # noqa: S608
                # "WHERE true" keeps SQLite from reading ON CONFLICT as part of the SELECT.
                f"SELECT %s, m.member_id, %s FROM {scratch} m WHERE true "
                f"ON CONFLICT (segment_id, customer_id) DO NOTHING",
                [segment.pk, now],
            )
            added = max(cursor.rowcount, 0)
        finally:
            cursor.execute(f"DROP TABLE {scratch}")

    segment.member_count = member_count
    segment.refreshed_at = now
    segment.save(update_fields=["member_count", "refreshed_at"])
    return SegmentSnapshot.objects.create(
        segment=segment, computed_at=now, member_count=member_count, added=added, removed=removed
    )
