"""Compiled segment rules match exactly, field by field: the edges a set-based query gets wrong
(customers with no events, the complement trick, window boundaries, missing attributes)."""

import pytest

from customers.models import ClientType, Customer, EventKind, LifecycleStage, ServiceClass
from customers.segment_rules import compile_rules, validate_rules
from tests.customers.segment_rule_helpers import NOW, customer, event, group, matching, purchases
from tests.factories import TouchpointFactory

pytestmark = pytest.mark.django_db


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
