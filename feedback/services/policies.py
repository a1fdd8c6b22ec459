"""SLA settings: which policy an item falls under, calendars and their holidays, and re-targeting
the open items when a policy or a calendar changes."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from ..business_time import validate_intervals
from ..models import (
    OPEN_STATUSES,
    BusinessCalendar,
    ClockState,
    FeedbackItem,
    Holiday,
    ItemChange,
    SlaPolicy,
    Weekday,
    WorkingHours,
)


def policy_for(item: FeedbackItem) -> SlaPolicy | None:
    """The first active policy, in order, whose every non-empty condition the item matches."""
    return policy_match(item, policy_rules())


def policy_match(item: FeedbackItem, rules: list) -> SlaPolicy | None:
    customer = item.customer
    facts = {
        "priorities": item.priority,
        "kinds": item.kind,
        "channels": item.channel,
        "service_classes": customer.service_class if customer else None,
    }
    for policy, categories, client_types in rules:
        if any(getattr(policy, name) and value not in getattr(policy, name) for name, value in facts.items()):
            continue
        if categories and item.category_id not in categories:
            continue
        if client_types and (customer is None or customer.client_type_id not in client_types):
            continue
        return policy
    return None


_policies_cache: dict = {"stamp": None, "rules": []}


def policy_rules() -> list[tuple[SlaPolicy, set[int], set[int]]]:
    """The active policies with their category and client-type ids, read again only when a
    policy, its lists or a calendar changed: every item logged needs them, and they were three of
    the item's ten queries. The stamp is one query; the policies' own saves, their lists' rows and
    the calendars' saves all move it (saving a policy's lists also saves the policy)."""
    policy_table = SlaPolicy._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT max(updated_at) FROM {policy_table}), (SELECT count(*) FROM {policy_table}),"  # noqa: S608
            f" (SELECT count(*) FROM {SlaPolicy.categories.through._meta.db_table}),"
            f" (SELECT count(*) FROM {SlaPolicy.client_types.through._meta.db_table}),"
            f" (SELECT max(updated_at) FROM {BusinessCalendar._meta.db_table})"
        )
        stamp = cursor.fetchone()
    if stamp != _policies_cache["stamp"]:
        policies = SlaPolicy.objects.filter(active=True).select_related("calendar")
        _policies_cache["rules"] = [
            (policy, {c.pk for c in policy.categories.all()}, {c.pk for c in policy.client_types.all()})
            for policy in policies.prefetch_related("categories", "client_types")
        ]
        _policies_cache["stamp"] = stamp
    return _policies_cache["rules"]


def sla_summary(policy: SlaPolicy | None) -> str:
    if policy is None:
        return "no SLA policy"
    parts = [f"first response {policy.first_response_minutes} min"]
    if policy.next_response_minutes:
        parts.append(f"next response {policy.next_response_minutes} min")
    parts.append(f"resolution {policy.resolution_minutes} min")
    return f"{policy.name}: {', '.join(parts)} ({policy.calendar.name})"


def working_hours_check(intervals_by_weekday: dict[int, list[tuple[int, int]]]) -> None:
    """An inverted or overlapping interval within a day is an error naming the day."""
    errors = []
    for weekday, intervals in sorted(intervals_by_weekday.items()):
        try:
            validate_intervals(intervals)
        except ValueError as exc:
            errors.append(f"{Weekday(weekday).label}: {exc}")
    if errors:
        raise ValidationError({"working_hours": errors})


@transaction.atomic
def calendar_fill_holidays(
    *, calendar: BusinessCalendar, country: str, years: list[int], subdivision: str | None = None
) -> int:
    """Add a country's public holidays for the years as whole closed days; returns how many were new."""
    from ..holiday_sources import public_holidays  # the holidays package is large: load it when used

    try:
        days = public_holidays(country, years, subdivision)
    except ValueError as exc:
        field = "subdivision" if "subdivision" in str(exc) else "country"
        raise ValidationError({field: str(exc)}) from exc
    known = set(calendar.holidays.filter(closed_from__isnull=True).values_list("date", flat=True))
    fresh = [Holiday(calendar=calendar, date=day, name=name[:200]) for day, name in days if day not in known]
    Holiday.objects.bulk_create(fresh)
    calendar.country = country.upper()
    calendar.save()  # a new updated_at: the cached schedule is read again
    if fresh:
        transaction.on_commit(lambda: _retarget_later(calendar_id=calendar.pk))
    return len(fresh)


def _retarget_later(**kwargs) -> None:
    from ..tasks import items_retarget_task

    items_retarget_task.delay(**kwargs)


def settings_changed(*, policy_id: int | None = None, calendar_id: int | None = None) -> None:
    """Call after saving a policy or a calendar: its open items are re-targeted by a task."""
    transaction.on_commit(lambda: _retarget_later(policy_id=policy_id, calendar_id=calendar_id))


def items_retarget(
    *, policy_id: int | None = None, calendar_id: int | None = None, now: datetime | None = None
) -> int:
    """Apply a changed policy or calendar to the open items under it, from now on, recording the
    change on each (history keeps what was counted before). Returns how many items changed."""
    from .clocks import clock_retarget

    now = now or timezone.now()
    items = FeedbackItem.objects.filter(status__in=OPEN_STATUSES, sla_policy__isnull=False)
    if policy_id is not None:
        items = items.filter(sla_policy_id=policy_id)
    if calendar_id is not None:
        items = items.filter(sla_policy__calendar_id=calendar_id)
    changed = 0
    for item_id in items.values_list("pk", flat=True).iterator(chunk_size=500):
        with transaction.atomic():
            item = (
                FeedbackItem.objects.select_for_update(of=("self",))
                .select_related("sla_policy__calendar")
                .get(pk=item_id)
            )
            clocks = list(
                item.clocks.filter(state__in=(ClockState.RUNNING, ClockState.PAUSED)).select_related(
                    "policy__calendar"
                )
            )
            moved = []
            for clock in clocks:
                old_due = clock.due_at
                old_target, new_target = clock_retarget(clock, policy=item.sla_policy, now=now)
                if old_target != new_target or old_due != clock.due_at:
                    moved.append(
                        f"{clock.get_target_display()}: due {_when(old_due)} → {_when(clock.due_at)}"
                    )
            if moved:
                ItemChange.objects.create(
                    item=item,
                    field=ItemChange.Field.SLA,
                    old_value="",
                    new_value=sla_summary(item.sla_policy)[:200],
                    note="SLA settings changed; " + "; ".join(moved),
                    changed_at=now,
                )
                changed += 1
    return changed


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="minutes") if moment else "paused"


@transaction.atomic
def calendar_save(
    *,
    calendar: BusinessCalendar | None = None,
    data: dict,
    working_hours: list[dict] | None = None,
    holidays: list[dict] | None = None,
) -> BusinessCalendar:
    """Create or change a calendar; hours and holidays, when given, replace the calendar's sets.
    Open items under its policies are re-targeted afterwards (services.settings_changed)."""
    calendar = calendar or BusinessCalendar()
    for name, value in data.items():
        setattr(calendar, name, value)
    calendar.full_clean()
    hours = None
    if working_hours is not None:
        hours = [WorkingHours(calendar=calendar, **row) for row in working_hours]
        by_weekday: dict[int, list[tuple[int, int]]] = {}
        for row in hours:
            by_weekday.setdefault(row.weekday, []).append(row.minutes)
        working_hours_check(by_weekday)
    closures = None
    if holidays is not None:
        closures = [Holiday(calendar=calendar, **row) for row in holidays]
        problems = []
        for closure in closures:
            try:
                closure.clean()
            except ValidationError as exc:
                problems += [f"{closure.date}: {message}" for message in exc.messages]
        if problems:
            raise ValidationError({"holidays": problems})
    calendar.save()  # a new updated_at: the cached schedule (services.schedules) is read again
    if hours is not None:
        calendar.working_hours.all().delete()
        WorkingHours.objects.bulk_create(hours)
    if closures is not None:
        calendar.holidays.all().delete()
        Holiday.objects.bulk_create(closures)
    settings_changed(calendar_id=calendar.pk)
    return calendar


POLICY_LISTS = ("categories", "client_types")


@transaction.atomic
def policy_save(*, policy: SlaPolicy | None = None, data: dict) -> SlaPolicy:
    """Create or change an SLA policy (its conditions checked by SlaPolicy.clean); the open items
    under it are re-targeted afterwards."""
    policy = policy or SlaPolicy()
    lists = {name: data[name] for name in POLICY_LISTS if name in data}
    for name, value in data.items():
        if name not in POLICY_LISTS:
            setattr(policy, name, value)
    policy.full_clean()
    policy.save()
    for name, values in lists.items():
        getattr(policy, name).set(values)
    settings_changed(policy_id=policy.pk)
    return policy
