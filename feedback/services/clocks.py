"""The SLA clocks of an item: start, pause, resume, stop, re-target and rebuild.

Every move closes the open segment and opens the next, so a clock's segments are its whole life;
`used_seconds`, `due_at` and `warn_at` are caches of them (see models.clock). The caller holds the
item's row lock (services.items), so two agents moving one item never interleave here."""

from dataclasses import dataclass
from datetime import datetime

from ..business_time import Schedule, add_business_seconds, business_seconds_between
from ..models import ClockSegment, ClockState, SegmentKind, SlaClock, SlaPolicy, Target
from .schedules import calendar_schedule


def target_seconds(policy: SlaPolicy, target: str) -> int | None:
    minutes = {
        Target.FIRST_RESPONSE: policy.first_response_minutes,
        Target.NEXT_RESPONSE: policy.next_response_minutes,
        Target.RESOLUTION: policy.resolution_minutes,
    }[target]
    return minutes * 60 if minutes else None


def clock_new(*, item, policy: SlaPolicy, target: str, now: datetime) -> tuple[SlaClock, ClockSegment]:
    """A running clock for a target and its first segment, unsaved (the caller bulk-creates them)."""
    clock = SlaClock(
        item=item,
        target=target,
        policy=policy,
        target_seconds=target_seconds(policy, target),
        warn_percent=policy.warn_at_percent,
        started_at=now,
    )
    _run_from(clock, now, calendar_schedule(policy.calendar))
    return clock, ClockSegment(clock=clock, kind=SegmentKind.RUNNING, started_at=now)


def _run_from(clock: SlaClock, now: datetime, schedule: Schedule) -> None:
    """Running from now: when the target and the warning share will be reached."""
    clock.state = ClockState.RUNNING
    clock.running_since = now
    remaining = max(0, clock.target_seconds - clock.used_seconds)
    clock.due_at = add_business_seconds(schedule, now, remaining)
    warn_after = clock.target_seconds * clock.warn_percent // 100 - clock.used_seconds
    clock.warn_at = add_business_seconds(schedule, now, warn_after) if warn_after > 0 else now


def _close_open_segment(clock: SlaClock, now: datetime, schedule: Schedule) -> None:
    segment = clock.segments.filter(ended_at__isnull=True).first()
    if segment is None:
        return
    segment.ended_at = max(now, segment.started_at)
    if segment.kind == SegmentKind.RUNNING:
        segment.business_seconds = business_seconds_between(schedule, segment.started_at, segment.ended_at)
        clock.used_seconds += segment.business_seconds
    segment.save(update_fields=["ended_at", "business_seconds"])


def clock_pause(clock: SlaClock, *, now: datetime, reason: str) -> None:
    if clock.state != ClockState.RUNNING:
        return
    _close_open_segment(clock, now, calendar_schedule(clock.policy.calendar))
    ClockSegment.objects.create(clock=clock, kind=SegmentKind.PAUSED, started_at=now, reason=reason[:200])
    clock.state = ClockState.PAUSED
    clock.running_since = clock.due_at = clock.warn_at = None
    clock.save()


def clock_resume(clock: SlaClock, *, now: datetime) -> None:
    """Run again where it stood: a paused clock, or a met resolution clock of a reopened item."""
    if clock.state == ClockState.RUNNING:
        return
    schedule = calendar_schedule(clock.policy.calendar)
    _close_open_segment(clock, now, schedule)
    ClockSegment.objects.create(clock=clock, kind=SegmentKind.RUNNING, started_at=now)
    clock.stopped_at = None
    _run_from(clock, now, schedule)
    clock.save()


def clock_stop(clock: SlaClock, *, now: datetime, state: str = ClockState.MET) -> None:
    if clock.state in (ClockState.MET, ClockState.STOPPED):
        return
    _close_open_segment(clock, now, calendar_schedule(clock.policy.calendar))
    clock.state = state
    clock.stopped_at = now
    clock.running_since = clock.due_at = clock.warn_at = None
    if clock.used_seconds > clock.target_seconds and clock.breached_at is None:
        clock.breached_at = now  # breached between two sweeps: recorded when it stopped
    clock.save()


def clock_retarget(clock: SlaClock, *, policy: SlaPolicy, now: datetime) -> tuple[int, int]:
    """Apply a policy (a new one, or the same one changed) from now on. What was counted so far
    stays as it was counted: a running segment is closed under the calendar it ran in, and a new
    one starts under the policy's calendar now. Returns the old and new target in seconds."""
    old_target = clock.target_seconds
    old_schedule = calendar_schedule(clock.policy.calendar)
    clock.policy = policy
    clock.target_seconds = target_seconds(policy, clock.target) or clock.target_seconds
    clock.warn_percent = policy.warn_at_percent
    if clock.state == ClockState.RUNNING:
        _close_open_segment(clock, now, old_schedule)
        ClockSegment.objects.create(clock=clock, kind=SegmentKind.RUNNING, started_at=now)
        _run_from(clock, now, calendar_schedule(policy.calendar))
    clock.save()
    return old_target, clock.target_seconds


@dataclass(frozen=True)
class ClockReading:
    """What the admin and the API show for one target."""

    target: str
    state: str
    due_at: datetime | None
    used_seconds: int
    remaining_seconds: int
    paused: bool
    met: bool
    breached: bool
    overdue_seconds: int  # how far past the target (0 if within it)
    paused_seconds: float


def clock_reading(clock: SlaClock, now: datetime) -> ClockReading:
    """The clock as of now; segments must be prefetched for the paused time."""
    used = clock.used_seconds
    if clock.state == ClockState.RUNNING and clock.running_since:
        used += business_seconds_between(calendar_schedule(clock.policy.calendar), clock.running_since, now)
    paused = sum(
        ((segment.ended_at or now) - segment.started_at).total_seconds()
        for segment in clock.segments.all()
        if segment.kind == SegmentKind.PAUSED
    )
    return ClockReading(
        target=clock.target,
        state=clock.state,
        due_at=clock.due_at,
        used_seconds=used,
        remaining_seconds=max(0, clock.target_seconds - used),
        paused=clock.state == ClockState.PAUSED,
        met=clock.state == ClockState.MET and used <= clock.target_seconds,
        breached=used > clock.target_seconds or clock.breached_at is not None,
        overdue_seconds=max(0, used - clock.target_seconds),
        paused_seconds=paused,
    )


def clock_rebuild(clock: SlaClock) -> bool:
    """Recount the cached total from the log of segments; True if the cache was right. Each
    running segment keeps the business seconds it was counted with, under the calendar it ran in."""
    total = sum(
        clock.segments.filter(kind=SegmentKind.RUNNING, ended_at__isnull=False).values_list(
            "business_seconds", flat=True
        )
    )
    right = total == clock.used_seconds
    if not right:
        clock.used_seconds = total
        clock.save(update_fields=["used_seconds"])
    return right
