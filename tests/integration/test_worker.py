"""A real Celery worker, on the configured broker, does the work the web process queues.

The worker is a separate process pointed at the test database, so the test data must be committed
(transactional_db) and tasks must really go through the broker (not the eager mode of conftest).
"""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from kombu import Exchange, Queue

from customers.models import SegmentSnapshot
from customers.tasks import segment_refresh_task
from cxplatform import celery_app
from tests.factories import CustomerFactory, SegmentFactory, purchase

pytestmark = pytest.mark.integration

CELERY = Path(sys.executable).with_name("celery")
DEADLINE_SECONDS = 30


def database_url_of_the_test_db() -> str:
    """The DATABASE_URL of the database this test runs on (the test one, not the configured one)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"  # an absolute path: sqlite:////tmp/...
    if db["ENGINE"] == "django.db.backends.postgresql":
        user = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            user += ":" + quote(db["PASSWORD"], safe="")
        host = db["HOST"] or "localhost"
        port = f":{db['PORT']}" if db["PORT"] else ""
        return f"postgres://{user}@{host}{port}/{quote(db['NAME'], safe='')}"
    raise NotImplementedError(f"no DATABASE_URL for {db['ENGINE']}")


@dataclass
class Worker:
    queue: str
    process: subprocess.Popen
    log: Path


@pytest.fixture
def worker(transactional_db, tmp_path) -> Iterator[Worker]:
    queue = f"cx-test-{uuid.uuid4().hex[:12]}"  # nobody else's worker takes our tasks, nor we theirs
    log = tmp_path / "worker.log"
    env = {**os.environ, "DATABASE_URL": database_url_of_the_test_db(), "CELERY_TASK_ALWAYS_EAGER": "0"}
    command = [
        str(CELERY),
        "-A",
        "cxplatform",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "-Q",
        queue,
        "-n",
        f"{queue}@%h",
        # Nothing to talk to other workers about; skipping it saves seconds at start-up.
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=out)
    try:
        yield Worker(queue=queue, process=process, log=log)
    finally:
        process.terminate()  # a warm shutdown: about 1 s on Redis, 4 s polling the filesystem broker
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # pytest shows a test's captured output only when it fails: the worker's log on failure.
        print(f"--- celery worker ({' '.join(command)}) ---\n{log.read_text(errors='replace')}")
        forget_queue(queue)


def forget_queue(name: str) -> None:
    """Drop the queue and its bindings from the broker; each run would otherwise leave some behind."""
    with celery_app.connection_for_write() as connection_:
        queue = Queue(name, Exchange(name), routing_key=name)(connection_.default_channel)
        queue.declare()  # so this connection knows the bindings it is to delete
        queue.delete()
    # The filesystem transport keeps an emptied exchange file per queue: remove ours.
    control_folder = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get("control_folder")
    if control_folder:
        (Path(control_folder) / f"{name}.exchange").unlink(missing_ok=True)


def wait_for(condition, worker: Worker, what: str):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if (value := condition()) is not None:
            return value
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited ({worker.process.returncode}) before {what}")
        time.sleep(0.2)
    pytest.fail(f"no {what} within {DEADLINE_SECONDS} s")


def test_worker_refreshes_a_segment_through_the_broker(worker):
    celery_app.conf.task_always_eager = False  # tests/conftest.py runs tasks inline elsewhere
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
