"""Building a run's invitations: one INSERT ... SELECT, so the rows never travel to Python.

Why in the database: a run of 100,000 customers spent 18-26 s in bulk_create's per-object Python
work (building model instances, tokens, adapting every value), against about 3 s for the same rows
made by one `INSERT ... SELECT` (bench/campaign.py). The eligibility query, the status a row starts
in, and its token are all expressions, so the statement is composed by the ORM and only wrapped in
`INSERT INTO ... (columns)` here. Tokens come from the database's strong random source
(`NewToken`), with the same format as `new_token()`.
"""

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import BigIntegerField, DateTimeField, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Cast

from customers.models import Customer, Event

from ..models import Campaign, HeldBackReason, Invitation, InvitationStatus, NewToken
from ..selectors import ELIGIBLE, quarantine_ends, with_eligibility

DEFER_BATCH = 5000  # deferred invitations whose first allowed date is looked up at a time

# The columns written, in the order of the SELECT list in _insert; the other timestamps stay NULL.
COLUMNS = (
    "campaign_id",
    "customer_id",
    "wave",
    "trigger_event_id",
    "language",
    "held_back_reason",
    "send_after",
    "status",
    "held_back_at",
    "token",
    "queued_at",
    "attempts",
    "reminders_sent",
    "last_error",
)


def invitations_build(*, campaign: Campaign, customers: QuerySet[Customer], wave: int, now: datetime) -> int:
    """One invitation per customer of a run (wave), each queued, deferred, or held back with its
    reason; returns how many were made. Building the same wave again makes none twice."""
    # Not ON CONFLICT DO NOTHING: its speculative insertion into every unique index cost 1.2 s of
    # 4 s for 100,000 rows. The campaign's row lock (campaign_run) serialises builds of a wave, so
    # leaving out who has this wave's invitation already is enough; the constraint still stands.
    invited = Invitation.objects.filter(campaign=campaign, wave=wave, trigger_event__isnull=True)
    customers = customers.exclude(pk__in=invited.values("customer_id"))
    source = with_eligibility(customers, campaign, now).annotate(
        invitee=F("pk"),
        event=Cast(None, output_field=BigIntegerField()),  # typed: an untyped NULL in a subquery is text
        due=Value(now, output_field=DateTimeField()),
    )
    return _insert(campaign, source, wave=wave, now=now)


def invitations_build_triggered(*, campaign: Campaign, events: QuerySet[Event], now: datetime) -> int:
    """One invitation per triggering event not invited yet, due the campaign's delay after the event
    happened. The caller holds the campaign's row lock (campaign_scan_events)."""
    events = events.exclude(pk__in=Invitation.objects.filter(campaign=campaign).values("trigger_event_id"))
    eligibility = with_eligibility(Customer.objects.filter(pk=OuterRef("customer_id")), campaign, now)
    source = events.annotate(
        invitee=F("customer_id"),
        event=F("pk"),
        language=F("customer__language"),
        held_back=Subquery(eligibility.values("held_back")[:1]),
        due=F("occurred_at") + Value(timedelta(minutes=campaign.trigger_delay_minutes)),
    )
    return _insert(campaign, source, wave=1, now=now)


def _insert(campaign: Campaign, source: QuerySet, *, wave: int, now: datetime) -> int:
    """source: rows annotated with invitee, event, language, held_back and due (see the callers).

    The status and the held-back moment are computed around the source query, not as ORM
    annotations of it: Django inlines an annotation wherever it is referenced, so each would
    evaluate the whole eligibility CASE again per row."""
    inner, inner_params = (
        source.order_by().values("invitee", "event", "language", "held_back", "due").query.sql_with_params()
    )
    waiting = [ELIGIBLE]  # these start queued; the other reasons start held back
    if campaign.defer_held_back:
        waiting.append(HeldBackReason.QUARANTINED)  # queued for the first allowed date (below)
    ops = connection.ops
    token, token_params = source.query.get_compiler(connection=connection).compile(NewToken())
    moment = ops.adapt_datetimefield_value(now)
    starts_queued = f"s.held_back IN ({', '.join(['%s'] * len(waiting))})"
    # Only placeholders and SQL the ORM compiled are interpolated; every value is a parameter.
    select = f"""
        SELECT %s, s.invitee, %s, s.event, s.language, s.held_back, s.due,
            CASE WHEN {starts_queued} THEN %s ELSE %s END,
            CASE WHEN {starts_queued} THEN NULL ELSE %s END,
            {token}, %s, 0, 0, ''
        FROM ({inner}) s"""  # noqa: S608
    params = (
        campaign.pk,
        wave,
        *waiting,
        InvitationStatus.QUEUED,
        InvitationStatus.HELD_BACK,
        *waiting,
        moment,
        *token_params,
        moment,
        *inner_params,
    )
    table, columns = ops.quote_name(Invitation._meta.db_table), ", ".join(map(ops.quote_name, COLUMNS))
    statement = f"INSERT INTO {table} ({columns}) {select}"  # noqa: S608 - names and compiled SQL only
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            made = cursor.rowcount
        if campaign.defer_held_back:
            _defer_to_allowed_date(campaign, now)
    from .sending import invitations_dispatch

    transaction.on_commit(lambda: invitations_dispatch(campaign_id=campaign.pk))
    return made


def _defer_to_allowed_date(campaign: Campaign, now: datetime) -> None:
    """Queued-but-quarantined invitations just made wait for each customer's first allowed date,
    looked up for those customers only and a batch at a time."""
    deferred = Invitation.objects.filter(
        campaign=campaign,
        queued_at=now,
        status=InvitationStatus.QUEUED,
        held_back_reason=HeldBackReason.QUARANTINED,
    ).only("pk", "customer_id", "send_after")
    last = 0
    # Keyset pages rather than a cursor held open across the updates (SQLite would read the rows
    # it is changing).
    while batch := list(deferred.filter(pk__gt=last).order_by("pk")[:DEFER_BATCH]):
        _move_send_after(batch, campaign, now)
        last = batch[-1].pk


def _move_send_after(invitations: list[Invitation], campaign: Campaign, now: datetime) -> None:
    ends = quarantine_ends([i.customer_id for i in invitations], campaign, now)
    for invitation in invitations:
        invitation.send_after = max(invitation.send_after, ends.get(invitation.customer_id, now))
    Invitation.objects.bulk_update(invitations, ["send_after"], batch_size=1000)
