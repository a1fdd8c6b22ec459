"""Sending an email survey campaign: building its invitations, delivering them, the worker's memory.

Builds 110,000 customers (times --scale; PostgreSQL through COPY), then sends two email campaigns under
the default contact policy, to 10,000 "premium" and to the 100,000 other customers (times --scale).
For each:
  - launches it, then times surveys.services.campaign_run building its invitations in this process:
    `invitations_create_seconds` (target: under 5 s for 100,000), and handing them out in chunks
    (`invitations_dispatch_seconds`); the run task the launch queued finds the run done and does nothing;
  - starts a real worker process (celery worker --pool=solo, on the configured broker) that sends them
    over SMTP to a loopback aiosmtpd server in this process: `emails_per_second_per_worker`
    (messages received / seconds from the first to the last; target: at least 200 /s), and the
    worker's peak memory (VmHWM): `worker_peak_rss_10k`, `worker_peak_rss_100k` (must stay flat).
Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/cxbench CELERY_BROKER_URL=redis://127.0.0.1:6379/1 \
    .venv/bin/python bench/campaign.py
"""

import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import _common

_common.setup_django()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from kombu import Exchange, Queue  # noqa: E402

from customers.models import Customer  # noqa: E402
from cxplatform import celery_app  # noqa: E402
from surveys import services  # noqa: E402
from surveys.models import ContactPolicy, Invitation, InvitationStatus  # noqa: E402
from tests.integration.smtp_sink import SmtpSink  # noqa: E402

LARGE = 100_000  # "economy" customers: the large campaign's audience
SMALL = 10_000  # "premium" customers: the small campaign's audience
CELERY = Path(sys.executable).with_name("celery")
MIN_RATE = 20  # emails/s below which the bench gives up waiting (far under the target of 200)
CUSTOMER_COLUMNS = (
    "id, name, email, phone, company, external_id, client_type_id, lifecycle_stage, "
    "lifecycle_stage_changed_at, service_class, survey_consent, survey_consent_channel, language, "
    "attributes, created_at, updated_at"
)


def build(n_small: int, n_large: int) -> int:
    postgres = connection.vendor == "postgresql"
    stamp = _common.Timestamps("+00" if postgres else "")(int(time.time()) - 86400)
    yes = "t" if postgres else 1
    rows = (
        (
            i,
            f"Customer {i}",
            f"customer{i}@example.com",
            "",
            "",
            f"CRM-{i:07d}",
            None,
            "loyalty",
            stamp,
            "premium" if i <= n_small else "economy",
            yes,
            "email",
            "ru" if i % 3 == 0 else "en",
            "{}",
            stamp,
            stamp,
        )
        for i in range(1, n_small + n_large + 1)
    )
    _common.insert_rows(Customer._meta.db_table, CUSTOMER_COLUMNS, rows)
    if postgres:
        with connection.cursor() as cursor:
            table = Customer._meta.db_table
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n_small + n_large})")
    _common.vacuum()
    return n_small + n_large


def database_url() -> str:
    """The DATABASE_URL of the bench's own database, for the worker process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        user += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{user}@{db['HOST'] or 'localhost'}{port}/{quote(db['NAME'], safe='')}"


def peak_rss_mb(pid: int) -> float:
    """The process's high-water mark of resident memory (psutil-free: /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc: not Linux?")


def start_worker(queue: str, sink: SmtpSink, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "EMAIL_URL": sink.url,
        # As in production: DEBUG would keep every query's SQL in the worker's memory.
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "LOG_LEVEL": "WARNING",
    }
    command = [str(CELERY), "-A", "cxplatform", "worker", "--pool=solo", "--loglevel=WARNING", "-Q", queue]
    command += ["-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=_common.REPO_ROOT, env=env, stdout=out, stderr=out)


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def drop_queue(name: str) -> None:
    with celery_app.connection_for_write() as connection_:
        queue = Queue(name, Exchange(name), routing_key=name)(connection_.default_channel)
        queue.declare()
        queue.delete()
    control_folder = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get("control_folder")
    if control_folder:
        (Path(control_folder) / f"{name}.exchange").unlink(missing_ok=True)


def send_campaign(label: str, survey, audience: dict, queue: str, folder: Path) -> dict:
    """Launch a campaign, build its invitations here (timed), and let a fresh worker send them all."""
    campaign = services.campaign_save(data={"name": f"Bench {label}", "survey": survey, **audience})
    services.campaign_launch(campaign=campaign)  # queues campaign_run_task, a no-op once we ran it

    marks = []
    start = time.perf_counter()
    with transaction.atomic():
        # Runs first after the commit, before the dispatch that campaign_run's build registers.
        transaction.on_commit(lambda: marks.append(time.perf_counter()))
        made = services.campaign_run(campaign_id=campaign.pk)
    end = time.perf_counter()
    queued = Invitation.objects.filter(campaign=campaign, status=InvitationStatus.QUEUED).count()
    check(made == queued and made > 0, f"{label}: {made} invitations made, {queued} queued")
    # What autovacuum does soon after such an insert (it is off on these machines): without it the
    # senders' eligibility look-ups plan for the table as it was before the campaign.
    _common.vacuum(Invitation._meta.db_table)
    figures = {"made": made, "create": marks[0] - start, "dispatch": end - marks[0]}
    _common.report(f"invitations_{label}", made, "invitations")
    _common.report(f"invitations_create_seconds_{label}", figures["create"], "s")
    _common.report(f"invitations_dispatch_seconds_{label}", figures["dispatch"], "s")

    with SmtpSink() as sink:
        log = folder / f"worker-{label}.log"
        worker = start_worker(queue, sink, log)
        try:
            deadline = time.monotonic() + 60 + made / MIN_RATE
            sent = Invitation.objects.filter(campaign=campaign, status=InvitationStatus.SENT)
            # Done when every message has arrived and the worker has marked the last one sent.
            while sink.count < made or sent.count() < made:
                if worker.poll() is not None or time.monotonic() > deadline:
                    print(log.read_text(errors="replace")[-5000:], file=sys.stderr)
                    raise AssertionError(f"{label}: {sink.count} of {made} emails received")
                time.sleep(0.5)
            figures["peak_rss"] = peak_rss_mb(worker.pid)
        finally:
            stop_worker(worker)
        received = sink.received()
    check(len(received) == made, f"{label}: {len(received)} emails for {made} invitations")
    check(len({m.message_id for m in received}) == made, f"{label}: a Message-ID arrived twice")
    figures["seconds"] = received[-1].at - received[0].at
    figures["rate"] = (len(received) - 1) / figures["seconds"]
    _common.report(f"emails_per_second_per_worker_{label}", figures["rate"], "/s")
    _common.report(f"worker_peak_rss_{label}", figures["peak_rss"], "MB")
    return figures


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def main() -> None:
    args = _common.parse_scale(__doc__.splitlines()[0])
    n_small, n_large = int(SMALL * args.scale), int(LARGE * args.scale)
    celery_app.conf.task_always_eager = False
    queue = celery_app.conf.task_default_queue = f"cx-bench-{uuid.uuid4().hex[:12]}"
    with _common.bench_database("campaign") as name, tempfile.TemporaryDirectory(prefix="cxbench-") as folder:
        try:
            _common.report("database", f"{connection.vendor} {name}")
            _common.report("broker", settings.CELERY_BROKER_URL.split(":", 1)[0])
            _common.report("scale", args.scale)
            _common.report("load_average_at_start", _common.load_average())
            start = time.perf_counter()
            _common.report("build_customers", build(n_small, n_large), "customers")
            _common.report("contact_policy_quarantine_days", ContactPolicy.current().quarantine_days, "days")
            _common.report("build_seconds", time.perf_counter() - start, "s")
            survey = services.survey_save(
                survey=services.survey_from_template(template="nps", name="Bench NPS"),
                data={"status": "active"},
            )
            small = send_campaign("10k", survey, {"service_classes": ["premium"]}, queue, Path(folder))
            large = send_campaign("100k", survey, {"service_classes": ["economy"]}, queue, Path(folder))
        finally:
            drop_queue(queue)
        _common.report("invitations_create_seconds", large["create"], "s")
        _common.report("invitations_create_rate", large["made"] / large["create"], "rows/s")
        _common.report("emails_per_second_per_worker", large["rate"], "/s")
        _common.report("worker_peak_rss_growth_10k_to_100k", large["peak_rss"] - small["peak_rss"], "MB")
        _common.report("load_average_at_end", _common.load_average())


if __name__ == "__main__":
    main()
