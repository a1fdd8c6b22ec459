from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import Event
from tests.factories import CustomerFactory, TouchpointFactory
from tests.querycount import assert_page_size_does_not_change_query_count

pytestmark = pytest.mark.django_db


def test_one_event_is_recorded_and_shown_on_the_timeline(lead_api):
    customer = CustomerFactory()
    store = TouchpointFactory(name="Store")
    response = lead_api.post(
        "/api/events/",
        {
            "customer": customer.pk,
            "kind": "purchase",
            "amount": "1499.90",
            "touchpoint": store.pk,
            "occurred_at": "2026-05-01T14:30:00+03:00",
            "data": {"order": "A-1"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    event = response.json()
    assert event["amount"] == "1499.90" and event["occurred_at"] == "2026-05-01T11:30:00Z"
    timeline = lead_api.get(f"/api/customers/{customer.pk}/timeline/").json()["results"]
    assert event["id"] in [e["id"] for e in timeline]


def test_ten_thousand_events_in_one_call(lead_api):
    customers = [CustomerFactory() for _ in range(50)]
    start = timezone.now() - timedelta(days=100)
    batch = [
        {
            "customer": customers[n % 50].pk,
            "kind": "purchase" if n % 3 == 0 else "visit",
            "amount": "10.50" if n % 3 == 0 else None,
            "occurred_at": (start + timedelta(minutes=n)).isoformat(),
        }
        for n in range(10_000)
    ]
    response = lead_api.post("/api/events/", batch, format="json")
    assert response.status_code == 201, str(response.content)[:500]
    assert response.json() == {"created": 10_000, "duplicates": 0}
    assert Event.objects.filter(kind__in=["purchase", "visit"]).count() == 10_000


def test_a_batch_with_bad_events_stores_nothing_and_names_each_problem(lead_api):
    customer = CustomerFactory(external_id="CRM-7")
    batch = [
        {"customer": customer.pk, "kind": "visit"},
        {"customer": 999999, "kind": "visit"},
        {"customer_external_id": "CRM-7", "kind": "teleport"},
        {"customer": customer.pk, "kind": "purchase"},
        {"customer": customer.pk, "kind": "visit", "occurred_at": "yesterday"},
        {"customer": "abc", "kind": "visit", "amount": "-5"},
        {"kind": "visit"},
        "not an object",
    ]
    before = Event.objects.count()
    response = lead_api.post("/api/events/", batch, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert "0" not in errors
    assert "Unknown customer 999999" in errors["1"]["customer"][0]
    assert "kind" in errors["2"]
    assert errors["3"]["amount"] == ["A purchase needs an amount."]
    assert "occurred_at" in errors["4"]
    assert set(errors["5"]) == {"customer", "amount"}
    assert "customer" in errors["6"]
    assert "non_field_errors" in errors["7"]
    assert Event.objects.count() == before


def test_resending_events_with_external_ids_stores_them_once(lead_api):
    customer = CustomerFactory()
    batch = [
        {"customer": customer.pk, "kind": "purchase", "amount": "5", "external_id": f"order-{n}"}
        for n in range(3)
    ]
    assert lead_api.post("/api/events/", batch, format="json").json() == {"created": 3, "duplicates": 0}
    assert lead_api.post("/api/events/", batch, format="json").json() == {"created": 0, "duplicates": 3}
    single = lead_api.post("/api/events/", batch[0], format="json")
    assert single.status_code == 200 and single.json()["external_id"] == "order-0"
    assert Event.objects.filter(kind="purchase").count() == 3
    repeated = lead_api.post("/api/events/", [batch[0], batch[0]], format="json")
    assert repeated.status_code == 400 and "external_id" in repeated.json()["1"]


def test_events_filter_and_query_count(lead_api):
    anna, boris = CustomerFactory(external_id="A"), CustomerFactory(external_id="B")
    for n in range(30):
        Event.objects.create(customer=anna if n % 2 else boris, kind="visit" if n % 3 else "contact")
    results = lead_api.get("/api/events/?customer_external_id=A&kind=contact").json()["results"]
    assert results and all(e["customer"] == anna.pk and e["kind"] == "contact" for e in results)
    assert lead_api.get("/api/events/?occurred_after=garbage").status_code == 400
    assert_page_size_does_not_change_query_count(lead_api, "/api/events/")
