"""The beat's SLA sweep and the notices it owes, each sent exactly once.

The sweep is set-based: two indexed look-ups find the running clocks whose warning share or due
moment has come (partial indexes on warn_at and due_at, so the cost follows what is due, not how
many items are open), stamps them, and writes one notice row per person owed one. The rows are the
outbox: a task claims each one right before its e-mail and marks it sent right after, so a notice is
neither lost with a killed worker (the sweep hands out unsent ones again) nor sent twice (the
unique constraint and the claim), except the one in flight at a crash."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import PRIORITY_RANK, ClockState, FeedbackItem, ItemChange, SlaClock, SlaNotification
from .followups import follow_ups_open

log = logging.getLogger(__name__)
NOTICE_CHUNK = 100
STALE_CLAIM = timedelta(minutes=10)


def sla_sweep(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    report = {"warned": 0, "breached": 0, "escalated": 0}
    with transaction.atomic():
        warned = list(
            SlaClock.objects.select_for_update(skip_locked=True)
            .filter(state=ClockState.RUNNING, warned_at__isnull=True, warn_at__lte=now)
            .values_list("pk", "item__assignee_id")
        )
        SlaClock.objects.filter(pk__in=[pk for pk, _ in warned]).update(warned_at=now)
        notices = [
            SlaNotification(
                clock_id=pk, kind=SlaNotification.Kind.WARNING, recipient_id=assignee, created_at=now
            )
            for pk, assignee in warned
            if assignee
        ]
        breached = list(
            SlaClock.objects.select_for_update(skip_locked=True)
            .filter(state=ClockState.RUNNING, breached_at__isnull=True, due_at__lte=now)
            .values_list("pk", "item_id", "item__assignee_id", "policy__lead_id")
        )
        SlaClock.objects.filter(pk__in=[row[0] for row in breached]).update(breached_at=now)
        for pk, _, assignee, lead in breached:
            for person in {assignee, lead} - {None}:
                notices.append(
                    SlaNotification(
                        clock_id=pk, kind=SlaNotification.Kind.BREACH, recipient_id=person, created_at=now
                    )
                )
        SlaNotification.objects.bulk_create(notices, ignore_conflicts=True)
        report["escalated"] = _escalate({item_id for _, item_id, _, _ in breached}, now)
    report["warned"], report["breached"] = len(warned), len(breached)
    report["follow_ups"] = follow_ups_open(now=now)
    report["notices"] = notices_dispatch(now=now)
    return report


def _escalate(item_ids: set[int], now: datetime) -> int:
    """Apply the breached items' policies' escalation: raise the priority and/or reassign."""
    if not item_ids:
        return 0
    changes = []
    items = FeedbackItem.objects.filter(pk__in=item_ids).select_related("sla_policy", "assignee")
    for item in items.select_for_update(of=("self",)):
        policy = item.sla_policy
        updates = {}
        raise_to = policy.escalate_to_priority if policy else ""
        if raise_to and PRIORITY_RANK[raise_to] > PRIORITY_RANK[item.priority]:
            changes.append(
                ItemChange(
                    item=item,
                    field=ItemChange.Field.PRIORITY,
                    old_value=item.priority,
                    new_value=raise_to,
                    note="Escalated: SLA breached.",
                    changed_at=now,
                )
            )
            updates["priority"] = raise_to
        if policy and policy.escalate_to_assignee_id and policy.escalate_to_assignee_id != item.assignee_id:
            changes.append(
                ItemChange(
                    item=item,
                    field=ItemChange.Field.ASSIGNEE,
                    old_value=str(item.assignee or ""),
                    new_value=str(policy.escalate_to_assignee),
                    note="Escalated: SLA breached.",
                    changed_at=now,
                )
            )
            updates["assignee_id"] = policy.escalate_to_assignee_id
        if updates:
            FeedbackItem.objects.filter(pk=item.pk).update(**updates)
    ItemChange.objects.bulk_create(changes)
    return len({change.item_id for change in changes})


def notices_dispatch(*, now: datetime | None = None) -> int:
    """Hand unsent notices (never claimed, or claimed by a worker that died) to sending tasks."""
    from ..tasks import notices_send_task

    now = now or timezone.now()
    unsent = SlaNotification.objects.filter(sent_at__isnull=True).filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - STALE_CLAIM)
    )
    ids = list(unsent.order_by("pk").values_list("pk", flat=True)[:10_000])
    for start in range(0, len(ids), NOTICE_CHUNK):
        chunk = ids[start : start + NOTICE_CHUNK]
        transaction.on_commit(lambda chunk=chunk: notices_send_task.delay(chunk))
    return len(ids)


def notices_send(*, notice_ids: list[int], now: datetime | None = None) -> int:
    """Send each notice claimed here; returns how many went out."""
    sent = 0
    for notice in SlaNotification.objects.filter(pk__in=notice_ids, sent_at__isnull=True).select_related(
        "recipient", "clock__item"
    ):
        moment = now or timezone.now()
        claimable = Q(claimed_at__isnull=True) | Q(claimed_at__lt=moment - STALE_CLAIM)
        if not SlaNotification.objects.filter(claimable, pk=notice.pk, sent_at__isnull=True).update(
            claimed_at=moment
        ):
            continue  # another worker has it
        if notice.recipient.email:
            send_mail(*_notice_text(notice), settings.DEFAULT_FROM_EMAIL, [notice.recipient.email])
        SlaNotification.objects.filter(pk=notice.pk).update(sent_at=now or timezone.now())
        sent += 1
    return sent


def _notice_text(notice: SlaNotification) -> tuple[str, str]:
    clock, item = notice.clock, notice.clock.item
    what = clock.get_target_display().lower()
    link = f"{settings.SITE_URL}/admin/feedback/feedbackitem/{item.pk}/change/"
    if notice.kind == SlaNotification.Kind.WARNING:
        subject = f"SLA warning: #{item.pk} {item.subject}"
        body = f"The {what} target of #{item.pk} is {clock.warn_percent}% used; due at {_at(clock.due_at)}."
    else:
        subject = f"SLA breached: #{item.pk} {item.subject}"
        body = f"The {what} target of #{item.pk} was breached at {_at(clock.breached_at)}."
    return subject, f"{body}\n\n{link}\n"


def _at(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "(no longer running)"
