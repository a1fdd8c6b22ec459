"""Business-time arithmetic: worked examples, then properties over random calendars, zones and starts."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from feedback.business_time import (
    Schedule,
    add_business_minutes,
    add_business_seconds,
    add_business_time,
    business_minutes_between,
    business_seconds_between,
    business_time_between,
    interval_problems,
    next_open,
    open_periods,
    to_minutes,
    validate_intervals,
)

MOSCOW, BERLIN, NEW_YORK = ZoneInfo("Europe/Moscow"), ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
WORKDAYS = {weekday: ((9 * 60, 18 * 60),) for weekday in range(5)}  # Mon-Fri 09:00-18:00
WHOLE_DAY = ((0, 1440),)


def office(time_zone="Europe/Moscow", week=None, closed=None) -> Schedule:
    return Schedule(time_zone, WORKDAYS if week is None else week, closed or {})


def local(schedule: Schedule, moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(schedule.time_zone))


# --- the acceptance case and its variants ---------------------------------------------


FRIDAY_1730 = datetime(2025, 6, 13, 17, 30, tzinfo=MOSCOW)


def test_friday_1730_plus_four_business_hours_is_due_monday_1230():
    schedule = office()
    due = add_business_minutes(schedule, FRIDAY_1730, 4 * 60)
    assert local(schedule, due) == datetime(2025, 6, 16, 12, 30, tzinfo=MOSCOW)
    assert due.tzinfo is UTC
    assert business_minutes_between(schedule, FRIDAY_1730, due) == 240


def test_a_monday_holiday_moves_the_due_time_to_tuesday():
    schedule = office(closed={date(2025, 6, 16): WHOLE_DAY})
    due = add_business_minutes(schedule, FRIDAY_1730, 4 * 60)
    assert local(schedule, due) == datetime(2025, 6, 17, 12, 30, tzinfo=MOSCOW)


def test_a_part_day_holiday_closes_only_its_hours():
    schedule = office(closed={date(2025, 6, 16): ((0, 12 * 60),)})  # Monday opens at noon
    due = add_business_minutes(schedule, FRIDAY_1730, 4 * 60)
    assert local(schedule, due) == datetime(2025, 6, 16, 15, 30, tzinfo=MOSCOW)
    monday = datetime(2025, 6, 16, tzinfo=MOSCOW)
    assert business_minutes_between(schedule, monday, monday + timedelta(days=1)) == 6 * 60


def test_a_lunch_break_is_not_business_time():
    schedule = office(week={weekday: ((540, 780), (840, 1080)) for weekday in range(5)})
    monday_11 = datetime(2025, 6, 16, 11, tzinfo=MOSCOW)
    assert local(schedule, add_business_minutes(schedule, monday_11, 180)).time() == time(15)
    in_lunch = datetime(2025, 6, 16, 13, 30, tzinfo=MOSCOW)
    assert local(schedule, add_business_minutes(schedule, in_lunch, 30)).time() == time(14, 30)
    assert local(schedule, next_open(schedule, in_lunch)).time() == time(14)
    assert local(schedule, add_business_minutes(schedule, FRIDAY_1730, 240)).time() == time(12, 30)
    day = datetime(2025, 6, 16, tzinfo=MOSCOW)
    assert business_minutes_between(schedule, day, day + timedelta(days=1)) == 8 * 60


def test_a_target_met_exactly_at_closing_time_is_due_at_the_close():
    schedule = office()
    monday_17 = datetime(2025, 6, 16, 17, tzinfo=MOSCOW)
    assert local(schedule, add_business_minutes(schedule, monday_17, 60)).time() == time(18)


def test_adding_nothing_is_the_start_itself_even_when_closed():
    saturday = datetime(2025, 6, 14, 10, 15, 7, 123, tzinfo=MOSCOW)
    assert add_business_seconds(office(), saturday, 0) == saturday
    assert add_business_seconds(office(), saturday, 0).tzinfo is UTC


def test_a_start_on_a_closed_day_waits_for_the_next_opening():
    saturday = datetime(2025, 6, 14, 10, tzinfo=MOSCOW)
    schedule = office()
    assert local(schedule, add_business_minutes(schedule, saturday, 60)) == datetime(
        2025, 6, 16, 10, tzinfo=MOSCOW
    )
    assert local(schedule, next_open(schedule, saturday)) == datetime(2025, 6, 16, 9, tzinfo=MOSCOW)
    assert business_seconds_between(schedule, saturday, saturday + timedelta(hours=30)) == 0


def test_24_7_business_time_is_wall_time():
    schedule = Schedule.always_open("Europe/Moscow")
    assert add_business_minutes(schedule, FRIDAY_1730, 4 * 60) == FRIDAY_1730 + timedelta(hours=4)
    assert business_minutes_between(schedule, FRIDAY_1730, FRIDAY_1730 + timedelta(days=3)) == 3 * 1440
    assert next_open(schedule, FRIDAY_1730) == FRIDAY_1730
    # Touching windows of consecutive days make one period.
    assert list(open_periods(schedule, FRIDAY_1730, FRIDAY_1730 + timedelta(days=3))) == [
        (FRIDAY_1730, FRIDAY_1730 + timedelta(days=3))
    ]


def test_a_night_shift_carries_across_midnight():
    night = {weekday: ((0, 6 * 60), (22 * 60, 1440)) for weekday in range(7)}
    schedule = office(week=night)
    late = datetime(2025, 6, 16, 23, tzinfo=MOSCOW)
    assert local(schedule, add_business_minutes(schedule, late, 120)) == datetime(
        2025, 6, 17, 1, tzinfo=MOSCOW
    )
    just_before_midnight = datetime(2025, 6, 13, 23, 59, tzinfo=MOSCOW)  # a Friday, Mon-Fri calendar
    assert local(schedule, add_business_minutes(office(), just_before_midnight, 1)) == datetime(
        2025, 6, 16, 9, 1, tzinfo=MOSCOW
    )


def test_the_year_boundary_with_new_year_closed():
    schedule = office(closed={date(2026, 1, 1): WHOLE_DAY})
    new_years_eve = datetime(2025, 12, 31, 17, tzinfo=MOSCOW)  # a Wednesday
    due = add_business_minutes(schedule, new_years_eve, 120)
    assert local(schedule, due) == datetime(2026, 1, 2, 10, tzinfo=MOSCOW)
    assert business_minutes_between(schedule, new_years_eve, due) == 120


# --- daylight saving ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        ("Europe/Berlin", date(2025, 3, 30), date(2025, 10, 26)),
        ("America/New_York", date(2025, 3, 9), date(2025, 11, 2)),
    ],
)
def test_a_round_the_clock_day_lasts_23_hours_in_spring_and_25_in_autumn(zone, spring, autumn):
    for schedule in (Schedule.always_open(zone), Schedule(zone, {spring.weekday(): WHOLE_DAY})):
        for day, hours in ((spring, 23), (autumn, 25)):
            midnight = datetime.combine(day, time(), ZoneInfo(zone))
            next_midnight = datetime.combine(day + timedelta(days=1), time(), ZoneInfo(zone))
            assert business_time_between(schedule, midnight, next_midnight) == timedelta(hours=hours)
            assert add_business_minutes(schedule, midnight, hours * 60) == next_midnight


def test_office_hours_on_daylight_saving_days_are_still_nine_hours():
    schedule = office("America/New_York", week={weekday: ((540, 1080),) for weekday in range(7)})
    for day in (date(2025, 3, 9), date(2025, 11, 2)):
        start = datetime.combine(day, time(), NEW_YORK)
        assert business_minutes_between(schedule, start, start + timedelta(days=1)) == 540
    saturday_noon = datetime(2025, 3, 8, 17, tzinfo=NEW_YORK)  # 1 h left, then Sunday after the change
    due = add_business_minutes(schedule, saturday_noon, 120)
    assert due.astimezone(NEW_YORK) == datetime(2025, 3, 9, 10, tzinfo=NEW_YORK)
    assert due - saturday_noon == timedelta(hours=16)  # 17:00 EST to 10:00 EDT


def test_a_window_across_the_change_is_an_hour_shorter_or_longer():
    small_hours = Schedule("Europe/Berlin", {6: ((60, 240),)})  # Sundays 01:00-04:00
    for day, hours in ((date(2025, 3, 30), 2), (date(2025, 10, 26), 4), (date(2025, 6, 1), 3)):
        start = datetime.combine(day, time(), BERLIN)
        assert business_time_between(small_hours, start, start + timedelta(days=1)) == timedelta(hours=hours)


def test_a_boundary_in_the_spring_gap_means_the_moment_the_gap_ends():
    schedule = Schedule("Europe/Berlin", {6: ((150, 300),)})  # 02:30 does not exist on 2025-03-30
    start = datetime(2025, 3, 30, tzinfo=BERLIN)
    [(opens, closes)] = open_periods(schedule, start, start + timedelta(days=1))
    assert opens.astimezone(BERLIN) == datetime(2025, 3, 30, 3, tzinfo=BERLIN)
    assert closes.astimezone(BERLIN) == datetime(2025, 3, 30, 5, tzinfo=BERLIN)
    inside_gap = Schedule("Europe/Berlin", {6: ((135, 165),)})  # 02:15-02:45: no time at all that day
    assert business_time_between(inside_gap, start, start + timedelta(days=1)) == timedelta(0)


def test_a_repeated_autumn_time_means_its_first_occurrence():
    schedule = Schedule("Europe/Berlin", {6: ((150, 1440),)})  # opens 02:30, which happens twice
    start = datetime(2025, 10, 26, tzinfo=BERLIN)
    [(opens, _)] = open_periods(schedule, start, start + timedelta(days=1))
    assert opens == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # 02:30 CEST, not 02:30 CET


# --- refusals ----------------------------------------------------------------------------------


def test_naive_moments_are_refused():
    naive = datetime(2025, 6, 13, 17, 30)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_minutes(office(), naive, 5)
    with pytest.raises(ValueError, match="timezone-aware"):
        business_seconds_between(office(), FRIDAY_1730, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_open(office(), naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        open_periods(office(), naive, FRIDAY_1730)  # at the call, not on first use


def test_a_negative_amount_is_refused():
    with pytest.raises(ValueError, match="negative"):
        add_business_seconds(office(), FRIDAY_1730, -1)


def test_a_calendar_that_never_opens_is_an_error_not_an_endless_loop():
    never = Schedule("Europe/Moscow", {})
    with pytest.raises(ValueError, match="no working hours"):
        add_business_minutes(never, FRIDAY_1730, 1)
    with pytest.raises(ValueError, match="no working hours"):
        next_open(never, FRIDAY_1730)
    assert business_seconds_between(never, FRIDAY_1730, FRIDAY_1730 + timedelta(days=30)) == 0
    mondays_only = Schedule("Europe/Moscow", {0: WHOLE_DAY})
    all_mondays_closed = {date(2025, 6, 16) + timedelta(weeks=n): WHOLE_DAY for n in range(4 * 53)}
    always_holiday = Schedule("Europe/Moscow", mondays_only.week, all_mondays_closed)
    with pytest.raises(ValueError, match="3 years"):
        add_business_minutes(always_holiday, FRIDAY_1730, 1)


def test_validate_intervals_names_each_problem():
    assert validate_intervals([(840, 1080), (540, 780)]) == ((540, 780), (840, 1080))
    assert validate_intervals([(540, 780), (780, 1080)]) == ((540, 780), (780, 1080))  # touching is fine
    assert interval_problems([(540, 1080)]) == []
    with pytest.raises(ValueError, match="inverted interval 18:00-09:00"):
        validate_intervals([(1080, 540)])
    with pytest.raises(ValueError, match="inverted interval 09:00-09:00"):
        validate_intervals([(540, 540)])
    with pytest.raises(ValueError, match="overlapping intervals 09:00-13:00 and 12:00-18:00"):
        validate_intervals([(720, 1080), (540, 780)])
    with pytest.raises(ValueError, match="out of range"):
        validate_intervals([(540, 1500)])
    with pytest.raises(ValueError, match="out of range"):
        validate_intervals([(-30, 540)])
    problems = interval_problems([(1080, 540), (0, 1441), (60, 600), (540, 700)])
    assert len(problems) == 3
    assert [p.split()[0] for p in problems] == ["inverted", "interval", "overlapping"]


def test_a_schedule_refuses_bad_hours_zones_and_weekdays():
    with pytest.raises(ValueError, match="weekday 2: overlapping"):
        Schedule("UTC", {2: ((540, 780), (600, 900))})
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        Schedule("Mars/Olympus", WORKDAYS)
    with pytest.raises(ValueError, match="weekday 7"):
        Schedule("UTC", {7: WHOLE_DAY})
    with pytest.raises(ValueError, match="closure on 2025-01-01: inverted"):
        Schedule("UTC", WORKDAYS, {date(2025, 1, 1): ((600, 500),)})


def test_to_minutes_reads_midnight_as_the_end_of_the_day_for_an_end():
    assert to_minutes(time(9, 30)) == 570
    assert to_minutes(time(0)) == 0
    assert to_minutes(time(0), end=True) == 1440


def test_schedules_are_values():
    assert office() == office()
    assert hash(office()) == hash(office())
    assert office() != office(closed={date(2025, 1, 1): WHOLE_DAY})


# --- properties --------------------------------------------------------------------------------


ZONES = [
    "UTC",
    "Europe/Moscow",
    "Asia/Kolkata",  # +05:30, no daylight saving
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",  # southern hemisphere
    "Australia/Lord_Howe",  # a half-hour change
    "America/Santiago",  # changes at midnight
    "America/Havana",  # changes at midnight
]
# Wall times where these zones' clocks change: inside the spring gaps and the repeated autumn hours
# (02:00-03:00 in Europe, the US and Sydney; 01:30-02:30 at Lord Howe; around midnight in Chile, Cuba).
DST_EDGES = [0, 30, 60, 90, 105, 120, 135, 150, 180, 1410, 1440]


def _transitions(name: str) -> list[datetime]:
    """UTC midnights of the local days on which a zone changed its clocks, 2024-2026."""
    zone, found = ZoneInfo(name), []
    day = date(2024, 1, 1)
    while day < date(2027, 1, 1):
        here, there = (datetime.combine(d, time(), zone).utcoffset() for d in (day, day + timedelta(1)))
        if here != there:
            found.append(datetime.combine(day, time(), zone).astimezone(UTC))
        day += timedelta(days=1)
    return found


TRANSITIONS = {name: _transitions(name) for name in ZONES}

any_moment = st.datetimes(datetime(2021, 1, 1), datetime(2029, 12, 31), timezones=st.just(UTC))


def moments(zone: str = "UTC", near_changes_only: bool = False) -> st.SearchStrategy[datetime]:
    """Any moment of several years, or (half the time) one within days of the zone's clock changes."""
    if not TRANSITIONS[zone]:
        return any_moment
    near_a_change = st.builds(
        lambda edge, minutes, micros: edge + timedelta(minutes=minutes, microseconds=micros),
        st.sampled_from(TRANSITIONS[zone]),
        st.integers(-1440, 0) if near_changes_only else st.integers(-2 * 1440, 1440),
        st.sampled_from([0, 0, 1, 999_999]),
    )
    return near_a_change if near_changes_only else st.one_of(any_moment, near_a_change)


def pair_up(points: list[int]) -> tuple[tuple[int, int], ...]:
    points = sorted(set(points))
    points = points[: len(points) // 2 * 2]
    return tuple(zip(points[::2], points[1::2], strict=True))


# Quarter hours mostly (cheap to draw), any minute sometimes, and the wall times where clocks change.
a_minute = st.one_of(st.integers(0, 96).map(lambda quarter: quarter * 15), st.integers(0, 1440))
day_hours = st.lists(st.one_of(a_minute, st.sampled_from(DST_EDGES)), max_size=6).map(pair_up)
near_change_hours = st.lists(st.sampled_from(DST_EDGES) | a_minute, min_size=2, max_size=6).map(pair_up)
closure = st.one_of(st.just(((0, 1440),)), st.lists(a_minute, min_size=2, max_size=4).map(pair_up))


@st.composite
def calendars(draw, near_changes_only=False):
    """A random calendar open some time each week, and a start; closures fall near the start."""
    zone = draw(st.sampled_from([z for z in ZONES if TRANSITIONS[z]] if near_changes_only else ZONES))
    if near_changes_only:  # the same hours every day, so the day the clocks change has them too
        week = dict.fromkeys(range(7), draw(near_change_hours))
    else:
        week = dict(enumerate(draw(st.lists(day_hours, min_size=7, max_size=7))))
    assume(any(week.values()))
    start = draw(moments(zone, near_changes_only))
    first_day = start.astimezone(ZoneInfo(zone)).date()
    closed = draw(
        st.dictionaries(
            st.integers(-2, 40).map(lambda days: first_day + timedelta(days=days)),
            closure,
            max_size=10,
        )
    )
    return Schedule(zone, week, closed), start


def weekly_seconds(schedule: Schedule) -> int:
    return sum(end - start for day in schedule.week.values() for start, end in day) * 60


PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(calendar=calendars(), share=st.floats(0, 6))
def test_the_time_between_start_and_start_plus_n_is_n(calendar, share):
    schedule, start = calendar
    seconds = int(weekly_seconds(schedule) * share)
    due = add_business_seconds(schedule, start, seconds)
    assert due >= start
    assert business_seconds_between(schedule, start, due) == seconds
    assert business_time_between(schedule, start, due) == timedelta(seconds=seconds)


@PROPERTY
@given(calendar=calendars(), shares=st.lists(st.floats(0, 4), min_size=2, max_size=2))
def test_adding_is_monotonic_and_composes(calendar, shares):
    schedule, start = calendar
    a, b = (int(weekly_seconds(schedule) * share) for share in shares)
    low, high = sorted((a, b))
    assert add_business_seconds(schedule, start, low) <= add_business_seconds(schedule, start, high)
    halfway = add_business_seconds(schedule, start, a)
    assert add_business_seconds(schedule, halfway, b) == add_business_seconds(schedule, start, a + b)


@PROPERTY
@given(
    calendar=calendars(),
    gaps=st.lists(st.timedeltas(timedelta(0), timedelta(days=20)), min_size=2, max_size=2),
)
def test_time_between_is_additive(calendar, gaps):
    schedule, a = calendar
    b = a + gaps[0]
    c = b + gaps[1]
    whole = business_time_between(schedule, a, c)
    assert whole == business_time_between(schedule, a, b) + business_time_between(schedule, b, c)
    assert whole <= c - a
    assert business_time_between(schedule, c, a) == timedelta(0)


@PROPERTY
@given(start=any_moment, span=st.timedeltas(timedelta(0), timedelta(days=30)), seconds=st.integers(0, 10**7))
def test_round_the_clock_in_utc_is_wall_time(start, span, seconds):
    schedule = Schedule.always_open("UTC")
    assert business_time_between(schedule, start, start + span) == span
    assert add_business_seconds(schedule, start, seconds) == start + timedelta(seconds=seconds)


@PROPERTY
@given(calendar=calendars(), span=st.timedeltas(timedelta(0), timedelta(days=20)))
def test_open_periods_are_sorted_disjoint_inside_and_sum_to_the_time_between(calendar, span):
    schedule, start = calendar
    end = start + span
    periods = list(open_periods(schedule, start, end))
    for opens, closes in periods:
        assert start <= opens < closes <= end
        assert opens.tzinfo is UTC and closes.tzinfo is UTC
    for (_, closes), (opens, _) in zip(periods, periods[1:], strict=False):
        assert closes < opens  # touching periods are joined
    total = sum((closes - opens for opens, closes in periods), timedelta(0))
    assert total == business_time_between(schedule, start, end)


@PROPERTY
@given(calendar=calendars())
def test_next_open_is_where_the_first_business_microsecond_starts(calendar):
    schedule, start = calendar
    opening = next_open(schedule, start)
    assert opening >= start
    assert business_time_between(schedule, start, opening) == timedelta(0)
    tick = timedelta(microseconds=1)
    assert add_business_time(schedule, start, tick) == opening + tick


def wall_clock_oracle(schedule: Schedule, start: datetime, end: datetime) -> int:
    """Open minutes in [start, end) by the module's definition read another way, minute by minute.

    Mapping a wall time to its first occurrence (or to the end of a gap) amounts to this: an instant is
    open when the highest wall-clock reading so far falls inside an open window of its local date.
    """
    zone = ZoneInfo(schedule.time_zone)
    highest = None
    open_minutes = 0
    moment = start - timedelta(days=1)  # the high-water mark needs some history
    while moment < end:
        wall = moment.astimezone(zone).replace(tzinfo=None)
        highest = wall if highest is None else max(highest, wall)
        if moment >= start:
            minute = highest.hour * 60 + highest.minute
            day = highest.date()
            opened = any(s <= minute < e for s, e in schedule.week.get(day.weekday(), ()))
            closed = any(s <= minute < e for s, e in schedule.closed.get(day, ()))
            open_minutes += opened and not closed
        moment += timedelta(minutes=1)
    return open_minutes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calendar=calendars(near_changes_only=True), minutes=st.integers(0, 3 * 1440) | st.just(2 * 1440))
def test_time_between_agrees_with_a_minute_by_minute_reading_of_the_wall_clock(calendar, minutes):
    schedule, start = calendar
    start = start.replace(second=0, microsecond=0)
    end = start + timedelta(minutes=minutes)
    assert business_time_between(schedule, start, end) == timedelta(
        minutes=wall_clock_oracle(schedule, start, end)
    )
