"""The CX lead's campaign desk in the admin, walked as a new user would (issue 3, "Done means").

A launch enqueues the campaign's run after commit; the callbacks are captured and run (Celery is
eager in tests, so the run builds the invitations and the sending task mails them into
django.core.mail.outbox). Time moves with time_machine, so the sweep's reminders are really due.
"""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib import admin
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from cxplatform.roles import ADMIN, CX_LEAD, EXECUTIVE, SUPPORT
from surveys import services
from surveys.models import Campaign, Invitation, InvitationStatus, Survey
from tests.factories import CustomerFactory, active_survey, email_campaign

from .campaign_helpers import segment_of, sent_invitation, survey_questions

pytestmark = pytest.mark.django_db


def change_url(campaign) -> str:
    return reverse("admin:surveys_campaign_change", args=[campaign.pk])


def action_url(campaign, action: str) -> str:
    return reverse(f"admin:surveys_campaign_{action}", args=[campaign.pk])


def form(survey, **fields) -> dict:
    """The campaign form as a browser posts it: unticked boxes absent, empty boxes empty."""
    return {
        "name": "Spring NPS",
        "survey": survey.pk,
        "kind": "one_off",
        "channel": "email",
        "send_at_0": "",
        "send_at_1": "",
        "repeat_every_days": "",
        "trigger_event_kind": "",
        "trigger_delay_minutes": "0",
        "quarantine_days": "",
        "defer_held_back": "on",
        "reminder_count": "0",
        "reminder_every_days": "",
        "expires_after_days": "30",
        "email_subject_en": "",
        "email_subject_ru": "",
        **fields,
    }


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def funnel(client, campaign) -> dict:
    response = client.get(action_url(campaign, "funnel"))
    assert response.status_code == 200
    return response.json()


def steps(data: dict) -> dict[str, int]:
    return {step["key"]: step["count"] for step in data["steps"]}


# --- the whole story ---------------------------------------------------------------------------


def test_lead_builds_aims_dry_runs_launches_watches_and_reminds_only_the_silent(
    lead, admin_launch, django_capture_on_commit_callbacks
):
    # An NPS survey from the template, in the admin (the builder's own tests cover editing it).
    created = lead.post(reverse("admin:surveys_survey_from_template", args=["nps"]))
    survey = Survey.objects.get()
    assert created["Location"] == reverse("admin:surveys_survey_change", args=[survey.pk])
    services.survey_save(survey=survey, data={"status": "active"})

    buyers = [CustomerFactory(name=f"Buyer {n}") for n in range(3)]
    recently_asked = CustomerFactory(name="Asked last week")
    no_consent = CustomerFactory(name="Never asked", survey_consent=False)
    CustomerFactory(name="Not in the segment")
    segment = segment_of([*buyers, recently_asked, no_consent], name="Loyal buyers")
    sent_invitation(email_campaign(name="Earlier"), recently_asked)

    # Aim a campaign at the segment, with one reminder three days on.
    response = lead.post(
        reverse("admin:surveys_campaign_add"),
        form(survey, segments=[segment.pk], reminder_count="1", reminder_every_days="3",
             email_subject_en="How are we doing?"),
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get(name="Spring NPS")
    assert list(campaign.segments.all()) == [segment]
    assert campaign.email_subject == {"en": "How are we doing?"}
    assert campaign.created_by.username == "cx_lead"

    # The dry run on its page: three to send, one deferred by the quarantine, one without consent.
    page = lead.get(change_url(campaign))
    assert page.status_code == 200
    dry_run = page.context["dry_run"]
    assert (dry_run["audience"], dry_run["would_send"], dry_run["deferred"]) == (5, 3, 1)
    assert {r["key"]: r["count"] for r in dry_run["held_back"]}["no_consent"] == 1
    html = page.content.decode()
    assert "Dry run: if launched now" in html and action_url(campaign, "launch") in html

    # Launch: a confirmation with the same numbers, then the POST.
    confirm = lead.get(action_url(campaign, "launch"))
    assert confirm.status_code == 200 and "Yes, launch it" in confirm.content.decode()
    assert confirm.context["dry_run"]["would_send"] == 3
    launched = admin_launch(lead, campaign)
    assert launched.status_code == 302 and launched["Location"] == change_url(campaign)
    assert any("is launched" in m for m in flash(launched))
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.email for c in buyers)
    assert all(m.subject == "How are we doing?" for m in mail.outbox)

    data = funnel(lead, campaign)
    assert data["status"] == "running" and data["live"] is True
    assert steps(data) == {"invited": 4, "delivered": 3, "opened": 0, "answered": 0}
    assert data["deferred"] == 1 and data["response_rate"] == 0
    assert {h["key"]: h["count"] for h in data["held_back"]}["no_consent"] == 1

    # A customer opens the email and answers (the public page's own tests cover the page).
    token = re.search(r"/s/([\w-]+)/", mail.outbox[0].body).group(1)
    invitation = Invitation.objects.get(token=token)
    nps, comment = survey_questions(survey.pk)
    services.invitation_open(invitation=invitation)
    result = services.response_save(
        invitation=invitation, answers={str(nps.pk): "9", str(comment.pk): "Quick delivery"}, submit=True
    )
    assert result.completed

    data = funnel(lead, campaign)
    assert steps(data) == {"invited": 4, "delivered": 3, "opened": 1, "answered": 1}
    assert (
        data["response_rate"] == pytest.approx(1 / 3, abs=1e-3) and data["response_rate_display"] == "33.3%"
    )
    page = lead.get(change_url(campaign)).content.decode()
    assert (
        'id="cx-rate">33.3%<' in page and reverse("admin:surveys_campaign_funnel", args=[campaign.pk]) in page
    )
    listing = lead.get(reverse("admin:surveys_campaign_changelist")).content.decode()
    assert "33%" in listing

    # Three days on, the sweep reminds the two who did not answer, and no one else.
    mail.outbox.clear()
    later = timezone.now() + timedelta(days=3, hours=1)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        services.survey_sweep()
    reminded = sorted(m.to[0] for m in mail.outbox)
    assert reminded == sorted(c.email for c in buyers if c != invitation.customer)
    assert all(m.subject.startswith("Reminder") for m in mail.outbox)
    assert funnel(lead, campaign)["reminded"] == 2


# --- the form ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"reminder_count": "3", "reminder_every_days": "15"}, "reminder_every_days", "run past"),
        ({"reminder_count": "2"}, "reminder_every_days", "every how many days"),
        ({"reminder_count": "9", "reminder_every_days": "1"}, "reminder_count", "less than or equal to 5"),
        (
            {"channel": "link", "reminder_count": "1", "reminder_every_days": "3"},
            "reminder_count",
            "no recipients",
        ),
        ({"channel": "link", "kind": "recurring", "repeat_every_days": "30"}, "kind", "one-off"),
        ({"kind": "recurring"}, "repeat_every_days", "interval"),
        ({"kind": "event_triggered"}, "trigger_event_kind", "which customer event"),
        ({"name": "Taken"}, "name", "already exists"),
    ],
)
def test_a_campaign_that_makes_no_sense_is_shown_again_with_the_error_on_its_field(
    lead, fields, field, words
):
    survey = active_survey()
    email_campaign(survey, name="Taken")
    response = lead.post(reverse("admin:surveys_campaign_add"), form(survey, everyone="on", **fields))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors and words in " ".join(errors[field]), errors
    assert Campaign.objects.count() == 1


def test_stages_classes_lists_and_subjects_are_saved_through_the_service_and_shown_again(lead):
    survey, customer = active_survey(), CustomerFactory(name="Listed customer")
    segment = segment_of([customer])
    response = lead.post(
        reverse("admin:surveys_campaign_add"),
        form(
            survey,
            segments=[segment.pk],
            lifecycle_stages=["purchase", "loyalty"],
            service_classes=["premium"],
            customers=[customer.pk],
            email_subject_en="Your opinion, please",
            email_subject_ru="Ваше мнение",
        ),
    )
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert campaign.lifecycle_stages == ["purchase", "loyalty"] and campaign.service_classes == ["premium"]
    assert list(campaign.customers.all()) == [customer]
    assert campaign.email_subject == {"en": "Your opinion, please", "ru": "Ваше мнение"}

    page = lead.get(change_url(campaign)).content.decode()
    assert re.search(r'<input type="checkbox" name="lifecycle_stages" value="loyalty"[^>]*checked', page)
    assert re.search(rf'<input type="checkbox" name="segments" value="{segment.pk}"[^>]*checked', page)
    assert f"{segment.name} (0 customers)" in page and 'value="Ваше мнение"' in page
    assert page.count('name="email_subject_') == 2  # one box per language, no raw JSON

    # Clearing a list clears it (the service replaces the lists it is given).
    lead.post(change_url(campaign), form(survey, everyone="on", name=campaign.name))
    campaign.refresh_from_db()
    assert campaign.everyone and not campaign.segments.exists() and not campaign.customers.exists()
    assert campaign.lifecycle_stages == [] and campaign.email_subject == {}


def test_an_empty_audience_is_refused_at_launch_naming_the_audience(lead, admin_launch):
    survey = active_survey()
    lead.post(reverse("admin:surveys_campaign_add"), form(survey))  # nothing ticked: allowed as a draft
    nobody = Campaign.objects.get()
    refused = admin_launch(lead, nobody)
    assert refused.status_code == 302 and any("Audience: Choose an audience" in m for m in flash(refused))

    empty = email_campaign(survey, everyone=False, name="Empty segment")
    services.campaign_save(campaign=empty, data={"segments": [segment_of([], name="Nobody yet").pk]})
    refused = admin_launch(lead, empty)
    assert any("Audience: The audience is empty" in m for m in flash(refused))
    assert set(Campaign.objects.values_list("status", flat=True)) == {"draft"} and not mail.outbox


def test_a_draft_survey_or_a_second_launch_is_refused_with_a_message(lead, admin_launch):
    draft = services.survey_from_template(template="csat", name="Draft CSAT")
    CustomerFactory()
    campaign = email_campaign(draft)
    assert any("Survey: Make the survey active" in m for m in flash(admin_launch(lead, campaign)))
    services.survey_save(survey=draft, data={"status": "active"})
    admin_launch(lead, campaign)
    assert any("already running" in m for m in flash(admin_launch(lead, campaign)))
    assert len(mail.outbox) == 1


def test_once_launched_survey_kind_and_channel_are_read_only_and_the_rest_still_saves(lead, admin_launch):
    CustomerFactory()
    survey = active_survey()
    campaign = email_campaign(survey, name="Live one")
    admin_launch(lead, campaign)
    page = lead.get(change_url(campaign))
    fields = page.context["adminform"].form.fields
    assert not {"survey", "kind", "channel"} & set(fields) and "name" in fields
    assert 'name="_save"' in page.content.decode()
    response = lead.post(
        change_url(campaign), form(survey, everyone="on", name="Live one, renamed", kind="recurring")
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.kind) == ("Live one, renamed", "one_off")


def test_stop_asks_first_then_finishes_the_campaign_and_its_page_becomes_read_only(lead, admin_launch):
    asked = CustomerFactory()
    sent_invitation(email_campaign(name="Earlier"), asked)  # quarantined: deferred, still queued
    CustomerFactory()
    campaign = email_campaign(name="To stop")
    admin_launch(lead, campaign)
    assert "Stop…" in lead.get(change_url(campaign)).content.decode()
    confirm = lead.get(action_url(campaign, "stop"))
    assert confirm.status_code == 200 and "Yes, stop it" in confirm.content.decode()
    stopped = lead.post(action_url(campaign, "stop"))
    assert any("is stopped" in m for m in flash(stopped))
    campaign.refresh_from_db()
    assert campaign.status == "finished"
    assert Invitation.objects.get(campaign=campaign, customer=asked).status == InvitationStatus.CANCELLED

    page = lead.get(change_url(campaign)).content.decode()
    assert 'name="_save"' not in page and "Stop…" not in page and 'id="cx-funnel"' in page
    assert lead.post(change_url(campaign), form(campaign.survey, everyone="on")).status_code == 403
    assert any("nothing to stop" in m for m in flash(lead.post(action_url(campaign, "stop"))))


def test_a_link_campaign_shows_its_public_link_to_copy(lead, admin_launch):
    campaign = email_campaign(name="Website link", channel="link", everyone=False)
    admin_launch(lead, campaign)
    page = lead.get(change_url(campaign))
    link = reverse("survey-page", args=[campaign.link_token])
    assert page.context["public_link"].endswith(link) and link in page.content.decode()
    assert page.context["dry_run"] is None


# --- roles ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [SUPPORT, EXECUTIVE])
def test_support_and_executives_see_campaigns_but_cannot_launch_stop_or_change(
    client, make_user, role, admin_launch
):
    CustomerFactory()
    draft = email_campaign(name="Draft", lifecycle_stages=["loyalty"], email_subject={"ru": "Ваше мнение"})
    live = email_campaign(name="Live")
    services.campaign_launch(campaign=live)
    client.force_login(make_user(role))
    shown = client.get(change_url(draft)).content.decode()
    assert "5. Loyalty (repeat buying)" in shown and "Русский: Ваше мнение" in shown  # as text, not JSON

    for campaign in (draft, live):
        page = client.get(change_url(campaign))
        assert page.status_code == 200
        html = page.content.decode()
        assert 'name="_save"' not in html and "Launch…" not in html and "Stop…" not in html
        assert client.get(action_url(campaign, "funnel")).status_code == 200
    assert client.get(action_url(draft, "launch")).status_code == 403
    assert admin_launch(client, draft).status_code == 403
    assert client.post(action_url(live, "stop")).status_code == 403
    assert client.post(change_url(draft), form(draft.survey, everyone="on", name="Mine")).status_code == 403
    assert client.get(reverse("admin:surveys_campaign_add")).status_code == 403
    draft.refresh_from_db()
    assert (draft.status, draft.name) == ("draft", "Draft")


def test_staff_without_a_role_cannot_read_the_funnel(client, make_user):
    campaign = email_campaign()
    client.force_login(make_user(None))
    assert client.get(reverse("admin:surveys_campaign_change", args=["not-a-number"])).status_code in (
        302,
        403,
    )
    assert client.get(action_url(campaign, "funnel")).status_code == 403
    client.logout()
    assert client.get(action_url(campaign, "funnel")).status_code == 302  # to the login page


def test_only_drafts_can_be_deleted_except_by_the_admin_role(client, make_user, admin_launch):
    CustomerFactory()
    draft, live = email_campaign(name="Draft"), email_campaign(name="Live")
    services.campaign_launch(campaign=live)
    client.force_login(make_user(CX_LEAD))
    assert client.get(reverse("admin:surveys_campaign_delete", args=[draft.pk])).status_code == 200
    assert client.get(reverse("admin:surveys_campaign_delete", args=[live.pk])).status_code == 403
    assert "delete_selected" not in client.get(reverse("admin:surveys_campaign_changelist")).content.decode()
    client.force_login(make_user(ADMIN, username="boss"))
    assert client.get(reverse("admin:surveys_campaign_delete", args=[live.pk])).status_code == 200
    chosen = {"action": "delete_selected", "_selected_action": [draft.pk, live.pk], "post": "yes"}
    assert client.post(reverse("admin:surveys_campaign_changelist"), chosen).status_code == 302
    assert not Campaign.objects.exists() and not Invitation.objects.exists()


def test_a_refusal_on_a_field_the_form_does_not_show_lands_on_top_of_the_form(
    rf, make_user, admin_launch, lead
):
    CustomerFactory()
    campaign = email_campaign(name="Finished meanwhile")
    admin_launch(lead, campaign)
    request = rf.post("/")
    request.user = make_user(CX_LEAD, username="other_lead")
    form_class = admin.site._registry[Campaign].get_form(request, campaign, change=True)
    bound = form_class(data=form(campaign.survey, everyone="on", name="Renamed"), instance=campaign)
    services.campaign_stop(campaign=campaign)  # e.g. stopped by a colleague while this form was open
    assert not bound.is_valid()
    assert bound.non_field_errors() == ["Status: A finished campaign cannot be changed; copy it instead."]
    campaign.refresh_from_db()
    assert campaign.name == "Finished meanwhile"
