"""Business-time arithmetic for SLA timers: pure functions over a calendar held as plain data.

Business time is real elapsed time during which the calendar is open. A calendar's open windows are
local wall-clock intervals of each local date (minutes of the day, an end of 1440 meaning the next
local midnight) minus that date's closures (holidays, whole or part days).

Each local boundary maps to one UTC instant by a single rule, so that the mapping is monotonic and
the open periods of consecutive windows and days never invert or overlap:

* an ambiguous wall time (the repeated hour when clocks fall back) means its FIRST occurrence
  (``fold=0``); a window that spans the whole repeated hour is therefore an hour longer in real time;
* a nonexistent wall time (inside the gap when clocks spring forward) means the moment the gap ends,
  i.e. the instant of the transition; a window spanning the gap is an hour shorter, a window lying
  entirely inside it is empty.

Equivalently: an instant is open when the highest wall-clock reading so far lies in an open window of
its local date (the repeated hour counts as the last moment before the clocks went back). The tests
check the arithmetic against that reading, minute by minute.

Inputs are aware datetimes (naive ones are refused: a naive moment has no instant); outputs are aware
UTC. Internally instants are integer microseconds since the Unix epoch, so sums are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Interval = tuple[int, int]  # (start_minute, end_minute) of a local day, 0 <= start < end <= 1440

MINUTES_PER_DAY = 1440
HORIZON_DAYS = 3 * 366  # a target not reachable within ~3 years means the calendar is (nearly) never open

_WHOLE_DAY = ((0, MINUTES_PER_DAY),)
_US = 1_000_000
_MIN_US = 60 * _US
_DAY_US = 86_400 * _US
_ONE_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _hhmm(minute: int) -> str:
    if 0 <= minute <= MINUTES_PER_DAY:
        return f"{minute // 60:02d}:{minute % 60:02d}"
    return f"minute {minute}"


def _shape_problems(intervals: Iterable[Iterable[int]]) -> tuple[list[str], list[Interval]]:
    """Problems of each interval on its own, and the well-formed intervals sorted."""
    problems: list[str] = []
    valid: list[Interval] = []
    for item in intervals:
        try:
            start, end = item
        except (TypeError, ValueError):
            problems.append(f"malformed interval {item!r}: expected (start_minute, end_minute)")
            continue
        if not all(isinstance(m, int) and not isinstance(m, bool) for m in (start, end)):
            problems.append(f"interval {start!r}-{end!r} is not in whole minutes")
        elif not (0 <= start <= MINUTES_PER_DAY and 0 <= end <= MINUTES_PER_DAY):
            problems.append(f"interval {_hhmm(start)}-{_hhmm(end)} is out of range (00:00 to 24:00)")
        elif end <= start:
            problems.append(f"inverted interval {_hhmm(start)}-{_hhmm(end)}: the end must be after the start")
        else:
            valid.append((start, end))
    return problems, sorted(valid)


def interval_problems(intervals: Iterable[Iterable[int]]) -> list[str]:
    """What is wrong with a day's open intervals, in words a form can show; empty when they are valid."""
    problems, valid = _shape_problems(intervals)
    for (s1, e1), (s2, e2) in zip(valid, valid[1:], strict=False):
        if s2 < e1:  # touching (09:00-13:00 then 13:00-18:00) is fine: intervals are half-open
            problems.append(f"overlapping intervals {_hhmm(s1)}-{_hhmm(e1)} and {_hhmm(s2)}-{_hhmm(e2)}")
    return problems


def validate_intervals(intervals: Iterable[Iterable[int]]) -> tuple[Interval, ...]:
    """The intervals sorted, or ValueError naming each inverted, out-of-range or overlapping one."""
    intervals = list(intervals)
    problems = interval_problems(intervals)
    if problems:
        raise ValueError("; ".join(problems))
    return tuple(sorted((s, e) for s, e in intervals))


def to_minutes(value: time, *, end: bool = False) -> int:
    """Minute of the day of a wall time; as an interval end, 00:00 means 24:00 (a TimeField can't hold it)."""
    minute = value.hour * 60 + value.minute
    return MINUTES_PER_DAY if end and minute == 0 else minute


def _merge(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


def _subtract(opened: tuple[Interval, ...], closed: tuple[Interval, ...]) -> tuple[Interval, ...]:
    result = []
    for start, end in opened:
        pieces = [(start, end)]
        for c_start, c_end in closed:
            pieces = [
                part
                for s, e in pieces
                for part in ((s, min(e, c_start)), (max(s, c_end), e))
                if part[0] < part[1]
            ]
        result.extend(pieces)
    return tuple(result)


@dataclass(frozen=True)
class Schedule:
    """A business calendar: weekly open hours in a time zone, minus dated closures.

    ``week`` maps a weekday (0 = Monday) to its open intervals; a missing weekday is closed all day.
    ``closed`` maps a local date to the intervals closed that day, ``((0, 1440),)`` for a whole-day
    holiday. Open intervals must not overlap (a form error, see ``interval_problems``); touching ones
    are joined. Closures may overlap each other: they only ever remove time.
    """

    time_zone: str
    week: Mapping[int, tuple[Interval, ...]]
    closed: Mapping[date, tuple[Interval, ...]] = field(default_factory=dict)
    # Precomputed lookups, so each call only walks days: open intervals by weekday and by closed date.
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _weekly: tuple[tuple[Interval, ...], ...] = field(init=False, repr=False, compare=False)
    _dated: dict[int, tuple[Interval, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"unknown time zone {self.time_zone!r}") from None
        week: dict[int, tuple[Interval, ...]] = {}
        for weekday, intervals in self.week.items():
            if weekday not in range(7):
                raise ValueError(f"weekday {weekday!r} must be 0 (Monday) to 6 (Sunday)")
            try:
                week[weekday] = _merge(validate_intervals(intervals))
            except ValueError as error:
                raise ValueError(f"weekday {weekday}: {error}") from None
        closed: dict[date, tuple[Interval, ...]] = {}
        for day, intervals in self.closed.items():
            if not isinstance(day, date) or isinstance(day, datetime):
                raise ValueError(f"closure key {day!r} must be a date")
            intervals = tuple(tuple(i) for i in intervals)
            if intervals == _WHOLE_DAY:  # the common case (public holidays) skips the general path
                closed[day] = _WHOLE_DAY
                continue
            problems, valid = _shape_problems(intervals)
            if problems:
                raise ValueError(f"closure on {day.isoformat()}: {'; '.join(problems)}")
            closed[day] = _merge(valid)
        weekly = tuple(week.get(weekday, ()) for weekday in range(7))
        dated = {
            day.toordinal(): () if c == _WHOLE_DAY else _subtract(weekly[day.weekday()], c)
            for day, c in closed.items()
        }
        object.__setattr__(self, "week", week)
        object.__setattr__(self, "closed", closed)
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_weekly", weekly)
        object.__setattr__(self, "_dated", dated)

    def __hash__(self) -> int:
        return hash((self.time_zone, tuple(sorted(self.week.items())), tuple(sorted(self.closed.items()))))

    @classmethod
    def always_open(cls, time_zone: str = "UTC") -> Schedule:
        """24/7: every minute is business time (the zone only matters for its closures)."""
        return cls(time_zone, {weekday: ((0, MINUTES_PER_DAY),) for weekday in range(7)})

    @property
    def is_ever_open(self) -> bool:
        return any(self._weekly)


# --- instants ------------------------------------------------------------------------------------


def _to_us(moment: datetime, name: str) -> int:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")
    return (moment - _EPOCH) // _ONE_US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _offset_us(zone: ZoneInfo, ordinal: int, minute: int, fold: int) -> int:
    """UTC offset of a local wall time; for a gap or a repeated hour, fold=0 is the offset before."""
    naive = datetime.fromordinal(ordinal) + timedelta(minutes=minute)
    return zone.utcoffset(naive.replace(fold=fold)) // _ONE_US


@lru_cache(maxsize=65_536)
def _midnight_offset_us(zone: ZoneInfo, ordinal: int) -> int:
    # Cached: every call walks a few days, and a loaded zone's offset for a date never changes.
    return zone.utcoffset(datetime.fromordinal(ordinal)) // _ONE_US


def _wall_to_utc_us(zone: ZoneInfo, ordinal: int, minute: int) -> int:
    """The instant of a local wall time by the module's rule: first occurrence, or the end of a gap."""
    wall = (ordinal - _EPOCH_ORDINAL) * _DAY_US + minute * _MIN_US
    before = _offset_us(zone, ordinal, minute, fold=0)
    after = _offset_us(zone, ordinal, minute, fold=1)
    if after <= before:  # an ordinary or a repeated wall time: fold=0 is the first occurrence
        return wall - before
    # Inside a gap: the transition lies in (wall - after, wall - before]; offsets change on whole
    # seconds, so a bisection over seconds finds it in ~13 steps (gaps are rare, once a year).
    low, high = (wall - after) // _US, (wall - before) // _US
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() // _ONE_US == after:
            high = middle
        else:
            low = middle
    return high * _US


def _periods_us(schedule: Schedule, start_us: int, first: int, last: int) -> Iterator[tuple[int, int]]:
    """Open periods (UTC µs) of local dates first..last (ordinals), in order, cut to begin at start_us.

    A day whose midnights have one UTC offset has no transition (zones don't change twice a day), so
    its boundaries are plain arithmetic; only transition days convert each boundary via zoneinfo.
    """
    zone, weekly, dated = schedule._zone, schedule._weekly, schedule._dated
    next_offset = None  # the offset of the next midnight, reused as the following day's own
    for ordinal in range(first, last + 1):
        intervals = dated.get(ordinal)
        if intervals is None:
            intervals = weekly[(ordinal + 6) % 7]  # ordinal 1 (0001-01-01) was a Monday
        if not intervals:
            next_offset = None
            continue
        offset = _midnight_offset_us(zone, ordinal) if next_offset is None else next_offset
        next_offset = _midnight_offset_us(zone, ordinal + 1)
        base = (ordinal - _EPOCH_ORDINAL) * _DAY_US - offset
        if base + MINUTES_PER_DAY * _MIN_US <= start_us and offset == next_offset:
            continue  # the whole day lies before the start
        for start_minute, end_minute in intervals:
            if offset == next_offset:
                start, end = base + start_minute * _MIN_US, base + end_minute * _MIN_US
            else:
                start = _wall_to_utc_us(zone, ordinal, start_minute)
                end = _wall_to_utc_us(zone, ordinal, end_minute)
            if end <= start_us:
                continue
            start = max(start, start_us)
            if start < end:  # a window inside a spring-forward gap is empty
                yield start, end


def _local_ordinal(schedule: Schedule, moment: datetime) -> int:
    # Windows of earlier dates end by this date's midnight, which maps to no later than the moment.
    return moment.astimezone(schedule._zone).toordinal()


def _require_open(schedule: Schedule) -> None:
    if not schedule.is_ever_open:
        raise ValueError("the calendar has no working hours on any weekday")


# --- the arithmetic --------------------------------------------------------------------------------


def _clipped_us(schedule: Schedule, start: datetime, end: datetime) -> Iterator[tuple[int, int]]:
    """Open periods within [start, end) in UTC µs; both moments are checked before any iteration."""
    start_us, end_us = _to_us(start, "start"), _to_us(end, "end")
    if end_us <= start_us:
        return iter(())
    # One day past end's local date: a repeated hour straddling midnight can put end after its date.
    first, last = _local_ordinal(schedule, start), _local_ordinal(schedule, end) + 1
    periods = _periods_us(schedule, start_us, first, last)

    def clipped() -> Iterator[tuple[int, int]]:
        for period_start, period_end in periods:
            if period_start >= end_us:
                return
            yield period_start, min(period_end, end_us)

    return clipped()


def open_periods(schedule: Schedule, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The open periods within [start, end) as aware UTC pairs, sorted and disjoint (touching ones joined)."""
    periods = _clipped_us(schedule, start, end)

    def joined() -> Iterator[tuple[datetime, datetime]]:
        pending = None
        for period_start, period_end in periods:
            if pending and pending[1] == period_start:
                pending[1] = period_end
                continue
            if pending:
                yield _from_us(pending[0]), _from_us(pending[1])
            pending = [period_start, period_end]
        if pending:
            yield _from_us(pending[0]), _from_us(pending[1])

    return joined()


def _between_us(schedule: Schedule, start: datetime, end: datetime) -> int:
    periods = _clipped_us(schedule, start, end)
    return sum(period_end - period_start for period_start, period_end in periods)


def business_time_between(schedule: Schedule, start: datetime, end: datetime) -> timedelta:
    """Exact open time in [start, end) (zero if end <= start); additive over adjacent spans."""
    return timedelta(microseconds=_between_us(schedule, start, end))


def business_seconds_between(schedule: Schedule, start: datetime, end: datetime) -> int:
    """Whole seconds of open time in [start, end), rounded down; 0 if end <= start."""
    return _between_us(schedule, start, end) // _US


def business_minutes_between(schedule: Schedule, start: datetime, end: datetime) -> int:
    """Whole minutes of open time in [start, end), rounded down (SLA targets are in minutes)."""
    return _between_us(schedule, start, end) // _MIN_US


def add_business_time(schedule: Schedule, start: datetime, amount: timedelta) -> datetime:
    """The earliest moment by which ``amount`` of open time has passed since start (aware UTC).

    A zero amount is start itself, even on a closed day; a target met exactly at closing time is due
    at the close, not at the next opening. ValueError if the calendar is never open (within ~3 years).
    """
    start_us = _to_us(start, "start")
    remaining = amount // _ONE_US
    if remaining < 0:
        raise ValueError(f"cannot add a negative business time ({amount})")
    if remaining == 0:
        return _from_us(start_us)
    _require_open(schedule)
    first = _local_ordinal(schedule, start)
    for period_start, period_end in _periods_us(schedule, start_us, first, first + HORIZON_DAYS):
        length = period_end - period_start
        if remaining <= length:
            return _from_us(period_start + remaining)
        remaining -= length
    raise ValueError(f"the calendar has too little open time to add {amount} within 3 years of {start}")


def add_business_seconds(schedule: Schedule, start: datetime, seconds: int) -> datetime:
    return add_business_time(schedule, start, timedelta(seconds=seconds))


def add_business_minutes(schedule: Schedule, start: datetime, minutes: int) -> datetime:
    return add_business_time(schedule, start, timedelta(minutes=minutes))


def next_open(schedule: Schedule, moment: datetime) -> datetime:
    """The moment itself (as UTC) if the calendar is open then, else the start of the next open period."""
    moment_us = _to_us(moment, "moment")
    _require_open(schedule)
    first = _local_ordinal(schedule, moment)
    for period_start, _ in _periods_us(schedule, moment_us, first, first + HORIZON_DAYS):
        return _from_us(period_start)
    raise ValueError(f"the calendar is not open at any time within 3 years of {moment}")
