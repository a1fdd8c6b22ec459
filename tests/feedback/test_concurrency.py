"""Two agents acting on one item at the same moment: the row lock applies them one after the other."""

import threading
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from feedback import services
from feedback.models import BusinessCalendar, ClockState, FeedbackItem, SlaPolicy, WorkingHours
from tests.factories import CustomerFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks between connections: PostgreSQL"),
]
MOSCOW = ZoneInfo("Europe/Moscow")


def at(hour, minute=0) -> datetime:
    return datetime(2026, 11, 23, hour, minute, tzinfo=MOSCOW)


def race(*actions):
    """Run the actions in threads released together; return what each returned or raised."""
    barrier = threading.Barrier(len(actions))
    outcomes = [None] * len(actions)

    def run(index, action):
        try:
            barrier.wait()
            outcomes[index] = action()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


@pytest.fixture
def item():
    calendar = BusinessCalendar.objects.create(name="Office", time_zone="Europe/Moscow")
    WorkingHours.objects.bulk_create(
        WorkingHours(calendar=calendar, weekday=day, opens_at=time(9), closes_at=time(18)) for day in range(5)
    )
    SlaPolicy.objects.create(name="Std", calendar=calendar, first_response_minutes=60, resolution_minutes=240)
    data = {
        "kind": "complaint",
        "channel": "phone",
        "customer": CustomerFactory(),
        "subject": "S",
        "description": "D",
    }
    return services.item_create(data=data, now=at(10))


@pytest.mark.parametrize("attempt", range(3))
def test_two_agents_at_once_leave_a_consistent_history_and_clocks(item, attempt):
    outcomes = race(
        lambda: services.item_transition(item_id=item.pk, to="resolved", note="Refunded", now=at(11)),
        lambda: services.item_transition(item_id=item.pk, to="waiting", note="Need photo", now=at(11)),
        lambda: services.item_reply(item_id=item.pk, body="Looking into it", now=at(11)),
    )
    assert not [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, ValidationError)]

    item = FeedbackItem.objects.get(pk=item.pk)
    changes = list(item.changes.filter(field="status").values_list("old_value", "new_value"))
    # A chain: each change starts where the previous one ended, and ends at the item's status.
    assert all(previous[1] == following[0] for previous, following in zip(changes, changes[1:], strict=False))
    assert changes[-1][1] == item.status
    clocks = list(item.clocks.all())
    for clock in clocks:
        assert services.clock_rebuild(clock)  # the cached totals agree with the segments
        assert clock.segments.filter(ended_at__isnull=True).count() <= 1
        if item.status == "resolved":
            assert clock.state == ClockState.MET
        if item.status == "waiting" and clock.state != ClockState.MET:
            assert clock.state == ClockState.PAUSED
