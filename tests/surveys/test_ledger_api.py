"""The invitation ledger and the responses through the API: bounces, tokens, filters, query counts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cxplatform.roles import CX_LEAD, EXECUTIVE, SUPPORT
from surveys.models import Answer, HeldBackReason, Invitation, InvitationStatus, Response
from surveys.services import response_save
from tests.factories import CustomerFactory, email_campaign
from tests.querycount import assert_page_size_does_not_change_query_count

from .campaign_helpers import bulk_customers, sent_invitation, survey_questions

pytestmark = pytest.mark.django_db


# --- invitations: bounce, tokens ----------------------------------------------------------------


def test_a_bounce_reported_by_the_provider_is_recorded(lead_api):
    campaign = email_campaign()
    invitation = sent_invitation(campaign, next_reminder_at=timezone.now() + timedelta(days=3))
    response = lead_api.post(
        f"/api/invitations/{invitation.pk}/bounce/", {"reason": "550 mailbox unavailable"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["last_error"], body["next_reminder_at"]) == (
        "bounced",
        "550 mailbox unavailable",
        None,
    )
    assert body["bounced_at"]

    queued = Invitation.objects.create(campaign=campaign, customer=CustomerFactory(), language="en")
    refused = lead_api.post(f"/api/invitations/{queued.pk}/bounce/", {}, format="json")
    assert refused.status_code == 400 and "Only a sent invitation" in refused.json()["status"][0]


@pytest.mark.parametrize(
    ("role", "shown"), [(SUPPORT, False), (EXECUTIVE, False), (CX_LEAD, True), ("Admin", True)]
)
def test_invitation_tokens_are_shown_only_to_those_who_may_change_invitations(api_as, role, shown):
    invitation = sent_invitation(email_campaign())
    client = api_as(role)
    for body in (
        client.get(f"/api/invitations/{invitation.pk}/").json(),
        client.get("/api/invitations/").json()["results"][0],
    ):
        assert (body["token"] == invitation.token) is shown
        assert (body["survey_link"] is not None) is shown


# --- filters -------------------------------------------------------------------------------------


def test_invitation_and_response_filters(lead_api):
    campaign, other = email_campaign(), email_campaign()
    anna, olga = CustomerFactory(name="Anna"), CustomerFactory(name="Olga")
    answered = sent_invitation(campaign, anna)
    sent_invitation(campaign, olga)
    Invitation.objects.create(
        campaign=other,
        customer=anna,
        language="en",
        status=InvitationStatus.HELD_BACK,
        held_back_reason=HeldBackReason.NO_EMAIL,
    )
    nps, comment = survey_questions(campaign.survey_id)
    response_save(invitation=answered, answers={str(nps.pk): 3}, submit=True)
    olgas = Invitation.objects.get(customer=olga, campaign=campaign)
    partial = response_save(
        invitation=olgas, answers={str(comment.pk): "The late courier..."}, submit=False
    ).response

    def ids(url, params):
        response = lead_api.get(url, params)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    invitations = "/api/invitations/"
    assert len(ids(invitations, {"campaign": campaign.pk})) == 2
    assert len(ids(invitations, {"customer": anna.pk})) == 2
    assert ids(invitations, {"status": "answered"}) == {answered.pk}
    assert len(ids(invitations, {"held_back_reason": "no_email"})) == 1
    hour_ago = (timezone.now() - timedelta(hours=1)).isoformat()
    assert len(ids(invitations, {"sent_after": hour_ago})) == 2
    assert ids(invitations, {"answered_after": hour_ago}) == {answered.pk}
    assert ids(invitations, {"queued_before": hour_ago}) == set()
    assert lead_api.get(invitations, {"status": "lost"}).status_code == 400
    assert lead_api.get(invitations, {"sent_after": "yesterday"}).status_code == 400

    responses = "/api/responses/"
    complete = Response.objects.get(invitation=answered)
    assert ids(responses, {"completed": "true"}) == {complete.pk}
    assert ids(responses, {"completed": "false"}) == {partial.pk}
    assert ids(responses, {"customer": olga.pk}) == {partial.pk}
    assert len(ids(responses, {"survey": campaign.survey_id, "started_after": hour_ago})) == 2
    assert ids(responses, {"completed_after": hour_ago}) == {complete.pk}
    assert ids(responses, {"search": "late courier"}) == {partial.pk}
    assert ids(invitations, {"search": "olga"}) == {partial.invitation_id}
    bad = lead_api.get(responses, {"completed": "yes"})
    assert bad.status_code == 400 and "completed" in bad.json()


# --- no query per row ------------------------------------------------------------------------


def test_invitation_list_query_count_does_not_grow(lead_api):
    campaign = email_campaign()
    now = timezone.now()
    Invitation.objects.bulk_create(
        [
            Invitation(
                campaign=campaign, customer=c, language="en", status=InvitationStatus.SENT, sent_at=now
            )
            for c in bulk_customers(25)
        ]
    )
    assert_page_size_does_not_change_query_count(lead_api, "/api/invitations/")
    assert_page_size_does_not_change_query_count(lead_api, f"/api/invitations/?campaign={campaign.pk}")


def test_response_list_query_count_does_not_grow(lead_api):
    campaign = email_campaign()
    nps, comment = survey_questions(campaign.survey_id)
    now = timezone.now()
    responses = Response.objects.bulk_create(
        [
            Response(campaign=campaign, survey=campaign.survey, customer=c, language="en", completed_at=now)
            for c in bulk_customers(25)
        ]
    )
    Answer.objects.bulk_create(
        [Answer(response=r, question=nps, score=i % 11) for i, r in enumerate(responses)]
        + [Answer(response=r, question=comment, text="Fine") for r in responses]
    )
    assert_page_size_does_not_change_query_count(lead_api, "/api/responses/")
    first = lead_api.get("/api/responses/", {"page_size": 1}).json()["results"][0]
    assert [a["kind"] for a in first["answers"]] == ["nps", "text"]
