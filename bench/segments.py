"""Segment refresh and bulk event ingest against hand-written SQL.

Builds 200,000 customers and 2,000,000 events (times --scale; PostgreSQL through COPY), then times
  - refreshing a three-rule segment through customers.services.segment_refresh, first (empty
    membership) and steady state (membership already there), against one hand-written statement
    doing the same job; judged by `segment_refresh_vs_sql` (target: at most 2 x);
  - ingesting 100,000 event payloads the way EventViewSet.create does (parse_events, then
    events_record) against COPY of the same rows; judged by `event_ingest_rate` (target: at least
    20,000 events/s).
Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/cxbench .venv/bin/python bench/segments.py
"""

import json
import math
import random
import time
from bisect import bisect
from datetime import datetime, timedelta
from itertools import accumulate

import _common

_common.setup_django()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from customers.event_ingest import parse_events  # noqa: E402
from customers.models import (  # noqa: E402
    ClientType,
    Customer,
    Event,
    Segment,
    SegmentMembership,
    Touchpoint,
)
from customers.segment_rules import compile_rules, validate_rules  # noqa: E402
from customers.services import events_record, segment_refresh  # noqa: E402

CUSTOMERS = 200_000
EVENTS = 2_000_000
INGEST = 100_000
HISTORY_DAYS = 730
REPEAT = 5  # timed refreshes of each kind; the best counts
EVENT_COLUMNS = "customer_id, kind, occurred_at, touchpoint_id, amount, data, external_id, recorded_at"
RULES = {
    "match": "all",
    "rules": [
        {"field": "recency_days", "op": "lte", "value": 30},
        {"field": "purchase_count", "window_days": 365, "op": "gte", "value": 3},
        {"field": "purchase_amount", "window_days": 365, "op": "gte", "value": 500},
    ],
}
# Mostly visits, purchases and contacts, as a retail stream is.
KINDS = {
    "visit": 50,
    "purchase": 22,
    "contact": 15,
    "click": 4,
    "question": 3,
    "survey_answered": 2,
    "engagement": 2,
    "review": 1,
    "complaint_opened": 1,
}
TOUCHPOINTS = [  # name, kind, journey stage
    ("Website", "website", "interest"),
    ("Mobile app", "mobile_app", "loyalty"),
    ("Flagship store", "store", "purchase"),
    ("Call centre", "call_centre", "evaluation"),
    ("E-mail", "email", "loyalty"),
    ("Social network", "social_network", "attraction"),
    ("Reception", "reception", "evaluation"),
]
# Where each kind of event happens (by index into TOUCHPOINTS); None: no touchpoint recorded.
KIND_TOUCHPOINTS = {
    "visit": [0, 0, 0, 1, 1, 2],
    "purchase": [0, 0, 1, 2, 2],
    "contact": [3, 3, 4, 5, 6, None],
    "click": [0, 5],
    "question": [3, 4, 5],
    "survey_answered": [4, None],
    "engagement": [5],
    "review": [0, 5],
    "complaint_opened": [3, 4, None],
}
SERVICE_CLASSES = [("economy", 60, 1.0), ("comfort", 30, 1.6), ("premium", 10, 3.0)]
CITIES = ["Kazan", "Moscow", "Samara", "Perm", "Ufa", "Tver", "Omsk"]


# --- data ------------------------------------------------------------------------------------------


def build(scale: float, now: datetime, rng: random.Random) -> dict:
    """Customers with skewed activity over two years, and their event stream in time order."""
    postgres = connection.vendor == "postgresql"
    stamp = _common.Timestamps("+00" if postgres else "")
    yes, no = ("t", "f") if postgres else (1, 0)
    now_ts = int(now.timestamp())
    n_customers, n_events = int(CUSTOMERS * scale), int(EVENTS * scale)

    touchpoints = [
        Touchpoint.objects.create(name=name, kind=kind, journey_stage=stage).pk
        for name, kind, stage in TOUCHPOINTS
    ]
    client_types = list(ClientType.objects.values_list("pk", flat=True)) + [None] * 5
    kinds = list(KINDS)
    kind_weights = list(accumulate(KINDS.values()))
    class_weights = list(accumulate(w for _, w, _ in SERVICE_CLASSES))

    # Activity: a lognormal rate per customer over the span they were active (a third have churned).
    people = []
    for _ in range(n_customers):
        joined = now_ts - int(HISTORY_DAYS * 86400 * rng.random())
        left = joined + int((now_ts - joined) * rng.random()) if rng.random() < 0.35 else now_ts
        service_class = bisect(class_weights, rng.random() * class_weights[-1])
        people.append((joined, left, rng.lognormvariate(0, 1.2), service_class))
    exposure = sum(rate * (left - joined) for joined, left, rate, _ in people)

    events, purchases = [], [0] * n_customers
    for i, (joined, left, rate, service_class) in enumerate(people):
        span = left - joined
        expected = rate * span * n_events / exposure
        spend = SERVICE_CLASSES[service_class][2]
        for _ in range(int(expected + rng.random())):
            kind = kinds[bisect(kind_weights, rng.random() * kind_weights[-1])]
            place = rng.choice(KIND_TOUCHPOINTS[kind])
            amount = None
            if kind == "purchase":
                amount = f"{rng.lognormvariate(4.1, 0.8) * spend:.2f}"  # median ~60
                purchases[i] += 1
            touchpoint = None if place is None else touchpoints[place]
            events.append((joined + int(span * rng.random()), i + 1, kind, touchpoint, amount))
    events.sort()

    customer_rows = []
    for i, (joined, _left, _rate, service_class) in enumerate(people):
        bought = purchases[i]
        stage = (
            ("loyalty" if bought > 1 else "purchase")
            if bought
            else rng.choice(["attraction", "interest", "evaluation"])
        )
        consent = rng.random() < 0.6
        customer_rows.append(
            (
                i + 1,
                f"Customer {i + 1}",
                f"customer{i + 1}@example.com",
                f"+7900{i + 1:07d}",
                "",
                f"CRM-{i + 1:07d}",
                rng.choice(client_types),
                stage,
                stamp(joined),
                SERVICE_CLASSES[service_class][0],
                yes if consent else no,
                "email",
                "en",
                json.dumps({"city": rng.choice(CITIES), "visits": rng.randint(0, 50)}),
                stamp(joined),
                stamp(joined),
            )
        )
    recorded = stamp(now_ts)
    event_rows = (
        (n + 1, customer, kind, stamp(at), touchpoint, amount, "{}", None, recorded)
        for n, (at, customer, kind, touchpoint, amount) in enumerate(events)
    )
    customer_columns = (
        "id, name, email, phone, company, external_id, client_type_id, lifecycle_stage, "
        "lifecycle_stage_changed_at, service_class, survey_consent, survey_consent_channel, language, "
        "attributes, created_at, updated_at"
    )
    event_columns = (
        "id, customer_id, kind, occurred_at, touchpoint_id, amount, data, external_id, recorded_at"
    )
    _common.insert_rows(Customer._meta.db_table, customer_columns, customer_rows)
    _common.insert_rows(Event._meta.db_table, event_columns, event_rows)
    if postgres:
        with connection.cursor() as cursor:
            for model in (Customer, Event):
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
    _common.vacuum()
    active = [(i + 1, rate) for i, (_, left, rate, _) in enumerate(people) if left == now_ts]
    return {
        "customers": n_customers,
        "events": len(events),
        "touchpoints": touchpoints,
        "active_ids": [pk for pk, _ in active],
        "active_weights": list(accumulate(rate for _, rate in active)),
    }


# --- segment refresh -------------------------------------------------------------------------------


def matching_sql(now: datetime) -> tuple[str, list]:
    """The segment's customers by hand: one pass over the year's purchases, three conditions."""
    adapt = connection.ops.adapt_datetimefield_value
    sql = (
        f"SELECT customer_id FROM {Event._meta.db_table} WHERE kind = 'purchase' AND occurred_at >= %s "
        "GROUP BY customer_id HAVING max(occurred_at) >= %s AND count(*) >= 3 AND sum(amount) >= 500"
    )
    return sql, [adapt(now - timedelta(days=365)), adapt(now - timedelta(days=30))]


def refresh_sql(segment_id: int, now: datetime) -> tuple[int, int, int]:
    """The refresh as written by hand: the three rules are one pass over the recent purchases
    (recency within 30 days implies a purchase within the 365-day window), evaluated once."""
    membership, segments = SegmentMembership._meta.db_table, Segment._meta.db_table
    matching, (since_year, since_month) = matching_sql(now)
    at = connection.ops.adapt_datetimefield_value(now)
    with transaction.atomic(), connection.cursor() as cursor:
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        cursor.execute(f"SELECT id FROM {segments} WHERE id = %s{lock}", [segment_id])
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH matching AS MATERIALIZED ({matching}), "
                f"removed AS (DELETE FROM {membership} s WHERE s.segment_id = %s "
                "AND NOT EXISTS (SELECT 1 FROM matching m WHERE m.customer_id = s.customer_id) RETURNING 1), "
                f"added AS (INSERT INTO {membership} (segment_id, customer_id, added_at) "
                "SELECT %s, customer_id, %s FROM matching "
                "ON CONFLICT (segment_id, customer_id) DO NOTHING RETURNING 1) "
                "SELECT (SELECT count(*) FROM matching), (SELECT count(*) FROM added), "
                "(SELECT count(*) FROM removed)",
                [since_year, since_month, segment_id, segment_id, at],
            )
            members, added, removed = cursor.fetchone()
        else:  # no data-modifying CTEs: the matching ids go through a temporary table
            cursor.execute("DROP TABLE IF EXISTS temp.matching")
            cursor.execute(f"CREATE TEMP TABLE matching AS {matching}", [since_year, since_month])
            cursor.execute(
                f"DELETE FROM {membership} WHERE segment_id = %s "
                "AND customer_id NOT IN (SELECT customer_id FROM temp.matching)",
                [segment_id],
            )
            removed = cursor.rowcount
            cursor.execute(
                f"INSERT INTO {membership} (segment_id, customer_id, added_at) "
                "SELECT %s, customer_id, %s FROM temp.matching WHERE true "
                "ON CONFLICT (segment_id, customer_id) DO NOTHING",
                [segment_id, at],
            )
            added = cursor.rowcount
            cursor.execute("SELECT count(*) FROM temp.matching")
            (members,) = cursor.fetchone()
            cursor.execute("DROP TABLE temp.matching")
        cursor.execute(
            f"UPDATE {segments} SET member_count = %s, refreshed_at = %s WHERE id = %s",
            [members, at, segment_id],
        )
        cursor.execute(
            "INSERT INTO customers_segmentsnapshot (segment_id, computed_at, member_count, added, removed) "
            "VALUES (%s, %s, %s, %s, %s)",
            [segment_id, at, members, added, removed],
        )
    return members, added, removed


def bench_refresh(now: datetime, n_customers: int, explain: bool) -> None:
    segment = Segment.objects.create(name="Recent big spenders", rules=validate_rules(RULES))
    membership = SegmentMembership._meta.db_table

    def clear():
        SegmentMembership.objects.filter(segment=segment).delete()
        _common.vacuum(membership, analyze=False)

    def service():
        segment_refresh(segment_id=segment.pk, now=now)

    def sql():
        refresh_sql(segment.pk, now)

    service()  # warm-up; leaves the membership in place
    members = Segment.objects.get(pk=segment.pk).member_count
    _common.rolled_back(
        lambda: check(refresh_sql(segment.pk, now)[0] == members, "the SQL finds other members")
    )()
    steady = _common.best_of({"service": service, "sql": _common.rolled_back(sql)}, repeat=REPEAT)
    first = _common.best_of(
        {"service": service, "sql": _common.rolled_back(sql)}, repeat=REPEAT, before=clear
    )

    _common.report("segment_members", members, "customers")
    _common.report("segment_members_share", 100 * members / max(n_customers, 1), "%")
    _common.report("segment_refresh_first_seconds", first["service"], "s")
    _common.report("segment_refresh_first_sql_seconds", first["sql"], "s")
    _common.report("segment_refresh_first_vs_sql", first["service"] / first["sql"], "x")
    _common.report("segment_refresh_seconds", steady["service"], "s")
    _common.report("segment_refresh_sql_seconds", steady["sql"], "s")
    print("segment_refresh_vs_sql_measures: steady_state (membership already there)", flush=True)
    _common.report("segment_refresh_vs_sql", steady["service"] / steady["sql"], "x")
    if explain:
        explain_refresh(segment, now)


def explain_refresh(segment: Segment, now: datetime) -> None:
    """Each statement segment_refresh runs, with its time and plan (PostgreSQL: EXPLAIN ANALYZE),
    after the plan of the hand-written SQL's matching customers."""
    print("\n# compiled rules:", str(Customer.objects.filter(compile_rules(segment.rules, now=now)).query))
    statements = []

    def capture(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((f"{time.perf_counter() - start:.3f} s", sql, params))

    segment_refresh(segment_id=segment.pk, now=now)  # so the one captured is a steady-state refresh
    with connection.execute_wrapper(capture):
        segment_refresh(segment_id=segment.pk, now=now)
    for label, sql, params in [("hand-written matching", *matching_sql(now)), *statements]:
        print(f"\n# {label}: {sql[:200]}")
        if sql.lstrip().split()[0] not in ("SELECT", "INSERT", "DELETE"):
            continue
        postgres = connection.vendor == "postgresql"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                ("EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN ") + sql, params
            )
            print("\n".join(row[0] if postgres else f"{row[1]:>3} {row[0]:>3} {row[-1]}" for row in cursor))
            transaction.set_rollback(True)


# --- event ingest -------------------------------------------------------------------------------------


def payloads(data: dict, now: datetime, count: int, rng: random.Random) -> list[dict]:
    """What a bulk POST to /api/events/ carries: the last day's events of the active customers."""
    stamp = _common.Timestamps("Z", separator="T")
    now_ts = int(now.timestamp())
    kinds = list(KINDS)
    kind_weights = list(accumulate(KINDS.values()))
    ids, weights = data["active_ids"], data["active_weights"]
    items = []
    for _ in range(count):
        kind = kinds[bisect(kind_weights, rng.random() * kind_weights[-1])]
        item = {
            "customer": ids[bisect(weights, rng.random() * weights[-1])],
            "kind": kind,
            "occurred_at": stamp(now_ts - int(86400 * rng.random())),
        }
        place = rng.choice(KIND_TOUCHPOINTS[kind])
        if place is not None:
            item["touchpoint"] = data["touchpoints"][place]
        if kind == "purchase":
            item["amount"] = f"{rng.lognormvariate(4.1, 0.8):.2f}"
        items.append(item)
    return items


def ingest_copy(items: list[dict], recorded: str) -> None:
    """The floor: the payloads' values straight into COPY, the database parsing the text."""
    lines = [
        f"{i['customer']}\t{i['kind']}\t{i['occurred_at']}\t{i.get('touchpoint', _common.NULL)}\t"
        f"{i.get('amount', _common.NULL)}\t{{}}\t{_common.NULL}\t{recorded}"
        for i in items
    ]
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY customers_event ({EVENT_COLUMNS}) FROM STDIN") as copy,
    ):
        for start in range(0, len(lines), 50_000):
            copy.write("\n".join(lines[start : start + 50_000]) + "\n")


def ingest_executemany(items: list[dict], recorded: str) -> None:
    """The floor where there is no COPY (SQLite): one prepared INSERT run for every row."""
    marks = ", ".join(["%s"] * len(EVENT_COLUMNS.split(",")))
    rows = [
        # The time as SQLite stores it (naive UTC); the payloads' times are all in UTC.
        (i["customer"], i["kind"], i["occurred_at"].replace("T", " ").removesuffix("Z"))
        + (i.get("touchpoint"), i.get("amount"), "{}", None, recorded)
        for i in items
    ]
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO customers_event ({EVENT_COLUMNS}) VALUES ({marks})", rows)


def bench_ingest(data: dict, now: datetime, count: int, rng: random.Random) -> None:
    items = payloads(data, now, count, rng)
    body = json.dumps(items).encode()
    decode = _common.best_of({"decode": lambda: json.loads(body)}, repeat=3)["decode"]
    postgres = connection.vendor == "postgresql"
    floor, write = ("copy", ingest_copy) if postgres else ("executemany", ingest_executemany)
    recorded = str(connection.ops.adapt_datetimefield_value(now))
    parts = {}

    def service():  # what EventViewSet.create does with request.data
        start = time.perf_counter()
        parsed = parse_events(items)
        parsed_at = time.perf_counter()
        result = events_record(events=parsed)
        done = time.perf_counter()
        check(result.created == count, "events_record stored fewer events than sent")
        if done - start < parts.get("total", math.inf):
            parts.update(total=done - start, parse=parsed_at - start, record=done - parsed_at)

    def settle():
        _common.vacuum(Event._meta.db_table, analyze=False)  # the rolled-back rows of the previous run

    best = _common.best_of(
        {"service": _common.rolled_back(service), "sql": _common.rolled_back(lambda: write(items, recorded))},
        repeat=3,
        before=settle,
    )
    settle()

    _common.report("event_ingest_events", count, "events")
    _common.report("event_ingest_json_decode_seconds", decode, "s")
    _common.report("event_ingest_parse_seconds", parts["parse"], "s")
    _common.report("event_ingest_record_seconds", parts["record"], "s")
    _common.report("event_ingest_seconds", best["service"], "s")
    _common.report("event_ingest_rate", count / best["service"], "events/s")
    print(
        f"event_ingest_sql_measures: {floor} of the same rows (JSON decoding excluded from both)", flush=True
    )
    _common.report("event_ingest_sql_seconds", best["sql"], "s")
    _common.report("event_ingest_sql_rate", count / best["sql"], "events/s")
    _common.report("event_ingest_vs_sql", best["service"] / best["sql"], "x")


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def main() -> None:
    args = _common.parse_scale(__doc__.splitlines()[0])
    rng = random.Random(20240501)
    with _common.bench_database("segments") as name:
        _common.report("database", f"{connection.vendor} {name}")
        _common.report("scale", args.scale)
        _common.report("load_average_at_start", _common.load_average())
        now = timezone.now().replace(microsecond=0)
        start = time.perf_counter()
        data = build(args.scale, now, rng)
        _common.report("build_customers", data["customers"], "customers")
        _common.report("build_events", data["events"], "events")
        _common.report("build_seconds", time.perf_counter() - start, "s")
        bench_refresh(now, data["customers"], args.explain)
        bench_ingest(data, now, int(INGEST * args.scale), rng)
        _common.report("load_average_at_end", _common.load_average())


if __name__ == "__main__":
    main()
