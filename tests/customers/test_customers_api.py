import pytest

from customers.models import ClientType, Customer, LifecycleStageChange
from tests.factories import CustomerFactory, SegmentFactory, TouchpointFactory, purchase
from tests.querycount import assert_page_size_does_not_change_query_count

pytestmark = pytest.mark.django_db


def test_lead_creates_customer_with_guidance_and_funnel_entry(lead_api):
    response = lead_api.post(
        "/api/customers/",
        {"name": "Anna", "email": "anna@example.com", "client_type": "loyal", "lifecycle_stage": "interest"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["client_type"] == "loyal"
    assert "asks rather than complains" in body["client_type_guidance"]
    timeline = lead_api.get(f"/api/customers/{body['id']}/timeline/").json()
    assert [e["kind"] for e in timeline["results"]] == ["stage_changed"]
    assert timeline["results"][0]["data"] == {"from": "", "to": "interest"}


def test_every_stage_change_is_recorded_with_its_time(lead_api):
    customer = lead_api.post("/api/customers/", {"name": "Ivan"}, format="json").json()
    for stage in ["interest", "evaluation", "purchase"]:
        response = lead_api.patch(
            f"/api/customers/{customer['id']}/", {"lifecycle_stage": stage}, format="json"
        )
        assert response.status_code == 200, response.json()
    lead_api.patch(f"/api/customers/{customer['id']}/", {"phone": "+7 900 000-00-00"}, format="json")
    changes = LifecycleStageChange.objects.filter(customer_id=customer["id"]).order_by("changed_at", "id")
    assert [(c.from_stage, c.to_stage) for c in changes] == [
        ("", "attraction"),
        ("attraction", "interest"),
        ("interest", "evaluation"),
        ("evaluation", "purchase"),
    ]
    assert all(c.changed_by and c.changed_by.username == "cx_lead" for c in changes)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "X", "client_type": "grumpy"}, "client_type"),
        ({"name": "X", "lifecycle_stage": "married"}, "lifecycle_stage"),
        ({"name": "X", "service_class": "gold"}, "service_class"),
        ({"name": "X", "email": "not-an-email"}, "email"),
        ({"name": "X", "attributes": ["a", "list"]}, "attributes"),
        ({"name": "X", "survey_consent": "perhaps"}, "survey_consent"),
        ({"email": "a@example.com"}, "name"),
    ],
)
def test_bad_customer_input_is_a_400_naming_the_field(lead_api, payload, field):
    response = lead_api.post("/api/customers/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Customer.objects.exists()


def test_external_id_is_unique_and_a_failed_update_changes_nothing(lead_api):
    CustomerFactory(external_id="CRM-1", name="First")
    second = CustomerFactory(external_id="CRM-2", name="Second")
    response = lead_api.patch(
        f"/api/customers/{second.pk}/", {"external_id": "CRM-1", "name": "Renamed"}, format="json"
    )
    assert response.status_code == 400 and "external_id" in response.json()
    second.refresh_from_db()
    assert (second.name, second.external_id) == ("Second", "CRM-2")


def test_customers_filter_by_type_stage_class_segment_and_search(
    lead_api, django_capture_on_commit_callbacks
):
    anna = CustomerFactory(name="Anna Petrova", phone="+79001112233", loyal=True, lifecycle_stage="loyalty")
    CustomerFactory(name="Boris", service_class="premium")
    purchase(anna)
    segment = SegmentFactory()
    with django_capture_on_commit_callbacks(execute=True):
        assert lead_api.post(f"/api/segments/{segment.pk}/refresh/").status_code == 202

    def names(query):
        response = lead_api.get(f"/api/customers/?{query}")
        assert response.status_code == 200, response.json()
        return [c["name"] for c in response.json()["results"]]

    assert names("client_type=loyal") == ["Anna Petrova"]
    assert names("lifecycle_stage=loyalty") == ["Anna Petrova"]
    assert names("service_class=premium") == ["Boris"]
    assert names(f"segment={segment.pk}") == ["Anna Petrova"]
    assert names("search=1112233") == ["Anna Petrova"]
    assert names("search=bor") == ["Boris"]
    bad = lead_api.get("/api/customers/?client_type=grumpy")
    assert bad.status_code == 400 and "client_type" in bad.json()


@pytest.mark.parametrize("path", ["/api/customers/", "/api/client-types/", "/api/touchpoints/"])
def test_list_query_count_does_not_grow_with_page_size(lead_api, path):
    for n in range(25):
        CustomerFactory(loyal=n % 2 == 0)
        TouchpointFactory()
        ClientType.objects.create(slug=f"type-{n}", name=f"Type {n}")

    assert_page_size_does_not_change_query_count(lead_api, path)


def test_timeline_query_count_does_not_grow_with_page_size(lead_api):
    customer = CustomerFactory()
    for days in range(25):
        purchase(customer, days_ago=days)

    assert_page_size_does_not_change_query_count(lead_api, f"/api/customers/{customer.pk}/timeline/")
    timeline = lead_api.get(f"/api/customers/{customer.pk}/timeline/").json()["results"]
    times = [e["occurred_at"] for e in timeline]
    assert times == sorted(times, reverse=True)


def test_builtin_client_types_exist_and_a_lead_can_add_one(lead_api):
    slugs = {c["slug"] for c in lead_api.get("/api/client-types/").json()["results"]}
    assert {"loyal", "control-freak", "demanding", "doubting", "know-it-all"} <= slugs
    response = lead_api.post(
        "/api/client-types/",
        {"slug": "bargain-hunter", "name": "Bargain hunter", "guidance": "Lead with the offer."},
        format="json",
    )
    assert response.status_code == 201 and response.json()["is_builtin"] is False


def test_builtin_client_types_cannot_be_deleted_through_the_api(lead_api):
    loyal = lead_api.get("/api/client-types/?search=loyal").json()["results"][0]
    response = lead_api.delete(f"/api/client-types/{loyal['id']}/")
    assert response.status_code == 400 and "built-in" in response.json()["slug"][0]
    custom = lead_api.post("/api/client-types/", {"slug": "vip", "name": "VIP"}, format="json").json()
    CustomerFactory(client_type_id=custom["id"])
    in_use = lead_api.delete(f"/api/client-types/{custom['id']}/")
    assert in_use.status_code == 409 and "customers" in in_use.json()["detail"]


def test_segment_history_query_count_does_not_grow_with_page_size(lead_api):
    segment = SegmentFactory()
    segment.snapshots.bulk_create(
        [segment.snapshots.model(segment=segment, member_count=n, added=n, removed=0) for n in range(25)]
    )
    assert_page_size_does_not_change_query_count(lead_api, f"/api/segments/{segment.pk}/history/")
