"""A real Celery worker, on the configured broker, does the work the web process queues.

The worker fixture (tests/integration/conftest.py) starts it on a queue of the test's own, pointed at
the test database.
"""

import pytest

from customers.models import SegmentSnapshot
from customers.tasks import segment_refresh_task
from tests.factories import CustomerFactory, SegmentFactory, purchase

from .conftest import wait_for

pytestmark = pytest.mark.integration


def test_worker_refreshes_a_segment_through_the_broker(worker):
    buyers = {CustomerFactory(name="Anna"), CustomerFactory(name="Boris")}
    for customer in buyers:
        purchase(customer, days_ago=3)
    CustomerFactory(name="Vera")  # no purchase: not a member
    segment = SegmentFactory(
        rules={"match": "all", "rules": [{"field": "purchase_count", "op": "gte", "value": 1}]}
    )

    segment_refresh_task.apply_async(args=[segment.id], queue=worker.queue)

    snapshot = wait_for(
        lambda: SegmentSnapshot.objects.filter(segment=segment).first(), worker, "segment snapshot"
    )
    assert (snapshot.member_count, snapshot.added, snapshot.removed) == (2, 2, 0)
    segment.refresh_from_db()
    assert set(segment.members.all()) == buyers
    assert segment.member_count == 2
    assert segment.refreshed_at == snapshot.computed_at
