"""Property: the one-query compilation of any rule set agrees with a plain Python reading of it."""

import operator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import ClientType, Customer, Event, EventKind, ServiceClass
from customers.segment_rules import compile_rules, validate_rules
from tests.customers.segment_rule_helpers import NOW
from tests.factories import TouchpointFactory

pytestmark = pytest.mark.django_db


# --- property: the one-query compilation agrees with a plain reading of the rules ----------------


KINDS = [EventKind.PURCHASE, EventKind.VISIT, EventKind.CONTACT]
DAYS_AGO = [0, 1, 2.5, 3, 10, 29.99, 30, 31]  # includes the exact edges of the windows below
WINDOWS = [None, 1, 3, 10, 30]
AMOUNTS = ["0.10", "0.20", "0.30"]  # sums of cents are where SQLite's float sums go astray
SLUGS = ["loyal", "doubting"]
ATTRIBUTE_VALUES = ["Kazan", "Moscow", "5", 5, 5.0, 7, 1, True, False, None, [5]]
RULE_VALUES = ["Kazan", "Moscow", "5", 5, 7, 1, True]
NUMBERS = [0, 1, 5, 5.5, 7]


def json_equal(stored, wanted) -> bool:
    """JSON equality: numbers by value, true/false only to themselves, text to text."""
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return type(stored) is type(wanted) and stored == wanted
    if isinstance(stored, int | float) and isinstance(wanted, int | float):
        return stored == wanted
    return isinstance(stored, str) and stored == wanted


def evaluate(rules: dict, who: dict, now: datetime) -> bool:
    results = (evaluate(r, who, now) if "rules" in r else evaluate_rule(r, who, now) for r in rules["rules"])
    return all(results) if rules["match"] == "all" else any(results)


def evaluate_rule(rule: dict, who: dict, now: datetime) -> bool:
    field, op, value = rule["field"], rule["op"], rule.get("value")
    compare = {
        "eq": operator.eq,
        "ne": operator.ne,
        "lt": operator.lt,
        "lte": operator.le,
        "gt": operator.gt,
        "gte": operator.ge,
    }.get(op)
    if field in ("recency_days", "purchase_count", "purchase_amount", "event_count"):
        events = [e for e in who["events"] if e["kind"] == rule.get("kind", EventKind.PURCHASE)]
        if rule.get("touchpoint") is not None:
            events = [e for e in events if e["touchpoint"] == rule["touchpoint"]]
        if rule.get("window_days"):
            events = [e for e in events if e["at"] >= now - timedelta(days=rule["window_days"])]
        if field == "recency_days":
            return bool(events) and compare(now - max(e["at"] for e in events), timedelta(days=value))
        if field == "purchase_amount":
            return compare(sum((e["amount"] for e in events), Decimal(0)), Decimal(value))
        return compare(len(events), value)
    if field == "attribute":
        present = rule["key"] in who["attributes"]
        stored = who["attributes"].get(rule["key"])
        if op == "exists":
            return present
        if op in ("eq", "ne"):
            return (present and json_equal(stored, value)) == (op == "eq")
        if op in ("in", "not_in"):
            return (present and any(json_equal(stored, v) for v in value)) == (op == "in")
        is_number = isinstance(stored, int | float) and not isinstance(stored, bool)
        return present and is_number and compare(stored, value)
    actual = who[field]
    wanted = value if op in ("in", "not_in") else [value]
    return (actual in wanted) == (op in ("eq", "in"))


EVENTS = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.sampled_from(DAYS_AGO),
        st.sampled_from([None, 0, 1]),
        st.sampled_from(AMOUNTS),
    ),
    max_size=6,
)
CUSTOMERS = st.lists(
    st.fixed_dictionaries(
        {
            "client_type": st.sampled_from([None, *SLUGS]),
            "lifecycle_stage": st.sampled_from(["interest", "purchase", "loyalty"]),
            "service_class": st.sampled_from(ServiceClass.values),
            "attributes": st.dictionaries(
                st.sampled_from(["city", "score"]), st.sampled_from(ATTRIBUTE_VALUES)
            ),
            "events": EVENTS,
        }
    ),
    min_size=6,
    max_size=10,
)


def windowed(**fields):
    return st.fixed_dictionaries(fields, optional={"window_days": st.sampled_from(WINDOWS)})


COMPARE = st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte"])
MEMBERSHIP = st.sampled_from(["eq", "ne", "in", "not_in"])
RULE = st.one_of(
    st.fixed_dictionaries(
        {
            "field": st.just("recency_days"),
            "op": st.sampled_from(["lt", "lte", "gt", "gte"]),
            "value": st.sampled_from([0, 1, 3, 10, 30]),
        }
    ),
    windowed(field=st.just("purchase_count"), op=COMPARE, value=st.integers(0, 3)),
    windowed(
        field=st.just("purchase_amount"),
        op=COMPARE,
        value=st.sampled_from(["0", "0.3", "0.4", "0.6", "0.9", 1]),
    ),
    windowed(
        field=st.just("event_count"),
        kind=st.sampled_from(KINDS),
        touchpoint=st.sampled_from([None, 0, 1]),  # an index into the example's touchpoints
        op=COMPARE,
        value=st.integers(0, 2),
    ),
    st.builds(
        lambda op, slugs: {"field": "client_type", "op": op, "value": slugs if "in" in op else slugs[0]},
        MEMBERSHIP,
        st.lists(st.sampled_from(SLUGS), min_size=1, max_size=2),
    ),
    st.builds(
        lambda field, op, values: {"field": field, "op": op, "value": values if "in" in op else values[0]},
        st.just("lifecycle_stage"),
        MEMBERSHIP,
        st.lists(st.sampled_from(["interest", "purchase", "loyalty"]), min_size=1, max_size=2),
    ),
    st.builds(
        lambda op, values: {"field": "service_class", "op": op, "value": values if "in" in op else values[0]},
        MEMBERSHIP,
        st.lists(st.sampled_from(ServiceClass.values), min_size=1, max_size=2),
    ),
    st.builds(
        lambda key, op, values: {
            "field": "attribute",
            "key": key,
            "op": op,
            "value": values if "in" in op else values[0],
        },
        st.sampled_from(["city", "score"]),
        MEMBERSHIP,
        st.lists(st.sampled_from(RULE_VALUES), min_size=1, max_size=3),
    ),
    st.builds(
        lambda key, op, value: {"field": "attribute", "key": key, "op": op, "value": value},
        st.sampled_from(["city", "score"]),
        st.sampled_from(["gt", "gte", "lt", "lte"]),
        st.sampled_from(NUMBERS),
    ),
    st.builds(
        lambda key: {"field": "attribute", "key": key, "op": "exists"}, st.sampled_from(["city", "score"])
    ),
)
RULE_SET = st.recursive(
    st.builds(
        lambda rules, match: {"match": match, "rules": rules},
        st.lists(RULE, min_size=1, max_size=3),
        st.sampled_from(["all", "any"]),
    ),
    lambda children: st.builds(
        lambda rules, match: {"match": match, "rules": rules},
        st.lists(st.one_of(RULE, children), min_size=1, max_size=3),
        st.sampled_from(["all", "any"]),
    ),
    max_leaves=6,
)


def leaves_of(rules: dict) -> list[dict]:
    return [leaf for child in rules["rules"] for leaf in (leaves_of(child) if "rules" in child else [child])]


def with_touchpoints(rules: dict, touchpoint_ids: list[int]) -> dict:
    children = []
    for child in rules["rules"]:
        if "rules" in child:
            child = with_touchpoints(child, touchpoint_ids)
        elif child.get("touchpoint") is not None:
            child = {**child, "touchpoint": touchpoint_ids[child["touchpoint"]]}
        children.append(child)
    return {**rules, "rules": children}


PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BEHAVIOUR_RULE = st.one_of(*[rule for rule in RULE.original_strategies[:4]])
# "all" groups of several behavioural rules: the compiler folds those reading the same events
# into one grouped subquery, the path most worth checking against the plain reading.
BEHAVIOUR_RULE_SET = st.builds(
    lambda rules: {"match": "all", "rules": rules}, st.lists(BEHAVIOUR_RULE, min_size=2, max_size=4)
)


@PROPERTY_SETTINGS
@given(people=CUSTOMERS, rule_sets=st.lists(RULE_SET, min_size=3, max_size=6))
def test_compiled_rules_agree_with_a_plain_reading(people, rule_sets):
    check_against_plain_reading(people, rule_sets)


@PROPERTY_SETTINGS
@given(people=CUSTOMERS, rule_sets=st.lists(BEHAVIOUR_RULE_SET, min_size=2, max_size=4))
def test_combined_behaviour_rules_agree_with_a_plain_reading(people, rule_sets):
    check_against_plain_reading(people, rule_sets)


def check_against_plain_reading(people, rule_sets):
    # Each example runs in a savepoint that is rolled back, so examples never see each other's rows.
    with transaction.atomic():
        touchpoint_ids = [TouchpointFactory().pk, TouchpointFactory().pk]
        types = {t.slug: t for t in ClientType.objects.filter(slug__in=SLUGS)}
        stored = Customer.objects.bulk_create(
            Customer(
                name=f"c{i}",
                client_type=types.get(p["client_type"]),
                lifecycle_stage=p["lifecycle_stage"],
                service_class=p["service_class"],
                attributes=p["attributes"],
            )
            for i, p in enumerate(people)
        )
        readable = {}
        rows = []
        for row, person in zip(stored, people, strict=True):
            events = [
                {
                    "kind": kind,
                    "at": NOW - timedelta(days=days),
                    "touchpoint": touchpoint_ids[tp] if tp is not None else None,
                    "amount": Decimal(amount) if kind == EventKind.PURCHASE else None,
                }
                for kind, days, tp, amount in person["events"]
            ]
            readable[row.pk] = {**person, "events": events}
            rows += [
                Event(
                    customer=row,
                    kind=e["kind"],
                    occurred_at=e["at"],
                    touchpoint_id=e["touchpoint"],
                    amount=e["amount"],
                )
                for e in events
            ]
        Event.objects.bulk_create(rows)

        # Every leaf rule is checked alone as well as inside its groups: alone it is the sharpest
        # probe of one field's SQL, and the data set is paid for already.
        leaves = [{"match": "all", "rules": [leaf]} for raw in rule_sets for leaf in leaves_of(raw)]
        for raw in [*rule_sets, *leaves]:
            rules = validate_rules(with_touchpoints(raw, touchpoint_ids))
            selected = set(
                Customer.objects.filter(compile_rules(rules, now=NOW)).values_list("pk", flat=True)
            )
            expected = {pk for pk, who in readable.items() if evaluate(rules, who, NOW)}
            assert selected == expected, rules
        transaction.set_rollback(True)
