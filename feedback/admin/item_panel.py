"""What the item's page shows above and below its form, read-only: where it is and its SLA clocks,
the conversation, and the history of its changes."""

from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from django.utils import timezone

from .. import services
from ..models import (
    ClockState,
    FeedbackItem,
    ItemChange,
    ItemStatus,
    Priority,
    SlaClock,
    Target,
)
from .common import at, duration, item_zone, person, status_page_url

TARGET_ORDER = {Target.FIRST_RESPONSE: 0, Target.NEXT_RESPONSE: 1, Target.RESOLUTION: 2}


def item_panel(item_id: int) -> dict:
    """The page's read-only parts for one item, in a fixed handful of queries."""
    now = timezone.now()
    item = FeedbackItem.objects.select_related(
        "sla_policy__calendar", "customer", "assignee", "created_by"
    ).get(pk=item_id)
    zone = item_zone(item)
    clocks = sorted(
        item.clocks.select_related("policy__calendar").prefetch_related("segments"),
        key=lambda clock: (TARGET_ORDER[clock.target], clock.started_at),
    )
    return {
        "item": item,
        "zone": zone,
        "status_class": _status_class(item.status),
        "logged_at": at(item.created_at, zone),
        "logged_stamp": at(item.created_at, zone, style="stamp"),
        "status_page": status_page_url(item),
        "policy_summary": services.sla_summary(item.sla_policy),
        "clocks": [clock_row(clock, now, zone) for clock in clocks],
        "resolution_note": item.resolution_note
        if item.status in (ItemStatus.RESOLVED, ItemStatus.CLOSED)
        else "",
        "conversation": conversation(item, zone),
        "history": history(item, zone),
        "negative_review": item.is_negative_review,
    }


def clock_row(clock: SlaClock, now, zone: str) -> dict:
    """One target as the agent reads it: when it is due, how much is used and left, and its state."""
    reading = services.clock_reading(clock, now)
    label = clock.get_target_display()
    if clock.target == Target.NEXT_RESPONSE:
        asked = at(clock.started_at, zone, style="stamp")
        label = f"{label} (to the customer's message of {asked})"
    late = f"by {duration(reading.overdue_seconds)}" if reading.overdue_seconds else ""
    if reading.paused:
        state, css = "Paused: waiting on the customer", "paused"
        if reading.breached:
            state, css = f"Breached {late}; paused: waiting on the customer", "breached"
    elif clock.state == ClockState.RUNNING:
        used_share = reading.used_seconds / clock.target_seconds if clock.target_seconds else 0
        if reading.breached:
            state, css = f"Breached {late}".strip(), "breached"
        elif used_share * 100 >= clock.warn_percent:
            state, css = f"Running, {used_share:.0%} used", "warning"
        else:
            state, css = "Running", "running"
    elif clock.state == ClockState.MET:
        when = at(clock.stopped_at, zone, style="stamp")
        state, css = (
            (f"Met late ({late}) at {when}", "breached") if reading.breached else (f"Met at {when}", "met")
        )
    else:
        state, css = "Stopped: no longer applies", "stopped"
    return {
        "target": clock.target,
        "label": label,
        "allowed": duration(clock.target_seconds),
        "due_at": at(reading.due_at, zone) if reading.due_at else _no_due(clock),
        "used": duration(reading.used_seconds),
        "remaining": duration(reading.remaining_seconds),
        "paused_for": duration(reading.paused_seconds, days=True) if reading.paused_seconds else "–",
        "state": state,
        "css": css,
        "breached": reading.breached,
        "met": reading.met,
        "paused": reading.paused,
    }


def _no_due(clock: SlaClock) -> str:
    return {ClockState.PAUSED: "– (paused)", ClockState.MET: "– (met)"}.get(clock.state, "– (stopped)")


def conversation(item: FeedbackItem, zone: str) -> list[dict]:
    return [
        {
            "kind": message.kind,
            "kind_label": message.get_kind_display(),
            "author": person(message.author) or ("The customer" if message.kind == "customer" else "–"),
            "at": at(message.created_at, zone, style="stamp"),
            "body": message.body,
        }
        for message in item.messages.select_related("author")
    ]


def history(item: FeedbackItem, zone: str) -> list[dict]:
    changes = item.changes.prefetch_related(
        Prefetch("changed_by", queryset=get_user_model().objects.only("username", "first_name", "last_name"))
    )
    logged = {
        "at": at(item.created_at, zone, style="stamp"),
        "what": "Logged",
        "from": "",
        "to": ItemStatus.NEW.label,
        "note": "",
        "by": person(item.created_by) or "The system",
    }
    return [logged] + [
        {
            "at": at(change.changed_at, zone, style="stamp"),
            "what": change.get_field_display(),
            "from": _value(change.field, change.old_value),
            "to": _value(change.field, change.new_value),
            "note": change.note,
            "by": person(change.changed_by) or "The system",
        }
        for change in changes
    ]


def _value(field: str, value: str) -> str:
    if field == ItemChange.Field.STATUS and value in ItemStatus.values:
        return ItemStatus(value).label
    if field == ItemChange.Field.PRIORITY and value in Priority.values:
        return Priority(value).label
    return value


def _status_class(status: str) -> str:
    return {
        ItemStatus.WAITING: "paused",
        ItemStatus.RESOLVED: "met",
        ItemStatus.CLOSED: "stopped",
        ItemStatus.REOPENED: "warning",
    }.get(status, "running")
