"""Behavioural segments through the API, as a CX lead: define, validate, refresh, browse, preview.

Saving or refreshing a segment enqueues its refresh after commit; pytest-django keeps each test in
one transaction, so the callbacks are captured and run explicitly (Celery runs them inline here).
"""

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from customers.models import ClientType, Event, EventKind, LifecycleStage, Segment, SegmentMembership
from customers.tasks import segments_refresh_all_task
from tests.factories import CustomerFactory, SegmentFactory, TouchpointFactory, purchase
from tests.querycount import assert_page_size_does_not_change_query_count

pytestmark = pytest.mark.django_db

FREQUENT = {
    "match": "all",
    "rules": [{"field": "purchase_count", "op": "gte", "value": 2, "window_days": 90}],
}
LOYALTY_STAGE = {"match": "all", "rules": [{"field": "lifecycle_stage", "op": "eq", "value": "loyalty"}]}


@pytest.fixture
def create_segment(lead_api, django_capture_on_commit_callbacks):
    """POST a segment and run what its save enqueued after commit (the refresh)."""

    def create(rules, name="Frequent buyers"):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = lead_api.post("/api/segments/", {"name": name, "rules": rules}, format="json")
        assert response.status_code == 201, response.json()
        assert len(callbacks) == 1
        return response.json()

    return create


@pytest.fixture
def refresh(lead_api, django_capture_on_commit_callbacks):
    def run(segment_id):
        with django_capture_on_commit_callbacks(execute=True):
            response = lead_api.post(f"/api/segments/{segment_id}/refresh/")
        assert response.status_code == 202, response.json()
        assert response.json() == {"status": "queued"}

    return run


def member_names(api, segment_id) -> set[str]:
    response = api.get(f"/api/segments/{segment_id}/members/", {"page_size": 100})
    assert response.status_code == 200
    return {c["name"] for c in response.json()["results"]}


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        (
            {"match": "all", "rules": [{"field": "purchase_count", "op": "gte", "value": -1}]},
            "rules[0].value",
        ),
        ({"match": "all", "rules": [{"field": "age", "op": "gt", "value": 40}]}, "rules[0].field"),
        (
            {
                "match": "any",
                "rules": [{"field": "event_count", "kind": "teleport", "op": "gte", "value": 1}],
            },
            "rules[0].kind",
        ),
        ({"match": "all", "rules": [{"match": "any", "rules": []}]}, "rules[0].rules"),
        ({"match": "most", "rules": [{"field": "purchase_count", "op": "gte", "value": 1}]}, "rules.match"),
        # These two were 500s (a TypeError and a date overflow) before validation caught them.
        (
            {"match": "all", "rules": [{"field": "lifecycle_stage", "op": "eq", "value": ["loyalty"]}]},
            "rules[0].value",
        ),
        (
            {
                "match": "all",
                "rules": [{"field": "purchase_count", "op": "gte", "value": 1, "window_days": 10**9}],
            },
            "rules[0].window_days",
        ),
        ("purchase_count >= 2", "rules"),
        ([{"field": "purchase_count", "op": "gte", "value": 2}], "rules"),
    ],
)
def test_malformed_rules_are_a_400_naming_rules_and_the_path(
    lead_api, django_capture_on_commit_callbacks, rules, path
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = lead_api.post("/api/segments/", {"name": "Broken", "rules": rules}, format="json")
    assert response.status_code == 400
    messages = response.json()["rules"]
    assert any(m.startswith(f"{path}: ") for m in messages), messages
    assert not Segment.objects.exists()
    assert callbacks == []  # nothing saved, so no refresh queued


def test_segment_without_rules_is_a_400_naming_rules(lead_api):
    response = lead_api.post("/api/segments/", {"name": "No rules"}, format="json")
    assert response.status_code == 400
    assert "rules" in response.json()


def test_created_segment_is_normalised_and_filled_once_committed(lead_api, create_segment):
    regular = CustomerFactory(name="Regular")
    purchase(regular, days_ago=3)
    purchase(regular, days_ago=80)
    once = CustomerFactory(name="Once")
    purchase(once, days_ago=3)
    purchase(once, days_ago=120)  # outside the 90-day window
    CustomerFactory(name="Never")

    body = create_segment(
        {"rules": [{"field": "purchase_count", "op": "gte", "value": 2, "window_days": 90}]}  # match omitted
    )
    assert body["rules"] == {
        "match": "all",
        "rules": [{"field": "purchase_count", "op": "gte", "value": 2, "window_days": 90}],
    }
    # The response is written before the commit; the refresh runs after it.
    assert body["member_count"] == 0
    assert body["refreshed_at"] is None

    segment = lead_api.get(f"/api/segments/{body['id']}/").json()
    assert segment["member_count"] == 1
    assert segment["refreshed_at"] is not None
    assert member_names(lead_api, body["id"]) == {"Regular"}


def test_refresh_picks_up_new_events_and_keeps_the_history(lead_api, create_segment, refresh):
    regular = CustomerFactory(name="Regular")
    purchase(regular, days_ago=3)
    purchase(regular, days_ago=10)
    newcomer = CustomerFactory(name="Newcomer")
    purchase(newcomer, days_ago=5)
    segment_id = create_segment(FREQUENT)["id"]
    assert member_names(lead_api, segment_id) == {"Regular"}

    # A second purchase is recorded; membership follows only once the segment is refreshed.
    response = lead_api.post(
        "/api/events/",
        {
            "customer": newcomer.pk,
            "kind": "purchase",
            "amount": "25.00",
            "occurred_at": timezone.now().isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert member_names(lead_api, segment_id) == {"Regular"}
    refresh(segment_id)
    assert member_names(lead_api, segment_id) == {"Regular", "Newcomer"}
    assert lead_api.get(f"/api/segments/{segment_id}/").json()["member_count"] == 2

    history = lead_api.get(f"/api/segments/{segment_id}/history/").json()
    assert history["count"] == 2
    assert [(s["member_count"], s["added"], s["removed"]) for s in history["results"]] == [
        (2, 1, 0),  # newest first
        (1, 1, 0),
    ]
    assert history["results"][0]["computed_at"] >= history["results"][1]["computed_at"]


def test_refresh_removes_leavers_adds_joiners_and_stayers_keep_added_at(lead_api, create_segment, refresh):
    leaver = CustomerFactory(name="Leaver", lifecycle_stage=LifecycleStage.LOYALTY)
    stayer = CustomerFactory(name="Stayer", lifecycle_stage=LifecycleStage.LOYALTY)
    joiner = CustomerFactory(name="Joiner", lifecycle_stage=LifecycleStage.PURCHASE)
    segment_id = create_segment(LOYALTY_STAGE)["id"]
    assert member_names(lead_api, segment_id) == {"Leaver", "Stayer"}
    stayer_since = SegmentMembership.objects.get(segment_id=segment_id, customer=stayer).added_at

    for who, stage in [(leaver, "evaluation"), (joiner, "loyalty")]:
        response = lead_api.patch(f"/api/customers/{who.pk}/", {"lifecycle_stage": stage}, format="json")
        assert response.status_code == 200, response.json()
    refresh(segment_id)

    assert member_names(lead_api, segment_id) == {"Stayer", "Joiner"}
    assert SegmentMembership.objects.get(segment_id=segment_id, customer=stayer).added_at == stayer_since
    assert SegmentMembership.objects.get(segment_id=segment_id, customer=joiner).added_at > stayer_since
    latest = lead_api.get(f"/api/segments/{segment_id}/history/").json()["results"][0]
    assert (latest["member_count"], latest["added"], latest["removed"]) == (2, 1, 1)


def test_changing_the_rules_revalidates_and_refreshes(
    lead_api, create_segment, django_capture_on_commit_callbacks
):
    CustomerFactory(name="Fan", lifecycle_stage=LifecycleStage.LOYALTY)
    CustomerFactory(name="Lead", lifecycle_stage=LifecycleStage.INTEREST)
    segment_id = create_segment(LOYALTY_STAGE)["id"]

    bad = {"match": "all", "rules": [{"field": "lifecycle_stage", "op": "eq", "value": "fan"}]}
    response = lead_api.patch(f"/api/segments/{segment_id}/", {"rules": bad}, format="json")
    assert response.status_code == 400
    assert response.json()["rules"] == ["rules[0].value: unknown lifecycle stage fan"]

    interest = {"match": "all", "rules": [{"field": "lifecycle_stage", "op": "eq", "value": "interest"}]}
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_api.patch(f"/api/segments/{segment_id}/", {"rules": interest}, format="json")
    assert response.status_code == 200, response.json()
    assert member_names(lead_api, segment_id) == {"Lead"}


def test_refresh_of_a_rule_set_using_every_field(lead_api, create_segment):
    # The refresh inserts members with raw SQL around the compiled query: every kind of parameter
    # (dates, decimals, JSON values, slugs) must survive that on both databases.
    web = TouchpointFactory()
    loyal = ClientType.objects.get(slug="loyal")
    match = CustomerFactory(name="Match", client_type=loyal, attributes={"plan": "pro", "seats": 12})
    purchase(match, days_ago=2, amount="80.00")
    purchase(match, days_ago=20, amount="40.00")
    Event.objects.create(customer=match, kind=EventKind.CONTACT, touchpoint=web)
    near_miss = CustomerFactory(
        name="Near miss", client_type=loyal, attributes={"plan": "pro", "seats": "12"}
    )
    purchase(near_miss, days_ago=2, amount="80.00")
    purchase(near_miss, days_ago=20, amount="40.00")
    Event.objects.create(customer=near_miss, kind=EventKind.CONTACT, touchpoint=web)
    rules = {
        "match": "all",
        "rules": [
            {"field": "recency_days", "op": "lte", "value": 7},
            {"field": "purchase_count", "op": "gte", "value": 2, "window_days": 30},
            {"field": "purchase_amount", "op": "gte", "value": "120.00"},
            {"field": "event_count", "kind": "contact", "touchpoint": web.pk, "op": "eq", "value": 1},
            {
                "match": "any",
                "rules": [
                    {"field": "client_type", "op": "in", "value": ["loyal", "doubting"]},
                    {"field": "lifecycle_stage", "op": "eq", "value": "loyalty"},
                ],
            },
            {"field": "service_class", "op": "ne", "value": "premium"},
            {"field": "attribute", "key": "plan", "op": "in", "value": ["pro", "team"]},
            {"field": "attribute", "key": "seats", "op": "gt", "value": 10},  # "12" as text is no number
            {"field": "attribute", "key": "plan", "op": "exists"},
            {"field": "attribute", "key": "churned", "op": "ne", "value": True},
        ],
    }
    segment_id = create_segment(rules)["id"]
    assert member_names(lead_api, segment_id) == {"Match"}


def test_preview_counts_and_samples_without_saving(lead_api):
    for i in range(12):
        CustomerFactory(name=f"Fan {i:02d}", lifecycle_stage=LifecycleStage.LOYALTY)
    CustomerFactory(name="Lead", lifecycle_stage=LifecycleStage.INTEREST)

    response = lead_api.post("/api/segments/preview/", {"rules": LOYALTY_STAGE}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["count"] == 12
    assert [c["name"] for c in body["sample"]] == [f"Fan {i:02d}" for i in range(10)]
    assert set(body["sample"][0]) == {"id", "name", "email"}
    assert not Segment.objects.exists()
    assert not SegmentMembership.objects.exists()


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (
            {"rules": {"match": "all", "rules": [{"field": "recency_days", "op": "eq", "value": 3}]}},
            "rules[0].op",
        ),
        (
            {"rules": {"match": "all", "rules": [{"field": "client_type", "op": "in", "value": [{}]}]}},
            "rules[0].value",
        ),
        ({"rules": {"match": "all", "rules": []}}, "rules.rules"),
        ({"rules": "loyal customers"}, "rules"),
    ],
)
def test_preview_of_malformed_rules_is_a_400_naming_the_path(lead_api, payload, path):
    response = lead_api.post("/api/segments/preview/", payload, format="json")
    assert response.status_code == 400
    assert any(m.startswith(f"{path}: ") for m in response.json()["rules"]), response.json()


def test_preview_without_rules_is_a_400(lead_api):
    response = lead_api.post("/api/segments/preview/", {}, format="json")
    assert response.status_code == 400
    assert "rules" in response.json()


def test_support_may_preview_but_not_define_or_refresh(api_as):
    support = api_as("Support")
    segment = SegmentFactory()
    assert support.post("/api/segments/preview/", {"rules": LOYALTY_STAGE}, format="json").status_code == 200
    assert (
        support.post("/api/segments/", {"name": "X", "rules": LOYALTY_STAGE}, format="json").status_code
        == 403
    )
    assert support.post(f"/api/segments/{segment.pk}/refresh/").status_code == 403


def test_schedule_refreshes_active_segments_and_skips_inactive_ones():
    # The schedule is stored in django-celery-beat's tables, so a CX lead can retune it.
    assert PeriodicTask.objects.filter(
        task="customers.tasks.segments_refresh_all_task", enabled=True
    ).exists()
    buyer = CustomerFactory()
    purchase(buyer)
    active = SegmentFactory(is_active=True)
    paused = SegmentFactory(is_active=False)

    assert segments_refresh_all_task.delay().get() == 1

    active.refresh_from_db()
    paused.refresh_from_db()
    assert (active.member_count, active.snapshots.count()) == (1, 1)
    assert active.refreshed_at is not None
    assert (paused.member_count, paused.refreshed_at, paused.snapshots.count()) == (0, None, 0)
    assert list(active.members.all()) == [buyer]


def test_segment_list_queries_do_not_grow_with_the_page(lead_api):
    for _ in range(25):
        SegmentFactory()
    assert_page_size_does_not_change_query_count(lead_api, "/api/segments/")


def test_member_list_queries_do_not_grow_with_the_page(lead_api, create_segment):
    types = list(ClientType.objects.all())
    for i in range(25):
        # Each member has a client type: its slug and guidance are in every row of the page.
        CustomerFactory(lifecycle_stage=LifecycleStage.LOYALTY, client_type=types[i % len(types)])
    segment_id = create_segment(LOYALTY_STAGE)["id"]
    assert_page_size_does_not_change_query_count(lead_api, f"/api/segments/{segment_id}/members/")


def test_renaming_a_segment_recomputes_nothing(lead_api, django_capture_on_commit_callbacks):
    segment = SegmentFactory()
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = lead_api.patch(f"/api/segments/{segment.pk}/", {"name": "Renamed"}, format="json")
    assert response.status_code == 200 and queued == []
    with django_capture_on_commit_callbacks(execute=True) as queued:
        lead_api.patch(f"/api/segments/{segment.pk}/", {"is_active": False}, format="json")
        lead_api.patch(f"/api/segments/{segment.pk}/", {"is_active": True}, format="json")
    assert len(queued) == 1  # switched back on: brought up to date once
