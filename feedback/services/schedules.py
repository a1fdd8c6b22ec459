"""A business calendar as the pure Schedule that feedback.business_time computes with."""

from functools import lru_cache

from ..business_time import Schedule
from ..models import BusinessCalendar


def calendar_schedule(calendar: BusinessCalendar) -> Schedule:
    """The calendar's schedule, cached per process until the calendar is saved again: every item
    created or moved computes due moments, and its hours and holidays rarely change."""
    return _schedule(calendar.pk, calendar.updated_at)


@lru_cache(maxsize=64)
def _schedule(calendar_id: int, updated_at) -> Schedule:  # noqa: ARG001 - updated_at is the cache key
    calendar = BusinessCalendar.objects.get(pk=calendar_id)
    if calendar.always_open:
        return Schedule.always_open(calendar.time_zone)
    week: dict[int, list[tuple[int, int]]] = {day: [] for day in range(7)}
    for hours in calendar.working_hours.all():
        week[hours.weekday].append(hours.minutes)
    closed: dict = {}
    for holiday in calendar.holidays.all():
        closed.setdefault(holiday.date, []).append(holiday.minutes)
    return Schedule(
        time_zone=calendar.time_zone,
        week={day: tuple(sorted(intervals)) for day, intervals in week.items()},
        closed={day: tuple(sorted(intervals)) for day, intervals in closed.items()},
    )
