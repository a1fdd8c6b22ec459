"""The segment rule language's validation: every malformed part is reported by its path."""

import json

import pytest

from customers.segment_rules import MAX_DAYS, MAX_DEPTH, MAX_RULES, validate_rules
from tests.customers.segment_rule_helpers import errors_of, group
from tests.factories import TouchpointFactory

pytestmark = pytest.mark.django_db


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
