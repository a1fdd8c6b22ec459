"""The sender's statements per email: record how the last email went, and claim the next invitation.

Raw SQL on purpose: these run once per email, and building them through the ORM cost more than
running them (bench/campaign.py: ~4 ms per email went to Django assembling the claim-time lock and
the quarantine aggregate, ~0.7 ms to each update()). Their texts are built once per process; only
the parameters change per email. The rare path (a refused claim) stays in the ORM.

On PostgreSQL one round trip carries the whole of an email's commit (sending.py: one commit
records the last outcome and claims the next invitation), from BEGIN to COMMIT: psycopg's
client-side binding, Django's default, sends the statements as one simple query, which
PostgreSQL still runs one after another, each with a snapshot of its own taken when it starts.
(Inside a caller's transaction, as in the tests, BEGIN and COMMIT are the caller's.) And each
statement is prepared once per connection: planning them was half of PostgreSQL's work per
email, and their plans (look-ups by primary key and by customer) are the same for any
parameters. Not behind a transaction-pooling PgBouncer (DISABLE_SERVER_SIDE_CURSORS set, as Django
asks there), where a prepared statement would not follow the session: there they go as they are.

The claim, when a quarantine is in force (sending._claim_next says why it is judged at the claim):
1. Lock the customer's row, serialising the claims of one customer's invitations.
2. Claim with one conditional UPDATE: still queued, and no other invitation of the customer sent or
   being sent within the quarantine. Its own statement, after the lock's: under READ COMMITTED a
   statement sees what was committed before it started, so a look-up in the locking statement
   itself would miss a claim that another worker committed while we waited for the lock.
3. Only if that claims nothing: find out why, still under the lock. Quarantined: defer or hold
   back, as the campaign says. Not quarantined (any more): claim plainly, or it is skipped.
No quarantine (global and campaign both 0): no lock and no look-up, just the conditional UPDATE.

These commits are asynchronous on PostgreSQL (SET LOCAL synchronous_commit = off; setting
SURVEY_SEND_SYNCHRONOUS_COMMIT = True makes them wait again): sending.py's docstring says what
that trades.
"""

import re
from contextlib import suppress
from datetime import datetime, timedelta
from functools import cache
from weakref import WeakKeyDictionary

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from customers.models import Customer

from ..models import HeldBackReason, Invitation, InvitationStatus
from ..selectors import Quarantine

CLAIMED, SKIPPED, DEFERRED, HELD_BACK = "claimed", "skipped", "deferred", "held_back"
NO_QUARANTINE = Quarantine(0, 0)
INVITATIONS = Invitation._meta.db_table
CUSTOMERS = Customer._meta.db_table
FIELDS = {field.name: field for field in Invitation._meta.concrete_fields}

# Table and column names only are formatted into these texts; every value is a parameter, named
# (the statements of one round trip share one dict of parameters).
ASYNCHRONOUS_COMMIT = "SET LOCAL synchronous_commit = off"
LOCK_CUSTOMER = f"SELECT 1 FROM {CUSTOMERS} WHERE id = %(customer)s FOR UPDATE"  # noqa: S608
CLAIM = f"""UPDATE {INVITATIONS} SET status = %(sending)s, claimed_at = %(now)s, attempts = attempts + 1
    WHERE id = %(id)s AND status = %(queued)s"""  # noqa: S608
NOT_SURVEYED_SINCE = f"""NOT EXISTS (SELECT 1 FROM {INVITATIONS} other
    WHERE other.customer_id = %(customer)s AND other.id <> %(id)s
    AND (other.sent_at IS NOT NULL OR other.status = %(sending)s)
    AND ({{recent}}))"""  # noqa: S608
SURVEYED_SINCE = "COALESCE(other.sent_at, other.claimed_at) > %(any_since)s"
SURVEYED_HERE_SINCE = (
    "(other.campaign_id = %(campaign)s AND COALESCE(other.sent_at, other.claimed_at) > %(here_since)s)"
)

Outcome = tuple[Invitation, dict]  # an invitation whose email went out (or not), and what to record
Statement = tuple[str, dict]


def claim(invitation: Invitation, quarantine: Quarantine, *, record: Outcome | None = None) -> str:
    """Claim (queued -> sending) one invitation; CLAIMED, or why not: SKIPPED, DEFERRED, HELD_BACK.
    On CLAIMED, invitation.attempts is the count the database now holds. `record`: the previous
    invitation's outcome, recorded first in the same transaction (and round trip)."""
    guarded = bool(quarantine.global_days or quarantine.campaign_days)
    now = timezone.now()
    lock = [(LOCK_CUSTOMER, {"customer": invitation.customer_id})]
    if not guarded or not connection.features.has_select_for_update:  # SQLite: its write lock serialises
        lock = []
    statements = [*_commit_mode(), *([_record(*record)] if record else []), *lock]
    statements.append(_claim(invitation, quarantine, now))
    if _whole_transaction():
        if _claimed(invitation, _run(statements, whole=True)):
            return CLAIMED
        if not guarded:
            return SKIPPED
        # That transaction is over: look into the refusal under the customer's lock taken again.
        with transaction.atomic():
            _run(lock)
            return _refused(invitation, quarantine, timezone.now())
    # No savepoint: inside a caller's transaction a failure here undoes that whole transaction.
    with transaction.atomic(savepoint=False):
        if _claimed(invitation, _run(statements)):
            return CLAIMED
        return _refused(invitation, quarantine, now) if guarded else SKIPPED


def record(invitation: Invitation, **fields) -> None:
    """Record how an invitation's email went, in a transaction of its own (or the caller's)."""
    statements = [*_commit_mode(), _record(invitation, fields)]
    if _whole_transaction():
        _run(statements, whole=True)
        return
    with transaction.atomic(savepoint=False):
        _run(statements)


# --- the statements --------------------------------------------------------------------------


def _commit_mode() -> list[Statement]:
    if connection.vendor == "postgresql" and not getattr(settings, "SURVEY_SEND_SYNCHRONOUS_COMMIT", False):
        return [(ASYNCHRONOUS_COMMIT, {})]
    return []


def _record(invitation: Invitation, fields: dict) -> Statement:
    # Only from "sending": if the customer clicked the link before this ran, it is opened already.
    params = {f"r_{name}": FIELDS[name].get_db_prep_save(value, connection) for name, value in fields.items()}
    return _record_sql(tuple(fields)), params | {"r_id": invitation.pk, "r_sending": InvitationStatus.SENDING}


@cache
def _record_sql(names: tuple[str, ...]) -> str:
    columns = ", ".join(f"{FIELDS[name].column} = %(r_{name})s" for name in names)
    return f"UPDATE {INVITATIONS} SET {columns} WHERE id = %(r_id)s AND status = %(r_sending)s"  # noqa: S608


def _claim(invitation: Invitation, quarantine: Quarantine, now: datetime) -> Statement:
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "id": invitation.pk,
        "customer": invitation.customer_id,
        "campaign": invitation.campaign_id,
        "now": adapt(now),
        "queued": InvitationStatus.QUEUED,
        "sending": InvitationStatus.SENDING,
    }
    # Sent or claimed after now - days: what makes Quarantine.allowed_at(...) later than now.
    if quarantine.global_days:
        params["any_since"] = adapt(now - timedelta(days=quarantine.global_days))
    if quarantine.campaign_days:
        params["here_since"] = adapt(now - timedelta(days=quarantine.campaign_days))
    return _claim_sql(bool(quarantine.global_days), bool(quarantine.campaign_days)), params


@cache
def _claim_sql(global_quarantine: bool, campaign_quarantine: bool) -> str:
    recent = [SURVEYED_SINCE] * global_quarantine + [SURVEYED_HERE_SINCE] * campaign_quarantine
    if not recent:
        return f"{CLAIM} RETURNING attempts"
    return f"{CLAIM} AND {NOT_SURVEYED_SINCE.format(recent=' OR '.join(recent))} RETURNING attempts"


def _claimed(invitation: Invitation, row: tuple | None) -> bool:
    if row is None:
        return False
    invitation.attempts = row[0]
    return True


# --- running them ----------------------------------------------------------------------------


def _run(statements: list[Statement], *, whole: bool = False) -> tuple | None:
    """Run the statements in order (whole: as a transaction of their own, BEGIN to COMMIT); the
    row the last one returned, if any (a claim's attempts)."""
    with connection.cursor() as cursor:
        if not _client_side_binding():  # one by one (and never whole: see _whole_transaction)
            for sql, params in statements:
                cursor.execute(sql, params)
            return cursor.fetchone() if cursor.description else None
        if cursor.db.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
            texts = [sql for sql, _ in statements]
        else:
            texts = [_prepared(cursor, sql) for sql, _ in statements]
        if whole:
            texts = ["BEGIN", *texts, "COMMIT"]
        shared = {name: value for _, params in statements for name, value in params.items()}
        try:
            cursor.execute(";\n".join(texts), shared)
        except Exception:
            if whole:  # PostgreSQL keeps the failed transaction open until told to roll it back
                with suppress(Exception):
                    cursor.db.connection.rollback()
            raise
        for _ in range(len(statements) - 1 + whole):  # on to the result of the last statement
            cursor.nextset()
        return cursor.fetchone() if cursor.description else None


def _whole_transaction() -> bool:
    """Outside any transaction, on PostgreSQL: BEGIN and COMMIT go in the statements' round trip
    rather than in one each (a third of the time of an email's commit)."""
    return not connection.in_atomic_block and connection.get_autocommit() and _client_side_binding()


def _client_side_binding() -> bool:
    """PostgreSQL through psycopg's ClientCursor (Django's default; not with server_side_binding),
    which sends the statements of one execute() together."""
    if connection.vendor != "postgresql":
        return False
    import psycopg

    connection.ensure_connection()
    return issubclass(connection.connection.cursor_factory, psycopg.ClientCursor)


# Per PostgreSQL connection: a statement's text -> the EXECUTE of it prepared on that connection.
# (A prepared statement outlives a rolled-back transaction, so what is noted here stays true.)
_EXECUTES: WeakKeyDictionary = WeakKeyDictionary()
PARAMETER = re.compile(r"%\((\w+)\)s")
PARAMETER_COLUMN = {"now": "claimed_at", "any_since": "sent_at", "here_since": "sent_at"}
PARAMETER_COLUMN |= {"queued": "status", "sending": "status"}


def _prepared(cursor, sql: str) -> str:
    executes = _EXECUTES.setdefault(cursor.db.connection, {})
    if sql not in executes:
        names = list(dict.fromkeys(PARAMETER.findall(sql)))
        if not names:  # SET LOCAL: nothing to plan
            executes[sql] = sql
        else:
            name = f"cx_survey_send_{len(executes)}"
            body = PARAMETER.sub(lambda match: f"${names.index(match[1]) + 1}", sql)
            types = ", ".join(_parameter_type(parameter) for parameter in names)
            cursor.execute(f"PREPARE {name} ({types}) AS {body}")
            executes[sql] = f"EXECUTE {name} ({', '.join(f'%({parameter})s' for parameter in names)})"
    return executes[sql]


def _parameter_type(parameter: str) -> str:
    """The type of the column a parameter is compared with or assigned to ("r_sent_at": sent_at)."""
    name = parameter.removeprefix("r_")
    return FIELDS[PARAMETER_COLUMN.get(name, name)].db_type(connection)


# --- a refused claim -------------------------------------------------------------------------


def _refused(invitation: Invitation, quarantine: Quarantine, now: datetime) -> str:
    """The claim took nothing: the invitation is quarantined, or it is no longer queued (another
    worker has it, or it changed: unsubscribed, cancelled). Runs under the customer's lock."""
    surveyed_at = Coalesce("sent_at", "claimed_at")
    last = (
        Invitation.objects.filter(customer_id=invitation.customer_id)
        .exclude(pk=invitation.pk)
        .filter(Q(sent_at__isnull=False) | Q(status=InvitationStatus.SENDING))
        .aggregate(
            last_any=Max(surveyed_at),
            last_here=Max(surveyed_at, filter=Q(campaign_id=invitation.campaign_id)),
        )
    )
    allowed_at = quarantine.allowed_at(last["last_any"], last["last_here"])
    if allowed_at is None or allowed_at <= now:
        # Not quarantined as this look-up sees it (the claim failed on the status, or what held it
        # back has gone back to the queue since): the plain claim decides.
        return CLAIMED if _claimed(invitation, _run([_claim(invitation, NO_QUARANTINE, now)])) else SKIPPED
    queued = Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.QUEUED)
    if invitation.campaign.defer_held_back:
        deferred = queued.update(
            held_back_reason=HeldBackReason.QUARANTINED, send_after=allowed_at, dispatched_at=None
        )
        return DEFERRED if deferred else SKIPPED
    held_back = queued.update(
        status=InvitationStatus.HELD_BACK, held_back_reason=HeldBackReason.QUARANTINED, held_back_at=now
    )
    return HELD_BACK if held_back else SKIPPED
