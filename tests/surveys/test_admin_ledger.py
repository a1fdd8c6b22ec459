"""The records campaigns leave, in the admin: the invitation ledger, the answers, the contact
policy and the opt-outs; read-only where the services write them, and no query per row."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cxplatform.roles import ADMIN, CX_LEAD, EXECUTIVE, SUPPORT
from surveys import services
from surveys.models import ContactPolicy, Invitation, SurveyOptOut
from tests.factories import CustomerFactory, active_survey, email_campaign

from .campaign_helpers import bulk_customers, survey_questions

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(admin_launch, lead):
    """A launched campaign with one answered invitation and one not."""
    anna, ben = CustomerFactory(name="Anna Answer"), CustomerFactory(name="Ben Silent")
    campaign = email_campaign(name="Ledger campaign")
    admin_launch(lead, campaign)
    invitation = Invitation.objects.get(customer=anna)
    nps, comment = survey_questions(campaign.survey_id)
    services.response_save(
        invitation=invitation, answers={str(nps.pk): "3", str(comment.pk): "Slow courier"}, submit=True
    )
    return campaign, invitation, Invitation.objects.get(customer=ben)


@pytest.mark.parametrize(
    ("role", "sees_link"), [(CX_LEAD, True), (ADMIN, True), (SUPPORT, False), (EXECUTIVE, False)]
)
def test_the_ledger_is_read_only_and_the_survey_link_only_for_those_who_may_change(
    client, make_user, answered, role, sees_link
):
    _, invitation, _ = answered
    client.force_login(make_user(role, username="viewer"))
    listing = client.get(reverse("admin:surveys_invitation_changelist"), {"status__exact": "answered"})
    assert listing.status_code == 200
    assert "Anna Answer" in listing.content.decode() and "Ben Silent" not in listing.content.decode()
    page = client.get(reverse("admin:surveys_invitation_change", args=[invitation.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and 'name="_save"' not in html
    assert "Queued" in html and "Sent" in html and "Answered" in html
    assert (invitation.token in html) is sees_link
    assert client.get(reverse("admin:surveys_invitation_add")).status_code == 403


def test_only_the_admin_role_deletes_an_invitation(client, make_user, answered):
    _, invitation, _ = answered
    url = reverse("admin:surveys_invitation_delete", args=[invitation.pk])
    client.force_login(make_user(CX_LEAD, username="lead2"))
    assert client.get(url).status_code == 403
    client.force_login(make_user(ADMIN))
    assert client.get(url).status_code == 200


def test_invitations_search_by_customer_and_filter_by_campaign(lead, answered):
    campaign, _, silent = answered
    url = reverse("admin:surveys_invitation_changelist")
    found = lead.get(url, {"q": silent.customer.email}).content.decode()
    assert "Ben Silent" in found and "Anna Answer" not in found
    assert "Ben Silent" in lead.get(url, {"campaign__id__exact": campaign.pk}).content.decode()


def test_a_response_shows_its_answers_and_responses_filter_by_completion(lead, answered):
    campaign, invitation, _ = answered
    response = invitation.response
    page = lead.get(reverse("admin:surveys_response_change", args=[response.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and 'name="_save"' not in html
    assert "How likely are you to recommend us" in html and "Slow courier" in html
    listing = lead.get(reverse("admin:surveys_response_changelist"), {"completed": "yes"}).content.decode()
    assert "NPS 3" in listing
    partial = lead.get(reverse("admin:surveys_response_changelist"), {"completed": "no"})
    assert partial.context["cl"].result_count == 0


def test_the_contact_policy_is_one_page_a_lead_can_change(lead, make_user):
    to_it = lead.get(reverse("admin:surveys_contactpolicy_changelist"))
    assert to_it.status_code == 302
    assert to_it["Location"] == reverse("admin:surveys_contactpolicy_change", args=[1])
    saved = lead.post(to_it["Location"], {"quarantine_days": "14"})
    assert saved.status_code == 302 and ContactPolicy.current().quarantine_days == 14
    refused = lead.post(to_it["Location"], {"quarantine_days": "999"})
    assert "quarantine_days" in refused.context["adminform"].form.errors
    assert lead.get(reverse("admin:surveys_contactpolicy_add")).status_code == 403
    assert lead.get(reverse("admin:surveys_contactpolicy_delete", args=[1])).status_code == 403
    executive = Client()
    executive.force_login(make_user(EXECUTIVE))
    assert executive.post(to_it["Location"], {"quarantine_days": "0"}).status_code == 403
    assert ContactPolicy.current().quarantine_days == 14


def test_a_lead_resubscribes_a_customer_by_deleting_the_opt_out(lead, make_user, answered):
    _, _, silent = answered
    services.invitation_unsubscribe(invitation=silent)
    opt_out = SurveyOptOut.objects.get()
    listing = lead.get(reverse("admin:surveys_surveyoptout_changelist"), {"q": "Ben"}).content.decode()
    assert "Ben Silent" in listing and "Ledger campaign" in listing
    support = Client()
    support.force_login(make_user(SUPPORT))
    url = reverse("admin:surveys_surveyoptout_delete", args=[opt_out.pk])
    assert support.post(url, {"post": "yes"}).status_code == 403
    assert lead.post(url, {"post": "yes"}).status_code == 302
    assert not SurveyOptOut.objects.exists()

    # Or several at once, from the list: "Re-subscribe", confirmed on Django's delete page.
    services.invitation_unsubscribe(invitation=silent)
    listing = reverse("admin:surveys_surveyoptout_changelist")
    chosen = {"action": "resubscribe", "_selected_action": [SurveyOptOut.objects.get().pk], "post": "yes"}
    support.post(listing, chosen)  # not an action they are offered: nothing happens
    assert SurveyOptOut.objects.exists()
    assert "Are you sure" in lead.post(listing, {**chosen, "post": ""}).content.decode()
    assert lead.post(listing, chosen).status_code == 302
    assert not SurveyOptOut.objects.exists()


# --- no query per row ------------------------------------------------------------------------------


def queries(client, url: str) -> int:
    client.get(url)  # warm the user's permission cache
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_lists_do_not_query_per_row(lead, admin_launch):
    customers = bulk_customers(4)
    survey = active_survey()
    first = email_campaign(survey, name="First")
    admin_launch(lead, first)
    for invitation in Invitation.objects.all()[:2]:
        services.response_save(invitation=invitation, answers={}, submit=False)
    urls = [
        reverse("admin:surveys_campaign_changelist"),
        reverse("admin:surveys_invitation_changelist"),
        reverse("admin:surveys_response_changelist"),
        reverse("admin:surveys_surveyoptout_changelist"),
    ]
    services.invitation_unsubscribe(invitation=Invitation.objects.first())
    few = [queries(lead, url) for url in urls]

    for n in range(4):
        campaign = email_campaign(survey, name=f"More {n}", everyone=False)
        services.campaign_save(campaign=campaign, data={"customers": customers})
        admin_launch(lead, campaign)
    for invitation in Invitation.objects.exclude(status="held_back")[:8]:
        services.response_save(invitation=invitation, answers={}, submit=False)
    for invitation in Invitation.objects.filter(status="sent")[:3]:
        services.invitation_unsubscribe(invitation=invitation)
    assert [queries(lead, url) for url in urls] == few
