"""Real Celery worker processes for the integration tests.

A worker is a separate process pointed at the test database, so the test data must be committed
(transactional_db) and tasks must really go through the broker (not the eager mode of conftest).
Each test gets a queue of its own, on both sides: the worker consumes only it, and `.delay()` sends
to it, in the worker (CELERY_TASK_DEFAULT_QUEUE) and in the test process (task_default_queue, read
by Celery's router on every send). So services that queue tasks themselves reach the test's worker,
and nobody else's worker on this machine takes our tasks, nor we theirs.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from kombu import Exchange, Queue

from cxplatform import celery_app

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
    command: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid


class Workers:
    """Starts worker processes (--pool=solo) on the test's queue; stops them and forgets the queue."""

    def __init__(self, folder: Path):
        self.queue = f"cx-test-{uuid.uuid4().hex[:12]}"
        self.folder = folder
        self.started: list[Worker] = []

    def start(self, **env: str) -> Worker:
        """A new worker; `env` adds to its environment (e.g. EMAIL_URL, SURVEY_* settings)."""
        number = len(self.started) + 1
        log = self.folder / f"worker-{number}.log"
        env = {
            **os.environ,
            "DATABASE_URL": database_url_of_the_test_db(),
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            **env,
        }
        command = [
            str(CELERY),
            "-A",
            "cxplatform",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "-Q",
            self.queue,
            "-n",
            f"{self.queue}-{number}@%h",
            # Nothing to talk to other workers about; skipping it saves seconds at start-up.
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=out)
        worker = Worker(queue=self.queue, process=process, log=log, command=command)
        self.started.append(worker)
        return worker

    def close(self) -> None:
        for worker in self.started:
            if worker.process.poll() is None:
                # A warm shutdown: about 1 s on Redis, 4 s polling the filesystem broker.
                worker.process.terminate()
        for worker in self.started:
            try:
                worker.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            # pytest shows a test's captured output only when it fails: the workers' logs on failure.
            print(
                f"--- celery worker {worker.pid} ({' '.join(worker.command)}), "
                f"exit {worker.process.returncode} ---\n{worker.log.read_text(errors='replace')}"
            )
        forget_queue(self.queue)


@pytest.fixture
def workers(transactional_db, tmp_path) -> Iterator[Workers]:
    """Start workers with workers.start(); `.delay()` in the test sends to them."""
    conf = celery_app.conf
    previous = conf.task_always_eager, conf.task_default_queue
    pool = Workers(tmp_path)
    conf.task_always_eager = False  # tests/conftest.py runs tasks inline elsewhere
    conf.task_default_queue = pool.queue
    try:
        yield pool
    finally:
        conf.task_always_eager, conf.task_default_queue = previous
        pool.close()


@pytest.fixture
def worker(workers) -> Worker:
    return workers.start()


def forget_queue(name: str) -> None:
    """Drop the queue and its bindings from the broker; each run would otherwise leave some behind."""
    with celery_app.connection_for_write() as connection_:
        channel = connection_.default_channel
        queue = Queue(name, Exchange(name), routing_key=name)(channel)
        queue.declare()  # so this connection knows the bindings it is to delete
        queue.delete()
        if connection_.transport.driver_type == "redis":
            # A killed worker's unacknowledged messages wait in Redis's `unacked` hash, to be put back
            # in their queue an hour later (the visibility timeout): drop those of our queue now.
            client = channel.client
            for tag, payload in client.hscan_iter(channel.unacked_key):
                if json.loads(payload)[-1] == name:  # [message, exchange, routing key]
                    client.hdel(channel.unacked_key, tag)
                    client.zrem(channel.unacked_index_key, tag)
    # The filesystem transport keeps an emptied exchange file per queue: remove ours.
    control_folder = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get("control_folder")
    if control_folder:
        (Path(control_folder) / f"{name}.exchange").unlink(missing_ok=True)


def wait_for(condition, worker: Worker, what: str, deadline_seconds: float = DEADLINE_SECONDS):
    """Poll `condition` until it returns something other than None; fail if the worker exits first."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if (value := condition()) is not None:
            return value
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited ({worker.process.returncode}) before {what}")
        time.sleep(0.2)
    pytest.fail(f"no {what} within {deadline_seconds} s")
