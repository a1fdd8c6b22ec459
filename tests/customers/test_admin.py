import json

import pytest

from customers.models import ClientType, Customer, Event, LifecycleStageChange, Segment
from tests.factories import CustomerFactory, SegmentFactory, TouchpointFactory, purchase

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_browser(client, make_user):
    client.force_login(make_user("CX lead"))
    return client


def customer_form(**overrides):
    form = {
        "name": "Anna",
        "email": "anna@example.com",
        "phone": "",
        "company": "",
        "external_id": "",
        "language": "en",
        "client_type": ClientType.objects.get(slug="demanding").pk,
        "service_class": "comfort",
        "lifecycle_stage": "interest",
        "survey_consent": "on",
        "survey_consent_channel": "email",
        "attributes": "{}",
        "stage_changes-TOTAL_FORMS": "0",
        "stage_changes-INITIAL_FORMS": "0",
    }
    form.update(overrides)
    return form


def test_adding_and_editing_a_customer_in_the_admin_records_the_stage_history(lead_browser):
    response = lead_browser.post("/admin/customers/customer/add/", customer_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    customer = Customer.objects.get(name="Anna")
    assert customer.external_id is None  # blank stays "no id", so it never collides
    form = customer_form(lifecycle_stage="evaluation")
    form["stage_changes-INITIAL_FORMS"] = form["stage_changes-TOTAL_FORMS"] = "1"
    form["stage_changes-0-id"] = LifecycleStageChange.objects.get(customer=customer).pk
    form["stage_changes-0-customer"] = customer.pk
    response = lead_browser.post(f"/admin/customers/customer/{customer.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    changes = LifecycleStageChange.objects.filter(customer=customer).order_by("changed_at", "id")
    assert [(c.from_stage, c.to_stage) for c in changes] == [("", "interest"), ("interest", "evaluation")]
    assert changes[1].changed_by.username == "cx_lead"


def test_customer_page_shows_guidance_and_the_timeline(lead_browser):
    customer = CustomerFactory(client_type=ClientType.objects.get(slug="doubting"))
    purchase(customer, amount="42.00", touchpoint=TouchpointFactory(name="Flagship store"))
    page = lead_browser.get(f"/admin/customers/customer/{customer.pk}/change/").content.decode()
    assert "keeps asking new questions" in page
    assert "Flagship store" in page and "42.00" in page


def test_a_malformed_segment_rule_is_shown_on_the_form_and_nothing_is_saved(lead_browser):
    rules = {"match": "all", "rules": [{"field": "purchase_count", "op": "gte", "value": -1}]}
    response = lead_browser.post(
        "/admin/customers/segment/add/", {"name": "Broken", "rules": json.dumps(rules), "is_active": "on"}
    )
    assert response.status_code == 200
    assert "rules[0].value: must be a whole number of 0 or more" in response.content.decode()
    assert not Segment.objects.exists()


def test_saving_a_segment_in_the_admin_computes_its_members(lead_browser, django_capture_on_commit_callbacks):
    buyer = CustomerFactory()
    CustomerFactory()
    purchase(buyer)
    rules = {"match": "all", "rules": [{"field": "purchase_count", "op": "gte", "value": 1}]}
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_browser.post(
            "/admin/customers/segment/add/", {"name": "Buyers", "rules": json.dumps(rules), "is_active": "on"}
        )
    assert response.status_code == 302
    segment = Segment.objects.get(name="Buyers")
    assert list(segment.members.all()) == [buyer]
    members_page = lead_browser.get(f"/admin/customers/customer/?segment={segment.pk}").content.decode()
    assert buyer.name in members_page


def test_refresh_action_recomputes_selected_segments(lead_browser, django_capture_on_commit_callbacks):
    segment = SegmentFactory()
    buyer = CustomerFactory()
    purchase(buyer)
    with django_capture_on_commit_callbacks(execute=True):
        lead_browser.post(
            "/admin/customers/segment/", {"action": "refresh_now", "_selected_action": [segment.pk]}
        )
    segment.refresh_from_db()
    assert segment.member_count == 1 and segment.snapshots.count() == 1


def test_staff_can_log_an_event_in_the_admin(client, make_user):
    client.force_login(make_user("Support"))
    customer = CustomerFactory()
    response = client.post(
        "/admin/customers/event/add/",
        {
            "customer": customer.pk,
            "kind": "contact",
            "occurred_at_0": "2026-11-20",
            "occurred_at_1": "10:00:00",
            "data": "{}",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Event.objects.filter(customer=customer, kind="contact").count() == 1


def test_builtin_client_types_cannot_be_deleted_but_custom_ones_can(lead_browser):
    loyal = ClientType.objects.get(slug="loyal")
    assert lead_browser.get(f"/admin/customers/clienttype/{loyal.pk}/delete/").status_code == 403
    custom = ClientType.objects.create(slug="vip", name="VIP")
    assert lead_browser.get(f"/admin/customers/clienttype/{custom.pk}/delete/").status_code == 200
