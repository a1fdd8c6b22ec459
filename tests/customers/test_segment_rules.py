"""The segment rule language: validation errors name their path, and compiled rules match exactly.

Semantics are checked two ways: hand-built cases per field and op (the edges a set-based query gets
wrong: customers with no events, the complement trick, window boundaries, missing attributes), and a
property test comparing the one-query compilation with a plain Python reading of the same rules.
"""

import json
import operator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import ClientType, Customer, Event, EventKind, LifecycleStage, ServiceClass
from customers.segment_rules import MAX_DAYS, MAX_DEPTH, MAX_RULES, compile_rules, validate_rules
from tests.factories import CustomerFactory, TouchpointFactory

pytestmark = pytest.mark.django_db

# A fixed instant with microseconds, so events placed exactly on a window's edge are exact on both
# databases (SQLite stores datetimes as text and drops a zero fraction).
NOW = datetime(2025, 6, 15, 12, 0, 0, 123456, tzinfo=UTC)


def group(*rules, match="all"):
    return {"match": match, "rules": list(rules)}


def errors_of(rules) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        validate_rules(rules)
    return caught.value.message_dict["rules"]


def matching(*rules, match="all", now=NOW) -> set[str]:
    """Names of the customers the (validated) rules select, through the compiled query."""
    q = compile_rules(validate_rules(group(*rules, match=match)), now=now)
    return set(Customer.objects.filter(q).values_list("name", flat=True))


def customer(name, **fields):
    return CustomerFactory(name=name, **fields)


def event(who, kind=EventKind.VISIT, *, days_ago=1.0, amount=None, touchpoint=None):
    if kind == EventKind.PURCHASE and amount is None:
        amount = "10.00"
    return Event.objects.create(
        customer=who,
        kind=kind,
        occurred_at=NOW - timedelta(days=days_ago),
        amount=Decimal(amount) if amount is not None else None,
        touchpoint=touchpoint,
    )


def purchases(who, *days_ago, amount="10.00"):
    for days in days_ago:
        event(who, EventKind.PURCHASE, days_ago=days, amount=amount)


# --- validation ---------------------------------------------------------------------------------


@pytest.fixture
def touchpoint():
    return TouchpointFactory()


BAD_RULES = [
    # (rule, path the error must name, a word of its message)
    ({"field": "age", "op": "eq", "value": 3}, "rules[0].field", "must be one of"),
    ({"op": "eq", "value": 3}, "rules[0].field", "must be one of"),
    ({"field": "recency_days", "op": "eq", "value": 3}, "rules[0].op", "recency_days"),
    ({"field": "purchase_count", "op": "in", "value": [3]}, "rules[0].op", "purchase_count"),
    ({"field": "client_type", "op": "gt", "value": "loyal"}, "rules[0].op", "client_type"),
    ({"field": "attribute", "key": "city", "op": "contains", "value": "a"}, "rules[0].op", "attribute"),
    ({"field": "purchase_count", "op": "gte", "value": -1}, "rules[0].value", "whole number"),
    ({"field": "purchase_count", "op": "gte", "value": 2.5}, "rules[0].value", "whole number"),
    ({"field": "purchase_count", "op": "gte", "value": 2.0}, "rules[0].value", "whole number"),
    ({"field": "purchase_count", "op": "gte", "value": True}, "rules[0].value", "whole number"),
    ({"field": "purchase_count", "op": "gte", "value": "3"}, "rules[0].value", "whole number"),
    ({"field": "purchase_count", "op": "gte"}, "rules[0].value", "whole number"),
    ({"field": "recency_days", "op": "lt", "value": -5}, "rules[0].value", "whole number"),
    # Beyond a century the date arithmetic overflows: it must be a 400, not a 500 at refresh.
    ({"field": "recency_days", "op": "lt", "value": MAX_DAYS + 1}, "rules[0].value", "at most"),
    ({"field": "purchase_count", "op": "gte", "value": 1, "window_days": 0}, "rules[0].window_days", "1 or"),
    (
        {"field": "purchase_count", "op": "gte", "value": 1, "window_days": 7.5},
        "rules[0].window_days",
        "whole",
    ),
    (
        {"field": "purchase_count", "op": "gte", "value": 1, "window_days": "30"},
        "rules[0].window_days",
        "whole",
    ),
    (
        {"field": "purchase_count", "op": "gte", "value": 1, "window_days": False},
        "rules[0].window_days",
        "whole",
    ),
    (
        {"field": "purchase_count", "op": "gte", "value": 1, "window_days": 10**6},
        "rules[0].window_days",
        "most",
    ),
    ({"field": "event_count", "op": "gte", "value": 1}, "rules[0].kind", "must be one of"),
    (
        {"field": "event_count", "kind": "teleport", "op": "gte", "value": 1},
        "rules[0].kind",
        "must be one of",
    ),
    ({"field": "event_count", "kind": "visit", "op": "gte", "value": -2}, "rules[0].value", "whole number"),
    (
        {"field": "event_count", "kind": "visit", "touchpoint": 987654, "op": "gte", "value": 1},
        "rules[0].touchpoint",
        "no touchpoint with id 987654",
    ),
    (
        {"field": "event_count", "kind": "visit", "touchpoint": "web", "op": "gte", "value": 1},
        "rules[0].touchpoint",
        "touchpoint id",
    ),
    ({"field": "purchase_amount", "op": "gte", "value": -1}, "rules[0].value", "amount"),
    ({"field": "purchase_amount", "op": "gte", "value": "lots"}, "rules[0].value", "amount"),
    ({"field": "purchase_amount", "op": "gte", "value": "NaN"}, "rules[0].value", "amount"),
    ({"field": "purchase_amount", "op": "gte", "value": True}, "rules[0].value", "amount"),
    ({"field": "purchase_amount", "op": "gte", "value": None}, "rules[0].value", "amount"),
    ({"field": "client_type", "op": "eq", "value": "vip"}, "rules[0].value", "unknown client type vip"),
    ({"field": "client_type", "op": "in", "value": ["loyal", "vip"]}, "rules[0].value", "vip"),
    ({"field": "client_type", "op": "in", "value": []}, "rules[0].value", "non-empty list"),
    ({"field": "client_type", "op": "not_in", "value": "loyal"}, "rules[0].value", "non-empty list"),
    # A list or object where one name is expected used to raise TypeError (a 500).
    ({"field": "client_type", "op": "in", "value": [{"slug": "loyal"}]}, "rules[0].value", "names"),
    ({"field": "lifecycle_stage", "op": "eq", "value": ["loyalty"]}, "rules[0].value", "name"),
    (
        {"field": "lifecycle_stage", "op": "eq", "value": "zombie"},
        "rules[0].value",
        "unknown lifecycle stage",
    ),
    ({"field": "lifecycle_stage", "op": "not_in", "value": ["loyalty", "x"]}, "rules[0].value", "stage x"),
    ({"field": "service_class", "op": "eq", "value": "platinum"}, "rules[0].value", "unknown service class"),
    ({"field": "attribute", "key": "home city", "op": "eq", "value": "a"}, "rules[0].key", "attribute name"),
    ({"field": "attribute", "key": "city;drop", "op": "eq", "value": "a"}, "rules[0].key", "attribute name"),
    ({"field": "attribute", "key": "1st", "op": "eq", "value": "a"}, "rules[0].key", "attribute name"),
    ({"field": "attribute", "key": "", "op": "eq", "value": "a"}, "rules[0].key", "attribute name"),
    ({"field": "attribute", "key": 7, "op": "eq", "value": "a"}, "rules[0].key", "attribute name"),
    ({"field": "attribute", "op": "exists"}, "rules[0].key", "attribute name"),
    ({"field": "attribute", "key": "city", "op": "eq", "value": None}, "rules[0].value", "string, number"),
    (
        {"field": "attribute", "key": "city", "op": "eq", "value": {"a": 1}},
        "rules[0].value",
        "string, number",
    ),
    ({"field": "attribute", "key": "city", "op": "in", "value": []}, "rules[0].value", "non-empty list"),
    ({"field": "attribute", "key": "city", "op": "in", "value": "Kazan"}, "rules[0].value", "non-empty list"),
    ({"field": "attribute", "key": "city", "op": "not_in", "value": [None]}, "rules[0].value", "strings"),
    ({"field": "attribute", "key": "age", "op": "gt", "value": "30"}, "rules[0].value", "number"),
    ({"field": "attribute", "key": "age", "op": "gt", "value": True}, "rules[0].value", "number"),
    ({"field": "attribute", "key": "age", "op": "exists", "value": 3}, "rules[0].value", "no value"),
    # Keys another field takes are not silently ignored.
    (
        {"field": "purchase_count", "op": "gte", "value": 1, "kind": "visit"},
        "rules[0]",
        "unknown keys ['kind']",
    ),
    ({"field": "recency_days", "op": "lt", "value": 3, "window_days": 30}, "rules[0]", "window_days"),
    ({"field": "attribute", "key": "a", "op": "eq", "value": 1, "colour": "red"}, "rules[0]", "colour"),
    ({"field": "lifecycle_stage", "op": "eq", "value": "loyalty", "key": "x"}, "rules[0]", "unknown keys"),
    ("purchase_count >= 3", "rules[0]", "must be an object"),
    (None, "rules[0]", "must be an object"),
]


@pytest.mark.parametrize(("rule", "path", "words"), BAD_RULES)
def test_malformed_rule_is_rejected_naming_its_path(rule, path, words):
    errors = errors_of(group({"field": "purchase_count", "op": "gte", "value": 1}, rule))
    # The bad rule is the second one: its path must say so, and the good first rule adds nothing.
    path = path.replace("rules[0]", "rules[1]")
    assert any(e.startswith(f"{path}: ") and words in e for e in errors), errors
    assert not any(e.startswith("rules[0]") for e in errors), errors


def test_event_count_touchpoint_is_checked_against_the_database(touchpoint):
    rules = group(
        {"field": "event_count", "kind": "contact", "touchpoint": touchpoint.pk, "op": "gte", "value": 1}
    )
    assert validate_rules(rules)["rules"][0]["touchpoint"] == touchpoint.pk
    touchpoint_id = touchpoint.pk
    touchpoint.delete()
    assert errors_of(rules) == [f"rules[0].touchpoint: no touchpoint with id {touchpoint_id}"]


@pytest.mark.parametrize(
    ("rules", "path", "words"),
    [
        (None, "rules", "must be an object"),
        ([{"field": "purchase_count", "op": "gte", "value": 1}], "rules", "must be an object"),
        ("all", "rules", "must be an object"),
        (3, "rules", "must be an object"),
        ({}, "rules.rules", "non-empty list"),
        ({"match": "all", "rules": []}, "rules.rules", "non-empty list"),
        ({"match": "all", "rules": {"field": "x"}}, "rules.rules", "non-empty list"),
        (
            {"match": "some", "rules": [{"field": "purchase_count", "op": "gte", "value": 1}]},
            "rules.match",
            "any",
        ),
        (
            {"match": "ALL", "rules": [{"field": "purchase_count", "op": "gte", "value": 1}]},
            "rules.match",
            "all",
        ),
        (
            {"match": "all", "rules": [{"field": "purchase_count", "op": "gte", "value": 1}], "name": "x"},
            "rules",
            "unknown keys ['name']",
        ),
        (group(group()), "rules[0].rules", "non-empty list"),
        (group({"rules": [], "match": "any"}), "rules[0].rules", "non-empty list"),
        (
            group({"field": "purchase_count", "op": "gte", "value": 1}, group({"field": "x"}, match="every")),
            "rules[1].match",
            "must be",
        ),
        (
            group(group({"field": "purchase_count", "op": "gte", "value": 1}, {"field": "x"})),
            "rules[0].rules[1].field",
            "must be one of",
        ),
    ],
)
def test_malformed_group_is_rejected_naming_its_path(rules, path, words):
    errors = errors_of(rules)
    assert any(e.startswith(f"{path}: ") and words in e for e in errors), errors


def nested(depth: int) -> dict:
    rules = group({"field": "purchase_count", "op": "gte", "value": 1})
    for _ in range(depth - 1):
        rules = group(rules)
    return rules


def test_groups_nest_up_to_the_limit_and_no_deeper():
    validate_rules(nested(MAX_DEPTH))
    errors = errors_of(nested(MAX_DEPTH + 1))
    # The sixth group down is the one refused, named by its full path.
    assert errors == ["rules[0]" + ".rules[0]" * (MAX_DEPTH - 1) + f": groups nest at most {MAX_DEPTH} deep"]


def test_rule_count_is_capped():
    rule = {"field": "purchase_count", "op": "gte", "value": 1}
    validate_rules(group(*[rule] * MAX_RULES))
    errors = errors_of(group(group(*[rule] * MAX_RULES), rule))
    assert errors == [f"rules[1]: a segment has at most {MAX_RULES} rules"]


def test_every_bad_part_is_reported_at_once():
    errors = errors_of(
        group(
            {"field": "purchase_count", "op": "gte", "value": -1},
            group({"field": "attribute", "key": "bad key", "op": "exists"}, match="any"),
            {"field": "lifecycle_stage", "op": "eq", "value": "zombie"},
            match="either",
        )
    )
    assert [e.split(":")[0] for e in errors] == [
        "rules.match",
        "rules[0].value",
        "rules[1].rules[0].key",
        "rules[2].value",
    ]


def test_valid_rules_are_normalised_and_normalising_is_stable(touchpoint):
    rules = {
        "rules": [  # "match" left out: it defaults to all
            {"field": "purchase_amount", "op": "gte", "value": 100, "window_days": None},
            {"field": "purchase_amount", "op": "lt", "value": 49.9, "window_days": 30},
            {"field": "event_count", "kind": "contact", "touchpoint": touchpoint.pk, "op": "eq", "value": 0},
            {"match": "any", "rules": [{"field": "attribute", "key": "vip", "op": "exists", "value": True}]},
            {"field": "client_type", "op": "not_in", "value": ["loyal", "doubting"]},
        ]
    }
    normalised = validate_rules(rules)
    assert normalised == {
        "match": "all",
        "rules": [
            # Amounts become exact decimal strings; an empty window is dropped.
            {"field": "purchase_amount", "op": "gte", "value": "100"},
            {"field": "purchase_amount", "op": "lt", "value": "49.9", "window_days": 30},
            {"field": "event_count", "op": "eq", "kind": "contact", "touchpoint": touchpoint.pk, "value": 0},
            {"match": "any", "rules": [{"field": "attribute", "op": "exists", "key": "vip"}]},
            {"field": "client_type", "op": "not_in", "value": ["loyal", "doubting"]},
        ],
    }
    # Segment.clean() validates the stored (normalised) rules again on every save.
    assert validate_rules(normalised) == normalised
    json.dumps(normalised)  # it is stored in a JSONField


# --- semantics, field by field ------------------------------------------------------------------------


def test_recency_days_counts_purchases_only_and_never_matches_who_never_bought():
    recent = customer("recent")
    purchases(recent, 40, 2)
    on_edge = customer("on the edge")
    purchases(on_edge, 30)  # exactly 30 days before NOW
    old = customer("old")
    purchases(old, 45)
    never = customer("never bought")
    event(never, EventKind.VISIT, days_ago=0.5)  # recent activity that is not a purchase

    assert matching({"field": "recency_days", "op": "lt", "value": 30}) == {"recent"}
    assert matching({"field": "recency_days", "op": "lte", "value": 30}) == {"recent", "on the edge"}
    assert matching({"field": "recency_days", "op": "gt", "value": 30}) == {"old"}
    assert matching({"field": "recency_days", "op": "gte", "value": 30}) == {"on the edge", "old"}
    assert matching({"field": "recency_days", "op": "gte", "value": 0}) == {"recent", "on the edge", "old"}


@pytest.fixture
def buyers():
    """Customers with 0 (but other events), 1, 2 and 3 purchases, and one with no events at all."""
    for name, count in [("zero", 0), ("one", 1), ("two", 2), ("three", 3)]:
        who = customer(name)
        event(who, EventKind.VISIT)
        purchases(who, *[5] * count)
    customer("silent")


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        # Zero satisfies these: compiled as the complement, they must take customers with no purchases.
        ("lt", 3, {"silent", "zero", "one", "two"}),
        ("lte", 1, {"silent", "zero", "one"}),
        ("eq", 0, {"silent", "zero"}),
        ("ne", 2, {"silent", "zero", "one", "three"}),
        ("gte", 0, {"silent", "zero", "one", "two", "three"}),
        # Zero fails these: customers without purchases must stay out.
        ("gte", 1, {"one", "two", "three"}),
        ("gt", 1, {"two", "three"}),
        ("eq", 2, {"two"}),
        ("ne", 0, {"one", "two", "three"}),
        ("lt", 0, set()),
    ],
)
def test_purchase_count_with_and_without_purchases(buyers, op, value, expected):
    assert matching({"field": "purchase_count", "op": op, "value": value}) == expected


def test_purchase_count_window_includes_its_first_instant_and_nothing_before():
    inside = customer("inside")
    purchases(inside, 1, 30)  # the second one exactly on the window's start
    outside = customer("outside")
    purchases(outside, 1, 30.0001, 90)  # a few seconds too early, and long ago
    customer("never")

    window = {"field": "purchase_count", "window_days": 30}
    assert matching({**window, "op": "gte", "value": 2}) == {"inside"}
    assert matching({**window, "op": "eq", "value": 1}) == {"outside"}
    # Only old purchases is "none in the window", like never having bought.
    assert matching({**window, "op": "lt", "value": 2}) == {"outside", "never"}
    assert matching({"field": "purchase_count", "op": "eq", "value": 3}) == {"outside"}


def test_purchase_amount_sums_money_spent_in_the_window():
    big = customer("big")
    event(big, EventKind.PURCHASE, days_ago=3, amount="150.00")
    event(big, EventKind.PURCHASE, days_ago=60, amount="500.00")
    small = customer("small")
    event(small, EventKind.PURCHASE, days_ago=2, amount="30.00")
    event(small, EventKind.PURCHASE, days_ago=4, amount="20.00")
    cents = customer("cents")
    for _ in range(3):  # 0.1 has no exact float: SQLite's float sum must still equal 0.30
        event(cents, EventKind.PURCHASE, days_ago=1, amount="0.10")
    none = customer("none")
    event(none, EventKind.VISIT)

    assert matching({"field": "purchase_amount", "op": "gte", "value": "650"}) == {"big"}
    assert matching({"field": "purchase_amount", "op": "eq", "value": "50.00"}) == {"small"}
    assert matching({"field": "purchase_amount", "op": "eq", "value": "0.3"}) == {"cents"}
    assert matching({"field": "purchase_amount", "op": "lte", "value": "0.30"}) == {"cents", "none"}
    assert matching({"field": "purchase_amount", "op": "lt", "value": 50}) == {"cents", "none"}
    assert matching({"field": "purchase_amount", "op": "eq", "value": 0}) == {"none"}
    window = {"field": "purchase_amount", "window_days": 30}
    assert matching({**window, "op": "gt", "value": "100"}) == {"big"}
    assert matching({**window, "op": "ne", "value": "150"}) == {"small", "cents", "none"}


def test_event_count_by_kind_touchpoint_and_window():
    web, phone = TouchpointFactory(name="Web"), TouchpointFactory(name="Phone")
    two_web = customer("two web contacts")
    event(two_web, EventKind.CONTACT, touchpoint=web, days_ago=1)
    event(two_web, EventKind.CONTACT, touchpoint=web, days_ago=20)
    mixed = customer("web and phone")
    event(mixed, EventKind.CONTACT, touchpoint=web, days_ago=1)
    event(mixed, EventKind.CONTACT, touchpoint=phone, days_ago=1)
    visits = customer("visits at web")  # right touchpoint, wrong kind
    event(visits, EventKind.VISIT, touchpoint=web)
    event(visits, EventKind.VISIT, touchpoint=web)
    customer("nothing")

    contact = {"field": "event_count", "kind": "contact"}
    at_web = {**contact, "touchpoint": web.pk}
    assert matching({**contact, "op": "gte", "value": 2}) == {"two web contacts", "web and phone"}
    assert matching({**at_web, "op": "gte", "value": 2}) == {"two web contacts"}
    assert matching({**at_web, "op": "eq", "value": 1}) == {"web and phone"}
    assert matching({**at_web, "op": "eq", "value": 0}) == {"visits at web", "nothing"}
    assert matching({**at_web, "window_days": 7, "op": "eq", "value": 1}) == {
        "two web contacts",
        "web and phone",
    }
    assert matching({**contact, "touchpoint": phone.pk, "op": "lt", "value": 1}) == {
        "two web contacts",
        "visits at web",
        "nothing",
    }
    assert matching({"field": "event_count", "kind": "visit", "op": "ne", "value": 2}) == {
        "two web contacts",
        "web and phone",
        "nothing",
    }


def test_client_type_ne_and_not_in_include_customers_without_a_type():
    customer("loyal", client_type=ClientType.objects.get(slug="loyal"))
    customer("doubting", client_type=ClientType.objects.get(slug="doubting"))
    customer("untyped", client_type=None)

    assert matching({"field": "client_type", "op": "eq", "value": "loyal"}) == {"loyal"}
    assert matching({"field": "client_type", "op": "ne", "value": "loyal"}) == {"doubting", "untyped"}
    assert matching({"field": "client_type", "op": "in", "value": ["loyal", "doubting"]}) == {
        "loyal",
        "doubting",
    }
    assert matching({"field": "client_type", "op": "not_in", "value": ["loyal", "demanding"]}) == {
        "doubting",
        "untyped",
    }


def test_lifecycle_stage_and_service_class():
    customer("fan", lifecycle_stage=LifecycleStage.LOYALTY, service_class=ServiceClass.PREMIUM)
    customer("buyer", lifecycle_stage=LifecycleStage.PURCHASE, service_class=ServiceClass.COMFORT)
    customer("lead", lifecycle_stage=LifecycleStage.INTEREST, service_class=ServiceClass.ECONOMY)

    assert matching({"field": "lifecycle_stage", "op": "eq", "value": "loyalty"}) == {"fan"}
    assert matching({"field": "lifecycle_stage", "op": "ne", "value": "loyalty"}) == {"buyer", "lead"}
    assert matching({"field": "lifecycle_stage", "op": "in", "value": ["purchase", "loyalty"]}) == {
        "fan",
        "buyer",
    }
    assert matching({"field": "lifecycle_stage", "op": "not_in", "value": ["purchase", "loyalty"]}) == {
        "lead"
    }
    assert matching({"field": "service_class", "op": "eq", "value": "premium"}) == {"fan"}
    assert matching({"field": "service_class", "op": "not_in", "value": ["premium", "comfort"]}) == {"lead"}


@pytest.fixture
def attribute_holders():
    customer("Kazan", attributes={"city": "Kazan", "age": 30})
    customer("Moscow", attributes={"city": "Moscow", "age": 45.5})
    customer("no city", attributes={"age": "40"})  # a number written as text is not a number
    customer("null city", attributes={"city": None, "age": None})
    customer("vip", attributes={"vip": True, "age": True})
    customer("vip one", attributes={"vip": 1})
    customer("empty", attributes={})


@pytest.mark.parametrize(
    ("key", "op", "value", "expected"),
    [
        ("city", "eq", "Kazan", {"Kazan"}),
        # ne / not_in take customers without the key, or with it set to null.
        ("city", "ne", "Kazan", {"Moscow", "no city", "null city", "vip", "vip one", "empty"}),
        ("city", "in", ["Kazan", "Moscow"], {"Kazan", "Moscow"}),
        ("city", "not_in", ["Kazan", "Kazan"], {"Moscow", "no city", "null city", "vip", "vip one", "empty"}),
        ("city", "exists", None, {"Kazan", "Moscow", "null city"}),
        ("age", "eq", 30, {"Kazan"}),
        ("age", "eq", 30.0, {"Kazan"}),
        ("age", "eq", "40", {"no city"}),  # text equals text only
        ("age", "eq", 40, set()),
        ("vip", "eq", True, {"vip"}),
        ("age", "eq", 1, set()),  # true is not 1 (SQLite stores both as 1)
        ("age", "in", [True, "40"], {"vip", "no city"}),
        # Python sees True == 1 (Django's IN would keep only one of them); JSON does not.
        ("vip", "in", [True, 1], {"vip", "vip one"}),
        ("vip", "in", [1, True], {"vip", "vip one"}),
        ("vip", "not_in", [1], {"Kazan", "Moscow", "no city", "null city", "vip", "empty"}),
        # Comparisons are numeric: text, null and true/false never compare (jsonb orders them
        # around numbers on PostgreSQL, SQLite puts text above every number).
        ("age", "gt", 30, {"Moscow"}),
        ("age", "gte", 30, {"Kazan", "Moscow"}),
        ("age", "lt", 45.5, {"Kazan"}),
        ("age", "lte", 100, {"Kazan", "Moscow"}),
        ("age", "gt", -1000, {"Kazan", "Moscow"}),
    ],
)
def test_attribute_ops_with_and_without_the_key(attribute_holders, key, op, value, expected):
    rule = {"field": "attribute", "key": key, "op": op}
    if value is not None:
        rule["value"] = value
    assert matching(rule) == expected


@pytest.mark.parametrize("key", ["contains", "exact", "range", "in", "has_key", "a__b", "isnull", "b_"])
def test_attribute_key_that_looks_like_a_lookup_is_still_a_key(key):
    # A key spliced into "attributes__<key>" would have been read as a lookup or a nested path.
    customer("holder", attributes={key: "x"})
    customer("nested", attributes={"a": {"b": "x"}})
    customer("other", attributes={key: "y"})
    assert matching({"field": "attribute", "key": key, "op": "eq", "value": "x"}) == {"holder"}
    assert matching({"field": "attribute", "key": key, "op": "ne", "value": "x"}) == {"nested", "other"}
    assert matching({"field": "attribute", "key": key, "op": "exists"}) == {"holder", "other"}


def test_nested_any_and_all_groups():
    loyal = ClientType.objects.get(slug="loyal")
    frequent_loyal = customer("frequent loyal", client_type=loyal)
    purchases(frequent_loyal, 1, 2, 3)
    rare_loyal = customer("rare loyal", client_type=loyal)
    purchases(rare_loyal, 1)
    customer("premium newcomer", service_class=ServiceClass.PREMIUM)
    frequent = customer("frequent untyped")
    purchases(frequent, 1, 2, 3)

    loyal_and_frequent = group(
        {"field": "client_type", "op": "eq", "value": "loyal"},
        {"field": "purchase_count", "op": "gte", "value": 3},
    )
    premium = {"field": "service_class", "op": "eq", "value": "premium"}
    assert matching(loyal_and_frequent, premium, match="any") == {"frequent loyal", "premium newcomer"}
    assert matching(loyal_and_frequent, premium, match="all") == set()
    # any(...) inside all(...): one nesting the other way round.
    either = group(premium, {"field": "purchase_count", "op": "eq", "value": 0}, match="any")
    assert matching(either, {"field": "client_type", "op": "ne", "value": "loyal"}) == {"premium newcomer"}


def test_every_field_together_is_one_query(django_assert_num_queries):
    web = TouchpointFactory()
    rules = validate_rules(
        group(
            {"field": "recency_days", "op": "lt", "value": 30},
            {"field": "purchase_count", "op": "lt", "value": 3, "window_days": 90},
            {"field": "purchase_amount", "op": "gte", "value": "10"},
            group(
                {"field": "event_count", "kind": "contact", "touchpoint": web.pk, "op": "eq", "value": 0},
                {"field": "client_type", "op": "not_in", "value": ["loyal"]},
                {"field": "lifecycle_stage", "op": "in", "value": ["purchase", "loyalty"]},
                {"field": "service_class", "op": "ne", "value": "economy"},
                {"field": "attribute", "key": "city", "op": "ne", "value": "Kazan"},
                {"field": "attribute", "key": "age", "op": "gte", "value": 18},
                match="any",
            ),
        )
    )
    buyer = customer("buyer", lifecycle_stage=LifecycleStage.PURCHASE)
    purchases(buyer, 1)
    q = compile_rules(rules, now=NOW)
    with django_assert_num_queries(1):
        rows = list(Customer.objects.filter(q).values_list("pk"))
    assert rows == [(buyer.pk,)]


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
