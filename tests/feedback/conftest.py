from datetime import time

import pytest

from feedback.models import BusinessCalendar, SlaPolicy, WorkingHours


def office_calendar(name="Office", time_zone="Europe/Moscow", lunch=False) -> BusinessCalendar:
    """Mon-Fri 09:00-18:00 (or with a 13:00-14:00 lunch break) in the given zone."""
    calendar = BusinessCalendar.objects.create(name=name, time_zone=time_zone)
    hours = [(time(9), time(13)), (time(14), time(18))] if lunch else [(time(9), time(18))]
    WorkingHours.objects.bulk_create(
        WorkingHours(calendar=calendar, weekday=day, opens_at=start, closes_at=end)
        for day in range(5)
        for start, end in hours
    )
    return calendar


@pytest.fixture
def calendar(db):
    return office_calendar()


@pytest.fixture
def policy(calendar):
    """The fallback: first response within 1 business hour, resolution within 4."""
    return SlaPolicy.objects.create(
        name="Standard", position=100, calendar=calendar, first_response_minutes=60, resolution_minutes=240
    )
