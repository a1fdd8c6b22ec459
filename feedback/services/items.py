"""Writes on feedback items: log one, move it through its workflow, talk on it, change it.

Every function that changes an item's status or clocks takes the item's row lock first, so two
agents acting on one item at once are applied one after the other and each sees the other's
result (a transition that is no longer allowed is refused, not half-applied)."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from customers.models import Event, EventKind
from customers.services import event_record, events_record

from ..models import (
    TRANSITIONS,
    Attachment,
    ClockSegment,
    ClockState,
    FeedbackItem,
    ItemChange,
    ItemMessage,
    ItemStatus,
    SlaClock,
    Target,
)
from .clocks import clock_new, clock_pause, clock_resume, clock_retarget, clock_stop
from .policies import policy_for, policy_match, policy_rules, sla_summary

ITEM_FIELDS = (
    "kind",
    "priority",
    "channel",
    "customer",
    "author_name",
    "author_contact",
    "touchpoint",
    "category",
    "subject",
    "description",
    "assignee",
    "language",
    "time_zone",
    "review_source",
    "review_url",
    "review_rating",
    "public_answer",
)
# Changing these can make another SLA policy the item's.
POLICY_INPUTS = ("kind", "priority", "channel", "customer", "category")


@transaction.atomic
def item_create(*, data: dict, by=None, now: datetime | None = None) -> FeedbackItem:
    """Log an item: it starts new, under the first SLA policy that matches it, with its clocks."""
    return items_create(rows=[data], by=by, now=now)[0]


@transaction.atomic
def items_create(*, rows: list[dict], by=None, now: datetime | None = None) -> list[FeedbackItem]:
    """Log many items at once (an import: reviews gathered from review sites, a mailbox's backlog),
    all or none, with a handful of statements whatever their number: one insert each for the
    items, their clocks, the clocks' first segments and the customers' events. A bad row is refused
    naming it and its field ("3.subject"); a single item's errors name just the field."""
    now = now or timezone.now()
    rules = policy_rules()
    items, errors = [], {}
    for index, data in enumerate(rows):
        item = FeedbackItem(created_at=now, created_by=by)
        try:
            for name, value in data.items():
                if name not in ITEM_FIELDS:
                    raise ValidationError({name: "Unknown field."})
                setattr(item, name, value)
            if item.customer and "language" not in data:
                item.language = item.customer.language
            if item.public_answer:
                item.public_answered_at = now
            _clean(item)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors[field if len(rows) == 1 else f"{index}.{field}"] = messages
            continue
        item.sla_policy = policy_match(item, rules)
        items.append(item)
    if errors:
        raise ValidationError(errors)
    # Their creation (created_at, created_by) opens each item's history; no change row for it.
    FeedbackItem.objects.bulk_create(items)
    pairs = [
        clock_new(item=item, policy=item.sla_policy, target=target, now=now)
        for item in items
        if item.sla_policy
        for target in (Target.FIRST_RESPONSE, Target.RESOLUTION)
    ]
    _store_clocks(pairs)
    events_record(
        events=[
            Event(
                customer=item.customer,
                kind=EventKind.COMPLAINT_OPENED,
                occurred_at=now,
                touchpoint=item.touchpoint,
                data=_event_data(item),
            )
            for item in items
            if item.customer_id
        ]
    )
    return items


def _clean(item: FeedbackItem) -> None:
    """Validate the item's own fields. Related objects arrive loaded (the API's and the admin's
    fields looked them up) and the database's foreign keys guard them; the status token is random.
    Re-checking those would be a query each on every item logged."""
    item.full_clean(exclude=["customer", "touchpoint", "category", "assignee"], validate_unique=False)


def _start_clocks(item: FeedbackItem, targets: list[str], now: datetime) -> None:
    _store_clocks(
        [clock_new(item=item, policy=item.sla_policy, target=target, now=now) for target in targets]
    )


def _store_clocks(pairs: list) -> None:
    SlaClock.objects.bulk_create([clock for clock, _ in pairs])
    for clock, segment in pairs:
        segment.clock = clock  # now with its primary key
    ClockSegment.objects.bulk_create([segment for _, segment in pairs])


def _event_data(item: FeedbackItem) -> dict:
    return {"item": item.pk, "item_kind": item.kind, "channel": item.channel, "category": item.category_id}


def _record_event(item: FeedbackItem, kind: str, now: datetime) -> None:
    """The spine (DESIGN.md): the customer's timeline, and what survey campaigns react to."""
    if item.customer_id is None:
        return
    event_record(
        customer=item.customer,
        kind=kind,
        occurred_at=now,
        touchpoint=item.touchpoint,
        data=_event_data(item),
    )


def _locked(item_id: int) -> FeedbackItem:
    return (
        FeedbackItem.objects.select_for_update(of=("self",))
        .select_related("sla_policy__calendar", "customer")
        .get(pk=item_id)
    )


def _clocks(item: FeedbackItem, *states: str) -> list[SlaClock]:
    clocks = item.clocks.select_related("policy__calendar")
    return list(clocks.filter(state__in=states) if states else clocks)


@transaction.atomic
def item_transition(
    *, item_id: int, to: str, by=None, note: str = "", now: datetime | None = None
) -> FeedbackItem:
    """Move an item to another status of its workflow, and its clocks with it."""
    now = now or timezone.now()
    item = _locked(item_id)
    if to not in ItemStatus.values:
        raise ValidationError({"status": f"Unknown status {to!r}; use {', '.join(ItemStatus.values)}."})
    if to not in TRANSITIONS[item.status]:
        allowed = ", ".join(TRANSITIONS[item.status]) or "none (it is closed)"
        raise ValidationError(
            {"status": f"An item {item.status} cannot become {to}; it can become: {allowed}."}
        )
    note = note.strip()
    if to == ItemStatus.RESOLVED and not note:
        raise ValidationError({"note": "Say how it was resolved: a resolution needs a note."})
    if to == ItemStatus.WAITING and not note:
        raise ValidationError({"note": "Say what the customer is asked for: the clock pauses for it."})
    previous = item.status
    if to == ItemStatus.WAITING:
        for clock in _clocks(item, ClockState.RUNNING):
            clock_pause(clock, now=now, reason=note)
    elif previous == ItemStatus.WAITING:
        for clock in _clocks(item, ClockState.PAUSED):
            clock_resume(clock, now=now)
    if to == ItemStatus.RESOLVED:
        # The resolution is told to the customer, so it answers them if nobody had yet.
        for clock in _clocks(item, ClockState.RUNNING, ClockState.PAUSED):
            clock_stop(clock, now=now)
        item.first_response_at = item.first_response_at or now
        item.resolved_at = now
        item.resolution_note = note
    elif to == ItemStatus.CLOSED:
        item.closed_at = now
    elif to == ItemStatus.REOPENED:
        item.reopened_count += 1
        item.resolved_at = None
        for clock in _clocks(item):
            if clock.target == Target.RESOLUTION:
                clock_resume(clock, now=now)  # where it stood: the business time used is kept
    item.status = to
    item.save()
    _record_move(item, previous, to, note=note, by=by, now=now)
    if to == ItemStatus.RESOLVED:
        _record_event(item, EventKind.COMPLAINT_RESOLVED, now)
    elif to == ItemStatus.REOPENED:
        _record_event(item, EventKind.COMPLAINT_REOPENED, now)
    return item


@transaction.atomic
def item_reply(*, item_id: int, body: str, by=None, now: datetime | None = None) -> ItemMessage:
    """A reply to the customer: it is what meets the first (and next) response target."""
    now = now or timezone.now()
    item = _locked(item_id)
    message = _message(item, ItemMessage.Kind.REPLY, body, by, now)
    transaction.on_commit(lambda: _email_later(message.pk))
    for clock in _clocks(item, ClockState.RUNNING, ClockState.PAUSED):
        if clock.target in (Target.FIRST_RESPONSE, Target.NEXT_RESPONSE):
            clock_stop(clock, now=now)
    if item.first_response_at is None:
        item.first_response_at = now
    if item.status in (ItemStatus.NEW, ItemStatus.REOPENED):
        _record_move(
            item, item.status, ItemStatus.IN_PROGRESS, note="Replied to the customer.", by=by, now=now
        )
        item.status = ItemStatus.IN_PROGRESS
    item.save()
    return message


def _record_move(item: FeedbackItem, previous: str, to: str, *, note: str, by, now: datetime) -> None:
    """The history's line for a status move, whoever made it (an agent, or a reply that moved it)."""
    ItemChange.objects.create(
        item=item,
        field=ItemChange.Field.STATUS,
        old_value=previous,
        new_value=to,
        note=note,
        changed_by=by,
        changed_at=now,
    )


def _email_later(message_id: int) -> None:
    from ..tasks import reply_email_task

    reply_email_task.delay(message_id)


@transaction.atomic
def item_note(*, item_id: int, body: str, by=None, now: datetime | None = None) -> ItemMessage:
    """An internal note: for colleagues only, it answers nobody and moves no clock."""
    now = now or timezone.now()
    return _message(_locked(item_id), ItemMessage.Kind.NOTE, body, by, now)


@transaction.atomic
def item_customer_message(*, item_id: int, body: str, by=None, now: datetime | None = None) -> ItemMessage:
    """The customer wrote back (`by`: the agent who logged their call or letter, if any): a paused
    item runs again, and a next response is due."""
    now = now or timezone.now()
    item = _locked(item_id)
    if item.status == ItemStatus.CLOSED:
        raise ValidationError({"item": "This item is closed; a new message starts a new item."})
    message = _message(item, ItemMessage.Kind.CUSTOMER, body, by, now)
    if item.status == ItemStatus.WAITING:
        for clock in _clocks(item, ClockState.PAUSED):
            clock_resume(clock, now=now)
        _record_move(item, item.status, ItemStatus.IN_PROGRESS, note="The customer replied.", by=by, now=now)
        item.status = ItemStatus.IN_PROGRESS
        item.save()
    policy = item.sla_policy
    answering_again = policy and policy.next_response_minutes and item.first_response_at
    if (
        answering_again
        and item.status != ItemStatus.RESOLVED
        and not item.clocks.filter(target=Target.NEXT_RESPONSE, state=ClockState.RUNNING).exists()
    ):
        _start_clocks(item, [Target.NEXT_RESPONSE], now)
    return message


def _message(item: FeedbackItem, kind: str, body: str, by, now: datetime) -> ItemMessage:
    if not (body or "").strip():
        raise ValidationError({"body": "Write something: the message is empty."})
    return ItemMessage.objects.create(item=item, kind=kind, body=body.strip(), author=by, created_at=now)


@transaction.atomic
def item_update(*, item_id: int, data: dict, by=None, now: datetime | None = None) -> FeedbackItem:
    """Change an item's details; the changes that matter to the SLA are recorded, and if another
    policy now matches, the clocks follow it from now on."""
    now = now or timezone.now()
    item = _locked(item_id)
    before = {name: getattr(item, name) for name in ("priority", "assignee", "public_answer")}
    for name, value in data.items():
        if name not in ITEM_FIELDS:
            raise ValidationError({name: "Unknown field."})
        setattr(item, name, value)
    _clean(item)
    if item.public_answer != before["public_answer"]:
        item.public_answered_at = now if item.public_answer else None
    changes = []
    if item.priority != before["priority"]:
        changes.append((ItemChange.Field.PRIORITY, before["priority"], item.priority))
    if item.assignee != before["assignee"]:
        changes.append((ItemChange.Field.ASSIGNEE, str(before["assignee"] or ""), str(item.assignee or "")))
    if any(name in data for name in POLICY_INPUTS) and item.status != ItemStatus.CLOSED:
        policy = policy_for(item)
        if policy and policy != item.sla_policy:
            old, had_policy = sla_summary(item.sla_policy), item.sla_policy is not None
            item.sla_policy = policy
            if had_policy:
                for clock in _clocks(item, ClockState.RUNNING, ClockState.PAUSED):
                    clock_retarget(clock, policy=policy, now=now)
            elif item.status != ItemStatus.RESOLVED:  # it had no policy, so no clocks yet
                targets = (
                    [Target.RESOLUTION]
                    if item.first_response_at
                    else [Target.FIRST_RESPONSE, Target.RESOLUTION]
                )
                _start_clocks(item, targets, now)
            changes.append((ItemChange.Field.SLA, old, sla_summary(policy)))
    item.save()
    ItemChange.objects.bulk_create(
        ItemChange(
            item=item, field=field, old_value=old[:200], new_value=new[:200], changed_by=by, changed_at=now
        )
        for field, old, new in changes
    )
    return item


MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


@transaction.atomic
def attachment_add(*, item_id: int, file, name: str = "", by=None) -> Attachment:
    """Attach an uploaded file to an item (at most MAX_ATTACHMENT_BYTES)."""
    if file.size > MAX_ATTACHMENT_BYTES:
        raise ValidationError({"file": f"The file is {file.size // (1024 * 1024)} MB; at most 10 MB."})
    attachment = Attachment(item_id=item_id, name=(name or file.name)[:200], size=file.size, uploaded_by=by)
    attachment.file.save(file.name, file, save=False)
    try:  # the row not written: the stored file goes too, no orphan on disk
        attachment.save()
    except Exception:
        attachment.file.delete(save=False)
        raise
    return attachment
