"""SLA timers: one beat sweep over 100,000 open items, and creating items through the service layer.

Builds 3 business calendars (24/7; Mon-Fri 09:00-13:00 and 14:00-18:00 in Moscow with Russia's
public holidays; Mon-Sat 08:00-20:00 in Berlin) and 5 SLA policies over them, then 100,000 open
items (times --scale; PostgreSQL through COPY) logged over the past ten days, each with its
first-response and resolution clocks computed by feedback.business_time, as the service would.
Clocks whose warning or due moment passed before the last minute are stamped as the earlier sweeps
would have left them, so the timed sweep finds what one minute brings, as in production.
Prints:
  - `sla_sweep_seconds`: one services.sla_sweep (find the clocks to warn and to breach, stamp them,
    write the notices, escalate), best of 5, each rolled back (target: under 1 s);
  - `item_create_rate`: 10,000 items (times --scale) logged through services.items_create in calls
    of 500, each all-or-none, as an import does (target: 500 items/s);
  - `item_create_one_per_call_rate`: 1,000 more, one per call and transaction, as an agent or the
    web form logs them (item_create): the latency side of the same service, for comparison.
Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/cxbench .venv/bin/python bench/sla.py
"""

import random
import time
from datetime import UTC, datetime, timedelta

import _common

_common.setup_django()

from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402

from customers.models import Customer  # noqa: E402
from feedback import services  # noqa: E402
from feedback.business_time import add_business_seconds  # noqa: E402
from feedback.models import (  # noqa: E402
    BusinessCalendar,
    FeedbackItem,
    Holiday,
    SlaClock,
    SlaPolicy,
    WorkingHours,
)
from feedback.services.schedules import calendar_schedule  # noqa: E402

ITEMS = 100_000
CREATED = 10_000
CUSTOMERS = 5_000
IMPORT_BATCH = 500
ITEM_COLUMNS = (
    "id, kind, status, priority, channel, author_name, author_contact, subject, description, language, "
    "time_zone, review_source, review_url, public_answer, created_at, updated_at, reopened_count, "
    "resolution_note, status_token, assignee_id, customer_id, sla_policy_id"
)
CLOCK_COLUMNS = (
    "id, item_id, target, policy_id, target_seconds, warn_percent, state, started_at, running_since, "
    "used_seconds, due_at, warn_at, warned_at, breached_at"
)
SEGMENT_COLUMNS = "id, clock_id, kind, started_at, business_seconds, reason"


def calendars() -> list[BusinessCalendar]:
    always = BusinessCalendar.objects.create(name="24/7", time_zone="UTC", always_open=True)
    moscow = BusinessCalendar.objects.create(name="Moscow office", time_zone="Europe/Moscow")
    berlin = BusinessCalendar.objects.create(name="Berlin shop", time_zone="Europe/Berlin")
    hours = [(moscow, day, "09:00", "13:00") for day in range(5)] + [
        (moscow, day, "14:00", "18:00") for day in range(5)
    ]
    hours += [(berlin, day, "08:00", "20:00") for day in range(6)]
    WorkingHours.objects.bulk_create(
        WorkingHours(calendar=calendar, weekday=day, opens_at=start, closes_at=end)
        for calendar, day, start, end in hours
    )
    services.calendar_fill_holidays(calendar=moscow, country="RU", years=[2025, 2026, 2027])
    Holiday.objects.create(
        calendar=berlin, date=datetime(2026, 12, 24).date(), name="Christmas Eve", closed_from="14:00"
    )
    return [BusinessCalendar.objects.get(pk=c.pk) for c in (always, moscow, berlin)]


def policies(calendars_: list[BusinessCalendar]) -> list[SlaPolicy]:
    always, moscow, berlin = calendars_
    specs = [
        ("Urgent", 1, always, {"priorities": ["urgent"]}, 15, 240),
        ("Premium", 2, moscow, {"service_classes": ["premium"]}, 30, 480),
        ("Reviews", 3, berlin, {"kinds": ["review"]}, 120, 1440),
        ("Phone", 4, moscow, {"channels": ["phone"]}, 60, 960),
        ("Standard", 100, berlin, {}, 240, 2400),
    ]
    return [
        SlaPolicy.objects.create(
            name=name,
            position=position,
            calendar=calendar,
            first_response_minutes=first,
            resolution_minutes=resolution,
            **conditions,
        )
        for name, position, calendar, conditions, first, resolution in specs
    ]


def build(n_items: int, now: datetime) -> tuple[int, int]:
    """The open items and their clocks, as item_create would have made them; returns how many clocks
    are due in the sweep's minute (to warn, to breach)."""
    postgres = connection.vendor == "postgresql"

    def at(moment: datetime | None) -> str | None:
        if moment is None:
            return None
        moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") + ("+00" if postgres else "")

    rng = random.Random(7)
    agent = User.objects.create_user("bench-agent", "agent@example.com")
    Customer.objects.bulk_create(Customer(name=f"C{i}", email=f"c{i}@example.com") for i in range(CUSTOMERS))
    customer_ids = list(Customer.objects.values_list("pk", flat=True))
    all_policies = list(SlaPolicy.objects.select_related("calendar"))
    schedules = {p.pk: calendar_schedule(p.calendar) for p in all_policies}
    items, clocks, segments = [], [], []
    due = {"warn": 0, "breach": 0}
    last_minute = now - timedelta(minutes=1)
    for i in range(1, n_items + 1):
        policy = all_policies[i % len(all_policies)]
        created = now - timedelta(seconds=rng.randrange(10 * 86400))
        items.append(
            (
                i,
                "complaint",
                "new",
                "normal",
                "phone",
                "",
                "",
                f"Bench item {i}",
                "",
                "ru",
                "",
                "",
                "",
                "",
                at(created),
                at(created),
                0,
                "",
                f"bench-{i}",
                agent.pk,
                customer_ids[i % len(customer_ids)],
                policy.pk,
            )
        )
        for offset, (target, minutes) in enumerate(
            (("first_response", policy.first_response_minutes), ("resolution", policy.resolution_minutes))
        ):
            clock_id = 2 * i - 1 + offset
            seconds = minutes * 60
            due_at = add_business_seconds(schedules[policy.pk], created, seconds)
            warn_at = add_business_seconds(schedules[policy.pk], created, seconds * 80 // 100)
            warned = warn_at if warn_at <= last_minute else None
            breached = due_at if due_at <= last_minute else None
            due["warn"] += last_minute < warn_at <= now
            due["breach"] += last_minute < due_at <= now
            clocks.append(
                (
                    clock_id,
                    i,
                    target,
                    policy.pk,
                    seconds,
                    80,
                    "running",
                    at(created),
                    at(created),
                    0,
                    at(due_at),
                    at(warn_at),
                    at(warned),
                    at(breached),
                )
            )
            segments.append((clock_id, clock_id, "running", at(created), 0, ""))
    _common.insert_rows(FeedbackItem._meta.db_table, ITEM_COLUMNS, items)
    _common.insert_rows(SlaClock._meta.db_table, CLOCK_COLUMNS, clocks)
    _common.insert_rows("feedback_clocksegment", SEGMENT_COLUMNS, segments)
    if postgres:
        with connection.cursor() as cursor:
            for table in (FeedbackItem._meta.db_table, SlaClock._meta.db_table, "feedback_clocksegment"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
    _common.vacuum()
    return due["warn"], due["breach"]


def item_rows(n: int, customers: list[Customer]) -> list[dict]:
    return [
        {
            "kind": "complaint" if i % 3 else "request",
            "channel": ("phone", "email", "web_form")[i % 3],
            "priority": "urgent" if i % 50 == 0 else "normal",
            "customer": customers[i % len(customers)],
            "subject": f"Created {i}",
            "description": "Logged by the bench through the service layer.",
        }
        for i in range(n)
    ]


def create_items(n: int, batch: int) -> float:
    """Items per second through services.items_create, `batch` items per call (and transaction):
    1 is a request logging one item (item_create is items_create of one row)."""
    rows = item_rows(n, list(Customer.objects.all()[:1000]))
    start = time.perf_counter()
    for offset in range(0, n, batch):
        services.items_create(rows=rows[offset : offset + batch])
    return n / (time.perf_counter() - start)


def main() -> None:
    args = _common.parse_scale(__doc__.splitlines()[0])
    n_items, n_created = int(ITEMS * args.scale), int(CREATED * args.scale)
    with _common.bench_database("sla") as name:
        _common.report("database", f"{connection.vendor} {name}")
        _common.report("scale", args.scale)
        _common.report("load_average_at_start", _common.load_average())
        now = datetime.now(UTC)
        start = time.perf_counter()
        policies(calendars())
        to_warn, to_breach = build(n_items, now)
        _common.report("build_seconds", time.perf_counter() - start, "s")
        _common.report("open_items", FeedbackItem.objects.count(), "items")
        _common.report("clocks_due_to_warn", to_warn, "clocks")
        _common.report("clocks_due_to_breach", to_breach, "clocks")
        found = {}

        def sweep():
            found.update(services.sla_sweep(now=now))

        best = _common.best_of({"sweep": _common.rolled_back(sweep)}, repeat=5)["sweep"]
        _common.report("sweep_found_warned", found["warned"], "clocks")
        _common.report("sweep_found_breached", found["breached"], "clocks")
        _common.report("sla_sweep_seconds", best, "s")
        # An import (a mailbox's backlog, reviews gathered from review sites) in calls of 500 items,
        # each all-or-none: the creation target. Then the same service one item per call, as
        # agents and the web form log them, for comparison.
        _common.report("item_create_rate", create_items(n_created, batch=IMPORT_BATCH), "items/s")
        _common.report("item_create_one_per_call_rate", create_items(n_created // 10, batch=1), "items/s")
        _common.report("load_average_at_end", _common.load_average())


if __name__ == "__main__":
    main()
