"""Campaigns through the API, as a CX lead would use them: build, target, dry-run, launch, watch.

A launch enqueues the campaign's run after commit; pytest-django keeps each test in one
transaction, so the callbacks are captured and run (Celery is eager here: the run builds the
invitations and the sending task mails them into django.core.mail.outbox).
"""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from customers.models import ClientType
from cxplatform.roles import SUPPORT
from surveys.models import Campaign, Invitation, new_token
from surveys.services import campaign_launch, response_save, survey_from_template
from tests.factories import CustomerFactory, SegmentFactory, active_survey, email_campaign
from tests.querycount import assert_page_size_does_not_change_query_count

from .campaign_helpers import bulk_customers, segment_of, sent_invitation, survey_questions

pytestmark = pytest.mark.django_db


@pytest.fixture
def launch(lead_api, django_capture_on_commit_callbacks):
    """POST launch and run what it enqueued: the run, then the sending of its invitations."""

    def run(campaign_id: int):
        with django_capture_on_commit_callbacks(execute=True):
            response = lead_api.post(f"/api/campaigns/{campaign_id}/launch/")
        return response

    return run


# --- the whole story ---------------------------------------------------------------------------


def test_lead_builds_targets_dry_runs_launches_and_watches_the_funnel(lead_api, api_as, launch):
    survey = lead_api.post(
        "/api/surveys/from-template/", {"template": "nps", "name": "Relationship NPS"}, format="json"
    ).json()
    assert (
        lead_api.patch(f"/api/surveys/{survey['id']}/", {"status": "active"}, format="json").status_code
        == 200
    )
    reachable = CustomerFactory.create_batch(3)
    no_consent, no_email = CustomerFactory(survey_consent=False), CustomerFactory(email="")
    CustomerFactory(name="Not in the segment")
    segment = segment_of([*reachable, no_consent, no_email])

    created = lead_api.post(
        "/api/campaigns/",
        {
            "name": "Spring NPS",
            "survey": survey["id"],
            "segments": [segment.pk],
            "reminder_count": 1,
            "reminder_every_days": 3,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    campaign = created.json()
    assert (campaign["status"], campaign["segments"], campaign["public_link"]) == (
        "draft",
        [segment.pk],
        None,
    )
    assert campaign["survey_name"] == "Relationship NPS"

    dry_run = lead_api.post(f"/api/campaigns/{campaign['id']}/dry-run/")
    assert dry_run.status_code == 200
    assert dry_run.json() == {
        "audience": 5,
        "would_send": 3,
        "deferred": 0,
        "held_back": {"quarantined": 0, "no_consent": 1, "no_email": 1, "unsubscribed": 0},
        "held_back_total": 2,
    }
    assert not Invitation.objects.exists() and not mail.outbox  # a dry run changes nothing

    launched = launch(campaign["id"])
    assert launched.status_code == 200, launched.json()
    assert launched.json()["status"] == "running" and launched.json()["launched_at"]
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in reachable)

    ledger = lead_api.get("/api/invitations/", {"campaign": campaign["id"], "page_size": 50}).json()
    assert ledger["count"] == 5
    by_customer = {row["customer"]: row for row in ledger["results"]}
    assert {by_customer[c.pk]["status"] for c in reachable} == {"sent"}
    assert by_customer[no_consent.pk]["held_back_reason"] == "no_consent"
    assert by_customer[no_email.pk]["status"] == "held_back"
    first = Invitation.objects.get(customer=reachable[0])
    assert by_customer[first.customer_id]["token"] == first.token
    assert by_customer[first.customer_id]["survey_link"] == f"{settings.SITE_URL}/s/{first.token}/"
    assert any(by_customer[first.customer_id]["survey_link"] in m.body for m in mail.outbox)

    funnel = lead_api.get(f"/api/campaigns/{campaign['id']}/funnel/").json()
    assert funnel["status"] == "running" and funnel["invitations"] == 5
    assert funnel["by_status"]["sent"] == 3 and funnel["by_status"]["held_back"] == 2
    assert funnel["held_back"] == {"quarantined": 0, "no_consent": 1, "no_email": 1, "unsubscribed": 0}
    assert funnel["funnel"] == {"invited": 3, "delivered": 3, "opened": 0, "answered": 0}
    assert funnel["response_rate"] == 0.0

    nps, comment = survey_questions(survey["id"])
    result = response_save(
        invitation=first, answers={str(nps.pk): "9", str(comment.pk): "Quick delivery"}, submit=True
    )
    assert result.completed, result.errors

    funnel = lead_api.get(f"/api/campaigns/{campaign['id']}/funnel/").json()
    assert funnel["funnel"]["answered"] == 1 and funnel["by_status"]["answered"] == 1
    assert funnel["response_rate"] == round(1 / 3, 4)
    assert funnel["responses"] == {"complete": 1, "partial": 0}

    responses = lead_api.get("/api/responses/", {"campaign": campaign["id"]}).json()
    assert responses["count"] == 1
    (response,) = responses["results"]
    assert (response["customer"], response["invitation"], response["completed"]) == (
        first.customer_id,
        first.pk,
        True,
    )
    assert response["answers"] == [
        {"question": nps.pk, "kind": "nps", "score": 9, "choices": [], "text": ""},
        {"question": comment.pk, "kind": "text", "score": None, "choices": [], "text": "Quick delivery"},
    ]
    answered = lead_api.get("/api/invitations/", {"campaign": campaign["id"], "status": "answered"}).json()
    assert [row["customer"] for row in answered["results"]] == [first.customer_id]

    # Support reads the ledger and the funnel, but not the tokens that open a customer's survey.
    support = api_as(SUPPORT)
    row = support.get(f"/api/invitations/{first.pk}/").json()
    assert row["status"] == "answered" and row["token"] is None and row["survey_link"] is None
    assert support.get(f"/api/campaigns/{campaign['id']}/funnel/").status_code == 200


# --- bad input is a 400 naming the field ------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"kind": "recurring"}, "repeat_every_days", "interval"),
        ({"repeat_every_days": 7}, "repeat_every_days", "Only recurring"),
        ({"reminder_count": 2}, "reminder_every_days", "every how many days"),
        ({"reminder_every_days": 3}, "reminder_count", "how many reminders"),
        (
            {"reminder_count": 3, "reminder_every_days": 10, "expires_after_days": 30},
            "reminder_every_days",
            "expiry",
        ),
        ({"reminder_count": 6, "reminder_every_days": 1}, "reminder_count", "5"),
        ({"lifecycle_stages": ["loyalty", "asleep"]}, "lifecycle_stages", 'Unknown lifecycle stage "asleep"'),
        ({"service_classes": ["gold"]}, "service_classes", "Unknown gold"),
        ({"kind": "event_triggered", "trigger_event_kind": "teleport"}, "trigger_event_kind", "valid choice"),
        ({"segments": [999999]}, "segments", "999999"),
        ({"client_types": [424242]}, "client_types", "424242"),
        ({"customers": ["anna"]}, "customers", "integer"),
        ({"channel": "link", "kind": "recurring", "repeat_every_days": 7}, "kind", "one-off"),
        (
            {"channel": "link", "reminder_count": 1, "reminder_every_days": 1},
            "reminder_count",
            "no recipients",
        ),
        ({"channel": "sms"}, "channel", "sms"),
        ({"kind": "event_triggered"}, "trigger_event_kind", "which customer event"),
        ({"trigger_event_kind": "purchase"}, "trigger_event_kind", "Only event-triggered"),
        ({"email_subject": {"de": "Hallo"}}, "email_subject", "languages"),
        ({"expires_after_days": 0}, "expires_after_days", "1"),
        ({"survey": 987654}, "survey", "987654"),
    ],
)
def test_a_campaign_that_makes_no_sense_is_a_400_naming_the_field(lead_api, fields, field, words):
    survey = active_survey()
    response = lead_api.post(
        "/api/campaigns/", {"name": "Odd one", "survey": survey.pk, "everyone": True, **fields}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert field in response.json(), response.json()
    assert words in str(response.json()[field])
    assert not Campaign.objects.exists()


def test_launch_refuses_an_empty_audience_a_draft_survey_and_a_second_launch(lead_api, launch):
    nobody = email_campaign(everyone=False)
    response = launch(nobody.pk)
    assert response.status_code == 400 and "Choose an audience" in response.json()["audience"][0]

    CustomerFactory()
    empty_segment = email_campaign(everyone=False, segments=[SegmentFactory(name="Nobody yet").pk])
    response = launch(empty_segment.pk)
    assert response.status_code == 400 and "no customer matches" in response.json()["audience"][0]

    draft_survey = email_campaign(survey=survey_from_template(template="csat", name="Still a draft"))
    response = launch(draft_survey.pk)
    assert response.status_code == 400 and "active" in response.json()["survey"][0]

    campaign = email_campaign()
    assert launch(campaign.pk).status_code == 200
    again = launch(campaign.pk)
    assert again.status_code == 400 and "already running" in again.json()["status"][0]
    assert Campaign.objects.filter(status=Campaign.Status.DRAFT).count() == 3
    assert Invitation.objects.filter(campaign=campaign).count() == 1  # built once


def test_a_launched_campaigns_survey_kind_and_channel_are_fixed(lead_api, launch):
    CustomerFactory()
    campaign = email_campaign()
    assert launch(campaign.pk).status_code == 200
    url = f"/api/campaigns/{campaign.pk}/"
    for change in (
        {"survey": active_survey().pk},
        {"kind": "recurring", "repeat_every_days": 7},
        {"channel": "link"},
    ):
        response = lead_api.patch(url, change, format="json")
        field = next(iter(change))
        assert (
            response.status_code == 400 and "Fixed once the campaign is launched" in response.json()[field][0]
        )
    renamed = lead_api.patch(url, {"name": "Spring NPS (all customers)", "reminder_count": 0}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Spring NPS (all customers)"
    # A PUT repeating the fixed fields unchanged is fine.
    body = {**renamed.json(), "survey": campaign.survey_id}
    assert lead_api.put(url, body, format="json").status_code == 200

    assert lead_api.post(f"/api/campaigns/{campaign.pk}/stop/").json()["status"] == "finished"
    finished = lead_api.patch(url, {"name": "Later"}, format="json")
    assert finished.status_code == 400 and "finished" in finished.json()["status"][0]


def test_only_a_campaign_never_launched_can_be_deleted(lead_api, launch):
    CustomerFactory()
    draft, launched = email_campaign(), email_campaign()
    assert launch(launched.pk).status_code == 200
    not_stoppable = lead_api.post(f"/api/campaigns/{draft.pk}/stop/")
    assert not_stoppable.status_code == 400 and "delete it instead" in not_stoppable.json()["status"][0]

    refused = lead_api.delete(f"/api/campaigns/{launched.pk}/")
    assert refused.status_code == 409 and "stop it instead" in refused.json()["detail"]
    assert Invitation.objects.filter(campaign=launched).exists()
    assert lead_api.delete(f"/api/campaigns/{draft.pk}/").status_code == 204
    assert list(Campaign.objects.values_list("pk", flat=True)) == [launched.pk]


# --- audiences, deferral, stop, link campaigns ------------------------------------------------


def test_audience_lists_are_ids_and_replace_the_previous_ones(lead_api):
    loyal = ClientType.objects.get(slug="loyal")
    anna, olga = CustomerFactory(), CustomerFactory()
    segment = SegmentFactory()
    created = lead_api.post(
        "/api/campaigns/",
        {
            "name": "Targeted",
            "survey": active_survey().pk,
            "segments": [segment.pk],
            "client_types": [loyal.pk],
            "customers": [anna.pk, olga.pk, anna.pk],
            "lifecycle_stages": ["loyalty"],
            "service_classes": ["premium"],
        },
        format="json",
    ).json()
    assert (created["segments"], created["client_types"], created["customers"]) == (
        [segment.pk],
        [loyal.pk],
        sorted([anna.pk, olga.pk]),
    )
    changed = lead_api.patch(
        f"/api/campaigns/{created['id']}/", {"customers": [olga.pk]}, format="json"
    ).json()
    assert changed["customers"] == [olga.pk] and changed["segments"] == [segment.pk]


def test_dry_run_counts_the_quarantined_as_deferred_and_stop_cancels_them(lead_api, launch):
    fresh, recently_asked = CustomerFactory(), CustomerFactory()
    sent_invitation(email_campaign(), recently_asked)  # inside the global 30-day quarantine
    campaign = email_campaign(customers=[fresh.pk, recently_asked.pk], everyone=False)

    dry_run = lead_api.post(f"/api/campaigns/{campaign.pk}/dry-run/").json()
    assert (dry_run["would_send"], dry_run["deferred"], dry_run["held_back_total"]) == (1, 1, 0)

    assert launch(campaign.pk).status_code == 200
    funnel = lead_api.get(f"/api/campaigns/{campaign.pk}/funnel/").json()
    assert (funnel["by_status"]["sent"], funnel["by_status"]["queued"], funnel["deferred"]) == (1, 1, 1)
    waiting = lead_api.get("/api/invitations/", {"campaign": campaign.pk, "held_back_reason": "quarantined"})
    assert [row["customer"] for row in waiting.json()["results"]] == [recently_asked.pk]

    stopped = lead_api.post(f"/api/campaigns/{campaign.pk}/stop/")
    assert stopped.status_code == 200 and stopped.json()["status"] == "finished"
    assert stopped.json()["finished_at"]
    funnel = lead_api.get(f"/api/campaigns/{campaign.pk}/funnel/").json()
    assert (funnel["by_status"]["cancelled"], funnel["by_status"]["sent"]) == (1, 1)


def test_a_link_campaign_shows_its_public_link_and_needs_no_audience(lead_api, launch):
    created = lead_api.post(
        "/api/campaigns/",
        {"name": "Shop counter", "survey": active_survey().pk, "channel": "link"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    campaign = Campaign.objects.get()
    assert created.json()["public_link"] == f"{settings.SITE_URL}/s/{campaign.link_token}/"
    assert lead_api.post(f"/api/campaigns/{campaign.pk}/dry-run/").json()["audience"] is None
    launched = launch(campaign.pk)
    assert launched.status_code == 200 and launched.json()["status"] == "running"
    assert lead_api.get(f"/api/campaigns/{campaign.pk}/funnel/").json()["response_rate"] is None


# --- filters -------------------------------------------------------------------------------------


def names(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {row["name"] for row in response.json()["results"]}


def test_campaign_filters_search_and_ordering(lead_api):
    nps, csat = active_survey(), active_survey("csat")
    CustomerFactory()
    email_campaign(survey=nps, name="Spring NPS")
    running = email_campaign(survey=nps, name="Summer NPS")
    campaign_launch(campaign=running)
    email_campaign(survey=csat, name="Weekly CSAT", kind="recurring", repeat_every_days=7)
    link = lead_api.post(
        "/api/campaigns/", {"name": "Counter", "survey": csat.pk, "channel": "link"}, format="json"
    )
    assert link.status_code == 201
    api = "/api/campaigns/"

    assert names(lead_api.get(api, {"status": "running"})) == {"Summer NPS"}
    assert names(lead_api.get(f"{api}?status=running&status=draft")) == {
        "Spring NPS",
        "Summer NPS",
        "Weekly CSAT",
        "Counter",
    }
    assert names(lead_api.get(api, {"kind": "recurring"})) == {"Weekly CSAT"}
    assert names(lead_api.get(api, {"channel": "link"})) == {"Counter"}
    assert names(lead_api.get(api, {"survey": nps.pk})) == {"Spring NPS", "Summer NPS"}
    assert names(lead_api.get(api, {"search": "nps"})) == {"Spring NPS", "Summer NPS"}
    hour_ago = (timezone.now() - timedelta(hours=1)).isoformat()
    assert names(lead_api.get(api, {"launched_after": hour_ago})) == {"Summer NPS"}
    assert names(lead_api.get(api, {"created_before": hour_ago})) == set()
    assert len(names(lead_api.get(api, {"created_after": hour_ago}))) == 4
    ordered = lead_api.get(api, {"ordering": "name"}).json()["results"]
    assert [row["name"] for row in ordered] == ["Counter", "Spring NPS", "Summer NPS", "Weekly CSAT"]
    bad = lead_api.get(api, {"status": "paused"})
    assert bad.status_code == 400 and "status" in bad.json()


# --- no query per row ------------------------------------------------------------------------


def test_campaign_list_query_count_does_not_grow(lead_api):
    survey = active_survey()
    customers = bulk_customers(3)
    segment = SegmentFactory()
    campaigns = Campaign.objects.bulk_create(
        [
            Campaign(
                name=f"Campaign {i}",
                survey=survey,
                channel=Campaign.Channel.LINK if i % 2 else Campaign.Channel.EMAIL,
                link_token=new_token(),
            )
            for i in range(25)
        ]
    )
    Campaign.segments.through.objects.bulk_create(
        [Campaign.segments.through(campaign=c, segment=segment) for c in campaigns]
    )
    Campaign.customers.through.objects.bulk_create(
        [
            Campaign.customers.through(campaign=c, customer=customer)
            for c in campaigns
            for customer in customers
        ]
    )
    assert_page_size_does_not_change_query_count(lead_api, "/api/campaigns/")
    assert lead_api.get("/api/campaigns/", {"channel": "link"}).json()["count"] == 12


def test_the_schema_documents_the_actions_and_their_shapes(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/campaigns/{id}/launch/",
        "/api/campaigns/{id}/dry-run/",
        "/api/invitations/{id}/bounce/",
    ):
        assert "post" in schema["paths"][path]
    funnel = schema["paths"]["/api/campaigns/{id}/funnel/"]["get"]["responses"]["200"]
    assert funnel["content"]["application/json"]["schema"]["$ref"].endswith("/Funnel")
    held_back = schema["components"]["schemas"]["HeldBackCounts"]["properties"]
    assert set(held_back) == {"quarantined", "no_consent", "no_email", "unsubscribed"}
    assert {"answers", "completed"} <= set(schema["components"]["schemas"]["Response"]["properties"])
