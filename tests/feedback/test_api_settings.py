"""A CX lead's SLA settings through the API: categories, business calendars with their hours and
holidays, SLA policies; bad settings are a 400 naming the field, and a change re-targets the open
items under it (a task after commit: Celery is eager here, the callbacks are captured and run)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from customers.models import ClientType
from feedback import services
from feedback.models import BusinessCalendar, Category, FeedbackItem, Holiday, ItemChange, SlaPolicy, Target
from tests.factories import CustomerFactory
from tests.querycount import assert_page_size_does_not_change_query_count

from .conftest import office_calendar

pytestmark = pytest.mark.django_db
MOSCOW = ZoneInfo("Europe/Moscow")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


def week(*intervals: tuple[str, str], days=range(5)) -> list[dict]:
    return [{"weekday": day, "opens_at": start, "closes_at": end} for day in days for start, end in intervals]


def complaint(now: datetime) -> FeedbackItem:
    data = {
        "kind": "complaint",
        "channel": "phone",
        "customer": CustomerFactory(),
        "subject": "Late delivery",
        "description": "...",
    }
    return services.item_create(data=data, now=now)


@pytest.fixture
def saved(django_capture_on_commit_callbacks):
    """Make a request and run what it enqueued after commit (the re-targeting task)."""

    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


# --- calendars ---------------------------------------------------------------------------------


def test_a_calendar_with_lunch_breaks_and_holidays_is_written_in_one_go(lead_api):
    response = lead_api.post(
        "/api/calendars/",
        {
            "name": "Moscow office",
            "time_zone": "Europe/Moscow",
            "working_hours": week(("09:00", "13:00"), ("14:00", "18:00")),
            "holidays": [
                {
                    "date": "2026-12-31",
                    "name": "New Year's Eve",
                    "closed_from": "15:00",
                    "closed_until": None,
                },
                {"date": "2027-01-01", "name": "New Year"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["working_hours"]) == 10
    assert body["working_hours"][:2] == [
        {"weekday": 0, "opens_at": "09:00:00", "closes_at": "13:00:00"},
        {"weekday": 0, "opens_at": "14:00:00", "closes_at": "18:00:00"},
    ]
    assert [h["date"] for h in body["holidays"]] == ["2026-12-31", "2027-01-01"]

    # Sending a set replaces it; a set not sent stays as it was.
    url = f"/api/calendars/{body['id']}/"
    changed = lead_api.patch(url, {"working_hours": week(("10:00", "19:00"), days=[5])}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["working_hours"] == [
        {"weekday": 5, "opens_at": "10:00:00", "closes_at": "19:00:00"}
    ]
    assert len(changed.json()["holidays"]) == 2
    emptied = lead_api.patch(url, {"holidays": []}, format="json")
    assert emptied.json()["holidays"] == [] and len(emptied.json()["working_hours"]) == 1


def test_a_calendar_open_until_midnight_is_allowed(lead_api):
    response = lead_api.post(
        "/api/calendars/",
        {"name": "Late", "time_zone": "UTC", "working_hours": week(("18:00", "00:00"))},
        format="json",
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("hours", "words"),
    [
        (week(("09:00", "13:00"), ("12:00", "18:00")), "overlap"),
        (week(("18:00", "09:00")), "Monday"),
        (week(("09:00", "09:00")), "Monday"),
    ],
    ids=["overlapping", "inverted", "empty"],
)
def test_overlapping_or_inverted_working_hours_are_a_400_naming_working_hours(lead_api, hours, words):
    response = lead_api.post(
        "/api/calendars/", {"name": "Broken", "time_zone": "UTC", "working_hours": hours}, format="json"
    )
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["working_hours"]
    assert words in " ".join(response.json()["working_hours"])
    assert not BusinessCalendar.objects.exists()


def test_a_bad_change_leaves_the_calendar_as_it_was(lead_api, calendar):
    response = lead_api.patch(
        f"/api/calendars/{calendar.pk}/", {"working_hours": week(("18:00", "09:00"))}, format="json"
    )
    assert response.status_code == 400 and "working_hours" in response.json()
    assert calendar.working_hours.count() == 5


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"name": ""}, "name"),
        ({"working_hours": [{"weekday": 7, "opens_at": "09:00", "closes_at": "18:00"}]}, "working_hours"),
        ({"working_hours": [{"weekday": 0, "opens_at": "9 am", "closes_at": "18:00"}]}, "working_hours"),
        ({"holidays": [{"date": "2026-12-31", "closed_from": "15:00", "closed_until": "10:00"}]}, "holidays"),
        ({"holidays": [{"date": "31.12.2026"}]}, "holidays"),
    ],
)
def test_bad_calendar_input_is_a_400_naming_the_field(lead_api, payload, field):
    response = lead_api.post(
        "/api/calendars/", {"name": "Office", "time_zone": "UTC", **payload}, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_a_calendar_change_retargets_the_open_items_under_it(lead_api, policy, calendar, saved):
    item = complaint(local(2026, 11, 27, 17, 30))  # Friday: resolution due Monday 12:30
    with time_machine.travel(local(2026, 11, 27, 17, 45), tick=False):
        response = saved(
            lead_api.patch,
            f"/api/calendars/{calendar.pk}/",
            {"holidays": [{"date": "2026-11-30", "name": "Day off"}]},
            format="json",
        )
    assert response.status_code == 200, response.content
    resolution = item.clocks.get(target=Target.RESOLUTION)
    assert resolution.due_at == local(2026, 12, 1, 12, 30)
    change = item.changes.get(field=ItemChange.Field.SLA)
    assert "SLA settings changed" in change.note


def test_fill_holidays_adds_a_countrys_public_holidays(lead_api, calendar):
    response = lead_api.post(
        f"/api/calendars/{calendar.pk}/fill-holidays/", {"country": "RU", "years": [2026]}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["added"] > 5 and body["calendar"]["country"] == "RU"
    assert "2026-01-01" in [h["date"] for h in body["calendar"]["holidays"]]
    again = lead_api.post(
        f"/api/calendars/{calendar.pk}/fill-holidays/", {"country": "RU", "years": [2026]}, format="json"
    )
    assert again.json()["added"] == 0
    assert Holiday.objects.filter(calendar=calendar, date=date(2026, 1, 1)).count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"country": "XX", "years": [2026]}, "country"),
        ({"country": "US", "years": [2026], "subdivision": "Atlantis"}, "subdivision"),
        ({"country": "RU", "years": []}, "years"),
        ({"country": "RU", "years": ["soon"]}, "years"),
        ({"country": "RU"}, "years"),
    ],
)
def test_fill_holidays_bad_input_is_a_400_naming_the_field(lead_api, calendar, payload, field):
    response = lead_api.post(f"/api/calendars/{calendar.pk}/fill-holidays/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not calendar.holidays.exists()


def test_a_calendar_in_use_cannot_be_deleted(lead_api, policy, calendar):
    response = lead_api.delete(f"/api/calendars/{calendar.pk}/")
    assert response.status_code == 409 and "SLA policies" in response.json()["detail"]
    spare = office_calendar(name="Spare")
    assert lead_api.delete(f"/api/calendars/{spare.pk}/").status_code == 204


# --- SLA policies ------------------------------------------------------------------------------


def policy_payload(in_calendar, **extra) -> dict:
    return {
        "name": "Premium",
        "position": 10,
        "calendar": in_calendar.pk,
        "service_classes": ["premium"],
        "priorities": ["high", "urgent"],
        "first_response_minutes": 15,
        "resolution_minutes": 120,
        **extra,
    }


def test_a_policy_with_conditions_is_created_and_chosen_for_matching_items(lead_api, calendar, policy):
    delivery = Category.objects.create(name="Delivery")
    corporate = ClientType.objects.create(slug="corporate", name="Corporate")
    response = lead_api.post(
        "/api/sla-policies/",
        policy_payload(calendar, categories=[delivery.pk], client_types=[corporate.pk]),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["categories"], body["client_types"]) == ([delivery.pk], [corporate.pk])
    assert body["summary"].startswith("Premium: first response 15 min")

    premium = CustomerFactory(service_class="premium", client_type=corporate)
    data = {
        "kind": "complaint",
        "channel": "phone",
        "customer": premium,
        "priority": "high",
        "category": delivery,
        "subject": "S",
        "description": "D",
    }
    assert services.item_create(data=data).sla_policy_id == body["id"]
    assert services.item_create(data={**data, "priority": "low"}).sla_policy == policy


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"first_response_minutes": -5}, "first_response_minutes"),
        ({"resolution_minutes": 0}, "resolution_minutes"),
        ({"next_response_minutes": -1}, "next_response_minutes"),
        ({"warn_at_percent": 100}, "warn_at_percent"),
        ({"first_response_minutes": 500}, "first_response_minutes"),  # after the resolution
        ({"kinds": ["complaint", "rumour"]}, "kinds"),
        ({"priorities": "high"}, "priorities"),
        ({"service_classes": ["gold"]}, "service_classes"),
        ({"channels": [1]}, "channels"),
        ({"categories": [999999]}, "categories"),
        ({"client_types": [999999]}, "client_types"),
        ({"calendar": None}, "calendar"),
        ({"escalate_to_priority": "asap"}, "escalate_to_priority"),
        ({"name": "Standard"}, "name"),  # taken by the fixture's policy
    ],
)
def test_bad_policy_input_is_a_400_naming_the_field(lead_api, calendar, policy, change, field):
    response = lead_api.post("/api/sla-policies/", policy_payload(calendar, **change), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert SlaPolicy.objects.count() == 1


def test_a_policy_change_retargets_its_open_items_and_records_it(lead_api, policy, saved):
    item = complaint(local(2026, 11, 23, 10, 0))  # Monday: resolution due 14:00
    closed = complaint(local(2026, 11, 23, 10, 0))
    services.item_transition(item_id=closed.pk, to="resolved", note="Done", now=local(2026, 11, 23, 10, 30))
    with time_machine.travel(local(2026, 11, 23, 11, 0), tick=False):
        response = saved(
            lead_api.patch, f"/api/sla-policies/{policy.pk}/", {"resolution_minutes": 480}, format="json"
        )
    assert response.status_code == 200, response.content
    resolution = item.clocks.get(target=Target.RESOLUTION)
    assert resolution.target_seconds == 480 * 60
    assert resolution.due_at == local(2026, 11, 23, 18, 0)
    assert item.changes.filter(field=ItemChange.Field.SLA).count() == 1
    assert not closed.changes.filter(field=ItemChange.Field.SLA).exists()  # history stays


def test_a_policy_in_use_cannot_be_deleted(lead_api, policy):
    complaint(local(2026, 11, 23, 10, 0))
    response = lead_api.delete(f"/api/sla-policies/{policy.pk}/")
    assert response.status_code == 409
    assert SlaPolicy.objects.filter(pk=policy.pk).exists()


def test_policy_filters(lead_api, calendar, policy):
    other = office_calendar(name="Other")
    off = SlaPolicy.objects.create(
        name="Old", calendar=other, active=False, first_response_minutes=60, resolution_minutes=60
    )
    assert [p["id"] for p in lead_api.get("/api/sla-policies/?active=false").json()["results"]] == [off.pk]
    listed = lead_api.get(f"/api/sla-policies/?calendar={calendar.pk}").json()["results"]
    assert [p["id"] for p in listed] == [policy.pk]


# --- categories --------------------------------------------------------------------------------


def test_categories_crud_and_a_category_in_use_is_kept(lead_api, policy):
    created = lead_api.post("/api/feedback-categories/", {"name": "Billing"}, format="json")
    assert created.status_code == 201, created.content
    category_id = created.json()["id"]
    assert lead_api.post("/api/feedback-categories/", {"name": "Billing"}, format="json").status_code == 400
    services.item_create(
        data={
            "kind": "request",
            "channel": "email",
            "author_name": "X",
            "subject": "S",
            "description": "D",
            "category": Category.objects.get(pk=category_id),
        }
    )
    assert lead_api.delete(f"/api/feedback-categories/{category_id}/").status_code == 409
    retired = lead_api.patch(f"/api/feedback-categories/{category_id}/", {"active": False}, format="json")
    assert retired.status_code == 200 and retired.json()["active"] is False
    assert lead_api.get("/api/feedback-categories/?active=true").json()["count"] == 0


# --- lists -------------------------------------------------------------------------------------


def test_settings_lists_query_count_does_not_grow_with_the_page(lead_api, calendar):
    client_type = ClientType.objects.create(slug="corporate", name="Corporate")
    for n in range(21):
        category = Category.objects.create(name=f"Category {n}")
        own_calendar = office_calendar(name=f"Calendar {n}", lunch=True)
        Holiday.objects.create(calendar=own_calendar, date=date(2026, 12, 31), name="Eve")
        policy = SlaPolicy.objects.create(
            name=f"Policy {n}",
            position=n,
            calendar=own_calendar,
            kinds=["complaint"],
            first_response_minutes=60,
            resolution_minutes=240,
        )
        policy.categories.add(category)
        policy.client_types.add(client_type)
    for url in ("/api/sla-policies/", "/api/calendars/", "/api/feedback-categories/"):
        assert_page_size_does_not_change_query_count(lead_api, url)
