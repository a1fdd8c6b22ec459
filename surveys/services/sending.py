"""Sending invitations and reminders, and the sweep that keeps the ledger honest.

How a message goes out, and why it is neither lost nor doubled when a worker dies:
- Nothing waits in the broker for a future moment. Deferred invitations, delayed triggers and
  reminders are rows with a due time; the sweep (beat, every minute) hands out whatever is due.
  A Celery countdown/ETA longer than Redis's visibility timeout would run twice, and one in a
  killed worker's prefetch would be gone; a row in the database is neither.
- The sweep hands out due invitations in chunks of ids (one task per chunk) and stamps them
  `dispatched_at`. A chunk whose task was lost with a killed worker is handed out again once the
  stamp is older than SURVEY_REDISPATCH_SECONDS; handing out twice is harmless (next point).
- A worker claims each invitation alone, with one conditional UPDATE (queued -> sending), right
  before its email goes out, and marks it sent right after (in the same commit as the next claim).
  Two workers never send the same one.
- One killed between the claim and the mark leaves it "sending". The sweep puts such invitations
  back in the queue after SURVEY_SENDING_STALE_SECONDS; the resend carries the same Message-ID.
  So the only message that can arrive twice is the one in flight at the moment of the kill, and
  it is recognisably the same message. Celery's `acks_late` is not needed for any of this.
- On PostgreSQL those claim-and-mark commits are asynchronous (synchronous_commit off for them
  alone; claims.py): the worker does not wait for the WAL flush (on the bench machine from 0.3 ms
  to over 2 ms per email, with whatever else writes to the disk). A killed worker changes nothing
  above: PostgreSQL has every commit it acknowledged. A crash of PostgreSQL itself (or of its
  machine) can lose the last fraction of a second of them (up to 3 x wal_writer_delay): those
  invitations come back queued or "sending", and the sweep sends them again, with the same
  Message-ID, as after a killed worker. So such a crash can deliver that fraction of a second's
  emails twice; and a customer whose lost claim was all that quarantined a second invitation may
  get that one too. With SURVEY_SEND_SYNCHRONOUS_COMMIT = True every commit waits for the disk.
"""

import logging
import smtplib
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import DatabaseError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from customers.models import Customer

from ..models import OPEN_STATUSES, PENDING_STATUSES, Campaign, Invitation, InvitationStatus
from ..selectors import ELIGIBLE, Quarantine, invitations_due, with_eligibility
from . import claims
from .mail import InvitationEmails, send

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
DISPATCH_FETCH = 5000  # due ids fetched at a time while handing out
INVITATION_FIELDS = [field.name for field in Invitation._meta.concrete_fields]


def _send_chunk() -> int:
    return settings.SURVEY_SEND_CHUNK


# --- handing out -------------------------------------------------------------------------------


def invitations_dispatch(*, campaign_id: int | None = None, now: datetime | None = None) -> int:
    """Hand every due, not recently handed-out invitation to a sending task, a chunk per task."""
    from ..tasks import invitations_send_task

    now = now or timezone.now()
    handed_out_before = now - timedelta(seconds=settings.SURVEY_REDISPATCH_SECONDS)
    due = invitations_due(now).filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=handed_out_before))
    if campaign_id is not None:
        due = due.filter(campaign_id=campaign_id)
    # One streamed pass over the due ids, not a query per chunk: the planner's statistics predate a
    # new campaign, so each such query scanned all of the campaign's invitations (quadratic: 20 s
    # for 100,000). Stamping the rows already read does not disturb the pass.
    pending = due.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=DISPATCH_FETCH)
    count = 0
    while ids := list(islice(pending, _send_chunk())):
        Invitation.objects.filter(pk__in=ids).update(dispatched_at=now)
        invitations_send_task.delay(ids)
        count += len(ids)
    return count


def reminders_dispatch(*, now: datetime | None = None) -> int:
    """Hand out due reminders as (id, reminders already sent) pairs: a task delivered twice finds
    the count moved on and sends nothing the second time."""
    from ..tasks import invitations_remind_task

    now = now or timezone.now()
    due = Invitation.objects.filter(status__in=OPEN_STATUSES, next_reminder_at__lte=now)
    pending = due.order_by("pk").values_list("pk", "reminders_sent").iterator(chunk_size=DISPATCH_FETCH)
    count = 0
    while pairs := list(islice(pending, _send_chunk())):  # one pass, as in invitations_dispatch
        # Not due again until a lost task would be handed out again.
        later = now + timedelta(seconds=settings.SURVEY_REDISPATCH_SECONDS)
        Invitation.objects.filter(pk__in=[pk for pk, _ in pairs]).update(next_reminder_at=later)
        invitations_remind_task.delay([list(pair) for pair in pairs])
        count += len(pairs)
    return count


# --- sending -------------------------------------------------------------------------------------


def invitations_send(*, invitation_ids: list[int]) -> dict:
    """Send the chunk's invitations that are still queued, one claim and one email at a time."""
    counts = defaultdict(int)
    invitations = list(
        Invitation.objects.filter(pk__in=invitation_ids, status=InvitationStatus.QUEUED)
        .select_related("customer")
        .only(*INVITATION_FIELDS, "customer__name", "customer__email")  # what the email needs
        .order_by("pk")
    )
    # One campaign object per campaign, so per-campaign reads (quarantine, subject) are shared, and
    # the chunk does not build a copy of the same campaign for each of its invitations.
    campaigns = Campaign.objects.in_bulk({invitation.campaign_id for invitation in invitations})
    for invitation in invitations:
        invitation.campaign = campaigns[invitation.campaign_id]
    pending = iter(_apply_contact_policy(invitations, timezone.now(), counts))
    connection, emails = get_connection(), InvitationEmails()
    try:
        current = _claim_next(pending, counts)
        while current is not None:
            outcome, fields = _deliver(current, emails, connection)
            counts[outcome] += 1
            # One commit (and on PostgreSQL one round trip: claims.py) records this one's outcome and
            # claims the next: half the commits of marking and claiming apart, and still never
            # more than one invitation claimed and not marked.
            try:
                following = _claim_next(pending, counts, record=(current, fields))
            except DatabaseError:
                # The claim failed (e.g. a lock timeout) and took the outcome down with it: record
                # the outcome alone, or the email just sent would be sent again after the sweep.
                claims.record(current, **fields)
                raise
            current = following
    finally:
        connection.close()
    return dict(counts)


def _apply_contact_policy(invitations: list[Invitation], now: datetime, counts) -> list[Invitation]:
    """Check consent, opt-out and an address again at send time: a deferred invitation comes due
    weeks later, and the customer may have changed their mind in between."""
    by_campaign = defaultdict(list)
    for invitation in invitations:
        by_campaign[invitation.campaign_id].append(invitation)
    sendable = []
    for group in by_campaign.values():
        campaign = group[0].campaign
        if campaign.status == Campaign.Status.FINISHED:
            continue  # stopped while the chunk waited; campaign_stop cancels what is queued
        # Quarantine is left to the claim (_claim_next): it must be judged under the
        # customer's lock anyway, and here it would cost a pass over every recent invitation.
        verdicts = dict(
            with_eligibility(
                Customer.objects.filter(pk__in={i.customer_id for i in group}),
                campaign,
                now,
                quarantine=False,
            ).values_list("pk", "held_back")
        )
        for invitation in group:
            reason = verdicts[invitation.customer_id]
            if reason == ELIGIBLE:
                sendable.append(invitation)
            else:
                Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.QUEUED).update(
                    status=InvitationStatus.HELD_BACK, held_back_reason=reason, held_back_at=now
                )
                counts["held_back"] += 1
    return sendable


def _claim_next(
    pending: Iterator[Invitation], counts, record: claims.Outcome | None = None
) -> Invitation | None:
    """Claim (queued -> sending) the next invitation that is still queued, right before its email,
    after recording `record` (the last one's outcome) in the same round trip.
    The quarantine is judged here, under the customer's lock (claims.py): two invitations of one
    customer due together (two deferred campaigns, in one chunk or in two workers) must not both go
    out. Whoever claims second sees the first as sending or sent, and defers or holds back."""
    for invitation in pending:
        outcome = claims.claim(invitation, _quarantine_of(invitation.campaign), record=record)
        record = None
        if outcome == claims.CLAIMED:
            return invitation
        counts[outcome] += 1  # skipped: another worker has it, or it changed (unsubscribed, cancelled)
    if record is not None:  # nothing left to claim
        claims.record(record[0], **record[1])
    return None


def _quarantine_of(campaign: Campaign) -> Quarantine:
    # Read once per chunk and kept on the campaign object the chunk's invitations share: a policy
    # query per email would be a query more per email for the same answer.
    if not hasattr(campaign, "_quarantine"):
        campaign._quarantine = Quarantine.of(campaign)
    return campaign._quarantine


def _keep_open(connection) -> None:
    """One SMTP session for a whole chunk: send() on a connection not yet open opens one and closes
    it again, a TCP connect, EHLO and QUIT per email. Reopens after a failure closed it. Not for the
    file backend: its open() would write the whole chunk into one file, and a person opens them one
    by one in var/mail/."""
    if isinstance(connection, SMTPBackend):
        connection.open()


def _deliver(invitation: Invitation, emails: InvitationEmails, connection) -> tuple[str, dict]:
    """Send a claimed invitation's email; returns the outcome and the ledger fields to record."""
    invitation.expires_at = timezone.now() + timedelta(days=invitation.campaign.expires_after_days)
    try:
        _keep_open(connection)
        send(emails.email(invitation, connection=connection), connection)
    except smtplib.SMTPRecipientsRefused as exc:
        fields = {"status": InvitationStatus.BOUNCED, "bounced_at": timezone.now()}
        return "bounced", fields | {"last_error": str(exc)[:2000]}
    except Exception as exc:  # noqa: BLE001 - any transport failure: retry later, then give up
        log.warning("survey invitation %s: sending failed: %s", invitation.pk, exc)
        connection.close()  # a broken SMTP session is reopened by the next send
        if invitation.attempts >= MAX_ATTEMPTS:
            fields = {"status": InvitationStatus.FAILED, "failed_at": timezone.now()}
            return "failed", fields | {"last_error": str(exc)[:2000]}
        retry_at = timezone.now() + timedelta(minutes=5 * 3 ** (invitation.attempts - 1))
        return "retry", {
            "status": InvitationStatus.QUEUED,
            "send_after": retry_at,
            "dispatched_at": None,
            "last_error": str(exc)[:2000],
        }
    sent_at = timezone.now()
    return "sent", {
        "status": InvitationStatus.SENT,
        "sent_at": sent_at,
        "expires_at": invitation.expires_at,
        "next_reminder_at": _first_reminder_at(invitation.campaign, sent_at),
        "last_error": "",
    }


def _first_reminder_at(campaign: Campaign, sent_at: datetime) -> datetime | None:
    if not campaign.reminder_count:
        return None
    return sent_at + timedelta(days=campaign.reminder_every_days)


def invitations_remind(*, reminders: list[list[int]]) -> dict:
    """Send the n-th reminder of each (invitation id, reminders sent when handed out) pair, to
    invitations still unanswered. Claimed by moving the count, so at most once per reminder."""
    counts = defaultdict(int)
    expected = dict(map(tuple, reminders))
    invitations = Invitation.objects.filter(pk__in=expected, status__in=OPEN_STATUSES).select_related(
        "customer", "campaign"
    )
    connection, emails = get_connection(), InvitationEmails()
    try:
        for invitation in invitations:
            campaign, sent = invitation.campaign, expected[invitation.pk]
            if sent >= campaign.reminder_count or campaign.status == Campaign.Status.FINISHED:
                Invitation.objects.filter(pk=invitation.pk).update(next_reminder_at=None)
                continue
            now = timezone.now()
            number = sent + 1
            following = (
                now + timedelta(days=campaign.reminder_every_days)
                if number < campaign.reminder_count
                else None
            )
            claimed = Invitation.objects.filter(
                pk=invitation.pk, status__in=OPEN_STATUSES, reminders_sent=sent
            ).update(reminders_sent=number, next_reminder_at=following)
            if not claimed:
                counts["skipped"] += 1
                continue
            try:
                _keep_open(connection)
                send(emails.email(invitation, reminder=number, connection=connection), connection)
                counts["reminded"] += 1
            except Exception as exc:  # noqa: BLE001 - a reminder is a courtesy: log, never retry twice
                log.warning("survey invitation %s: reminder %s failed: %s", invitation.pk, number, exc)
                connection.close()
                counts["failed"] += 1
    finally:
        connection.close()
    return dict(counts)


# --- the sweep -------------------------------------------------------------------------------------


def survey_sweep(*, now: datetime | None = None) -> dict:
    """The periodic pass (beat, every minute), all set-based: put back what a dead worker left
    "sending", expire what was not answered in time, start due runs, look for triggering events,
    hand out due invitations and reminders, and finish one-off campaigns with nothing left to do."""
    from ..tasks import campaign_run_task
    from .campaigns import campaign_scan_events

    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.SURVEY_SENDING_STALE_SECONDS)
    report = {
        "requeued": Invitation.objects.filter(status=InvitationStatus.SENDING, claimed_at__lt=stale).update(
            status=InvitationStatus.QUEUED, dispatched_at=None
        ),
        "expired": Invitation.objects.filter(status__in=OPEN_STATUSES, expires_at__lte=now).update(
            status=InvitationStatus.EXPIRED, expired_at=now, next_reminder_at=None
        ),
    }
    live = (Campaign.Status.SCHEDULED, Campaign.Status.RUNNING)
    due_runs = list(
        Campaign.objects.filter(status__in=live, next_run_at__lte=now).values_list("pk", flat=True)
    )
    for campaign_id in due_runs:
        campaign_run_task.delay(campaign_id)
    report["runs_started"] = len(due_runs)
    triggered = Campaign.objects.filter(status=Campaign.Status.RUNNING, kind=Campaign.Kind.EVENT_TRIGGERED)
    report["triggered"] = sum(
        campaign_scan_events(campaign_id=pk, now=now) for pk in triggered.values_list("pk", flat=True)
    )
    report["dispatched"] = invitations_dispatch(now=now)
    report["reminders"] = reminders_dispatch(now=now)
    unfinished = Invitation.objects.filter(
        campaign=OuterRef("pk"), status__in=(*PENDING_STATUSES, *OPEN_STATUSES)
    )
    report["finished"] = (
        Campaign.objects.filter(
            status=Campaign.Status.RUNNING,
            kind=Campaign.Kind.ONE_OFF,
            channel=Campaign.Channel.EMAIL,
            next_run_at__isnull=True,
            runs__gt=0,
        )
        .exclude(Exists(unfinished))
        .update(status=Campaign.Status.FINISHED, finished_at=now)
    )
    return report
