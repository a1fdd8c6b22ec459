"""The public survey page /s/<token>/ and the unsubscribe page, through Django's test client."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from customers.models import Event, EventKind
from surveys import services
from surveys.models import Answer, Invitation, InvitationStatus, Question, Response, SurveyOptOut
from tests.factories import CustomerFactory, active_survey, email_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def invite(django_capture_on_commit_callbacks):
    """A customer invited the real way: a launched email campaign whose email went out."""

    def make(language: str = "en", survey=None) -> Invitation:
        customer = CustomerFactory(name="Margaret Hale", email="margaret@example.com", language=language)
        campaign = email_campaign(survey=survey, customers=[customer], everyone=False)
        with django_capture_on_commit_callbacks(execute=True):
            services.campaign_launch(campaign=campaign)
        invitation = Invitation.objects.select_related("campaign__survey").get(customer=customer)
        assert invitation.status == InvitationStatus.SENT
        assert f"/s/{invitation.token}/" in mail.outbox[-1].body
        return invitation

    return make


@pytest.fixture
def link_campaign():
    survey = active_survey()
    campaign = services.campaign_save(data={"name": "Shop counter link", "survey": survey, "channel": "link"})
    return services.campaign_launch(campaign=campaign)


def url(invitation_or_token) -> str:
    token = getattr(invitation_or_token, "token", invitation_or_token)
    return f"/s/{token}/"


def questions_of(invitation: Invitation) -> tuple[Question, Question]:
    nps, comment = invitation.campaign.survey.questions.all()
    return nps, comment


def block(html: str, question: Question) -> str:
    """The part of the page that belongs to one question."""
    start = html.index(f'id="q{question.pk}-block"')
    end = html.find('class="card question', start)
    return html[start : end if end != -1 else len(html)]


# --- the states of a token -------------------------------------------------------------------------


def test_an_unknown_token_gets_a_polite_not_found_page(client):
    response = client.get(url("no-such-token"))
    assert response.status_code == 404
    page = response.content.decode()
    assert "Survey not found" in page and "copy the whole link" in page
    assert 'lang="en"' in page
    assert client.post(url("no-such-token"), {"1": "9"}).status_code == 404


def test_an_expired_invitation_gets_a_polite_gone_page(client, invite):
    invitation = invite()
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(url(invitation))
    assert response.status_code == 410
    assert "This survey has closed" in response.content.decode()
    nps, _ = questions_of(invitation)
    assert client.post(url(invitation), {str(nps.pk): "9"}).status_code == 410
    assert not Response.objects.exists()


def test_an_answered_invitation_gets_the_already_answered_page(client, invite):
    invitation = invite()
    nps, comment = questions_of(invitation)
    services.response_save(invitation=invitation, answers={str(nps.pk): "8"}, submit=True)
    response = client.get(url(invitation))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Already answered" in page and "<form" not in page


def test_opening_the_page_shows_every_question_and_marks_the_invitation_opened(client, invite):
    invitation = invite()
    nps, comment = questions_of(invitation)
    response = client.get(url(invitation))
    assert response.status_code == 200
    page = response.content.decode()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.OPENED and invitation.opened_at is not None

    assert '<html lang="en">' in page and 'name="viewport"' in page
    assert "How likely are you to recommend us" in page and "What is the main reason" in page
    # NPS is a fieldset of 11 real radio buttons with a legend, labelled and usable with no script.
    nps_block = block(page, nps)
    assert "<fieldset" in nps_block and "<legend" in nps_block and "(required)" in nps_block
    radios = re.findall(rf'<input type="radio" id="q{nps.pk}-(\d+)" name="{nps.pk}"', nps_block)
    assert radios == [str(n) for n in range(11)]
    assert f'<label for="q{nps.pk}-10">10</label>' in nps_block
    assert "Not at all likely" in nps_block and "Extremely likely" in nps_block
    assert f'<textarea id="q{comment.pk}" name="{comment.pk}"' in block(page, comment)
    assert "csrfmiddlewaretoken" in page
    # Nothing beyond the token: not the customer's name or address.
    assert "Margaret" not in page and "margaret@example.com" not in page
    # A second visit keeps the first opening time.
    opened_at = invitation.opened_at
    client.get(url(invitation))
    invitation.refresh_from_db()
    assert invitation.opened_at == opened_at


def test_public_pages_are_not_indexed_cached_or_leaked_as_a_referer(client, invite):
    invitation = invite()
    for address, status, referrer_policy in (
        # The survey form keeps its address to this site (see views.public_page); the rest send none.
        (url(invitation), 200, "same-origin"),
        (url("no-such-token"), 404, "same-origin"),
        (f"{url(invitation)}unsubscribe/", 200, "no-referrer"),
        (f"{url('no-such-token')}unsubscribe/", 404, "no-referrer"),
    ):
        response = client.get(address)
        assert response.status_code == status, address
        assert response["X-Robots-Tag"] == "noindex, nofollow"
        assert response["Cache-Control"] == "no-store"
        assert response["Referrer-Policy"] == referrer_policy


# --- answering -------------------------------------------------------------------------------------


def test_a_missing_answer_is_shown_next_to_its_question_and_what_was_typed_is_kept(client, invite):
    invitation = invite()
    nps, comment = questions_of(invitation)
    response = client.post(url(invitation), {str(comment.pk): "Slow delivery <but> polite staff"})
    assert response.status_code == 200
    page = response.content.decode()
    nps_block = block(page, nps)
    assert f'<p class="error" id="q{nps.pk}-error">' in nps_block
    assert "Please answer this question." in nps_block
    assert f'aria-describedby="q{nps.pk}-error q{nps.pk}-hint"' in nps_block
    assert 'role="alert"' in page and f'href="#q{nps.pk}-0"' in page
    assert "Slow delivery &lt;but&gt; polite staff</textarea>" in block(page, comment)
    # The valid answer is kept as a partial one; nothing is complete yet.
    stored = Response.objects.get(invitation=invitation)
    assert stored.completed_at is None
    assert [(a.question_id, a.text) for a in stored.answers.all()] == [
        (comment.pk, "Slow delivery <but> polite staff")
    ]
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.SENT and invitation.answered_at is None


def test_an_out_of_scale_score_is_refused_and_the_customer_can_correct_it(client, invite):
    invitation = invite()
    nps, comment = questions_of(invitation)
    page = client.post(url(invitation), {str(nps.pk): "11", str(comment.pk): "ok"}).content.decode()
    assert "Choose a score from 0 to 10." in block(page, nps)
    response = client.post(url(invitation), {str(nps.pk): "10", str(comment.pk): "ok"})
    assert response.status_code == 303


def test_a_complete_answer_is_recorded_and_the_customer_lands_on_a_thank_you_page(
    client, invite, django_capture_on_commit_callbacks
):
    invitation = invite()
    nps, comment = questions_of(invitation)
    client.get(url(invitation))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(invitation), {str(nps.pk): "3", str(comment.pk): "Too slow"})
    # POST-redirect-GET: reloading the thank-you page sends nothing again.
    assert response.status_code == 303 and response["Location"] == f"{url(invitation)}?done=1"
    thanks = client.get(response["Location"])
    assert thanks.status_code == 200 and "Thank you!" in thanks.content.decode()

    stored = Response.objects.get(invitation=invitation)
    assert stored.completed_at is not None and stored.customer_id == invitation.customer_id
    assert {a.question_id: a.value for a in stored.answers.all()} == {nps.pk: 3, comment.pk: "Too slow"}
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ANSWERED and invitation.answered_at is not None
    event = Event.objects.get(customer=invitation.customer, kind=EventKind.SURVEY_ANSWERED)
    assert event.data["response"] == stored.pk and event.data["detractor"] is True
    # Back on the page later: already answered, not the form.
    assert "Already answered" in client.get(url(invitation)).content.decode()


def test_a_second_submit_does_not_make_a_second_response(client, invite):
    invitation = invite()
    nps, comment = questions_of(invitation)
    first = client.post(url(invitation), {str(nps.pk): "9", str(comment.pk): "Great"})
    second = client.post(url(invitation), {str(nps.pk): "2", str(comment.pk): "Changed my mind"})
    assert first.status_code == 303
    assert second.status_code == 200 and "Already answered" in second.content.decode()
    assert Response.objects.filter(campaign=invitation.campaign).count() == 1
    assert Answer.objects.get(question=nps).score == 9
    assert Event.objects.filter(kind=EventKind.SURVEY_ANSWERED).count() == 1


def test_the_form_is_protected_against_cross_site_posts(invite):
    invitation = invite()
    nps, _ = questions_of(invitation)
    response = Client(enforce_csrf_checks=True).post(url(invitation), {str(nps.pk): "9"})
    assert response.status_code == 403
    assert not Response.objects.exists()


def test_autosave_keeps_partial_answers_and_the_page_comes_back_filled_in(client, invite):
    invitation = invite()
    nps, comment = questions_of(invitation)
    response = client.post(url(invitation), {str(nps.pk): "7", str(comment.pk): "Half way", "partial": "1"})
    assert response.status_code == 200
    assert response.json() == {"saved": True, "errors": {}}
    stored = Response.objects.get(invitation=invitation)
    assert stored.completed_at is None
    assert {a.question_id: a.value for a in stored.answers.all()} == {nps.pk: 7, comment.pk: "Half way"}
    invitation.refresh_from_db()
    assert invitation.status != InvitationStatus.ANSWERED

    # The customer comes back later: the page shows what was kept.
    page = Client().get(url(invitation)).content.decode()
    assert f'id="q{nps.pk}-7" name="{nps.pk}" value="7" checked>' in page
    assert "Half way</textarea>" in page

    # Emptying a field and autosaving clears its kept answer; a bad score is not kept.
    response = client.post(url(invitation), {str(nps.pk): "12", str(comment.pk): "", "partial": "1"})
    assert response.json() == {"saved": True, "errors": {str(nps.pk): "Choose a score from 0 to 10."}}
    assert {a.question_id: a.value for a in stored.answers.all()} == {nps.pk: 7}

    # An autosave arriving after the submit (a slow request, another tab) changes nothing.
    client.post(url(invitation), {str(nps.pk): "8"})
    late = client.post(url(invitation), {str(nps.pk): "1", "partial": "1"})
    assert late.status_code == 200 and late.json() == {"saved": False, "closed": "answered"}
    assert Answer.objects.get(question=nps).score == 8


def test_choice_questions_are_radios_and_checkboxes_and_keep_their_picks(client, invite):
    survey = services.survey_save(
        data={"name": "Choices", "status": "active"},
        questions=[
            {"kind": "nps", "text": {"en": "Recommend us?"}},
            {
                "kind": "single_choice",
                "text": {"en": "How did you hear of us?", "ru": "Как вы о нас узнали?"},
                "choices": [
                    {"value": "friend", "label": {"en": "A friend", "ru": "От друга"}},
                    {"value": "ad", "label": {"en": "An advert", "ru": "Из рекламы"}},
                ],
            },
            {
                "kind": "multiple_choice",
                "required": False,
                "text": {"en": "What did you like?"},
                "choices": [
                    {"value": "price", "label": {"en": "Price"}},
                    {"value": "staff", "label": {"en": "Staff"}},
                    {"value": "speed", "label": {"en": "Speed"}},
                ],
            },
            {"kind": "csat", "text": {"en": "Satisfied?"}, "required": False},
        ],
    )
    invitation = invite(survey=survey)
    nps, single, multiple, csat = invitation.campaign.survey.questions.all()
    page = client.get(url(invitation)).content.decode()
    assert f'<input type="radio" id="q{single.pk}-0" name="{single.pk}" value="friend"' in page
    assert f'<input type="checkbox" id="q{multiple.pk}-2" name="{multiple.pk}" value="speed"' in page
    assert "Choose any that apply" in block(page, multiple)
    assert len(re.findall(rf'name="{csat.pk}"', page)) == 5

    # NPS missing: the picks of the other questions survive the error.
    page = client.post(
        url(invitation), {str(single.pk): "ad", str(multiple.pk): ["staff", "price"]}
    ).content.decode()
    assert "Please answer this question." in block(page, nps)
    assert 'value="ad" checked>' in block(page, single)
    multiple_block = block(page, multiple)
    assert 'value="price" checked>' in multiple_block and 'value="staff" checked>' in multiple_block
    assert 'value="speed">' in multiple_block

    response = client.post(
        url(invitation), {str(nps.pk): "10", str(single.pk): "ad", str(multiple.pk): ["staff", "price"]}
    )
    assert response.status_code == 303
    answers = {a.question_id: a.value for a in Response.objects.get().answers.all()}
    assert answers == {nps.pk: 10, single.pk: "ad", multiple.pk: ["price", "staff"]}


def test_a_russian_customer_gets_the_page_and_its_errors_in_russian(client, invite):
    invitation = invite(language="ru")
    nps, comment = questions_of(invitation)
    page = client.get(url(invitation), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="ru">' in page
    assert "Насколько вероятно, что вы порекомендуете нас" in page
    assert "Отправить ответы" in page and "Совсем маловероятно" in page and "(обязательно)" in page
    page = client.post(url(invitation), {str(comment.pk): "Долго"}).content.decode()
    assert "Пожалуйста, ответьте на этот вопрос." in block(page, nps)
    assert "Пожалуйста, проверьте отмеченные ниже ответы." in page
    assert "Долго</textarea>" in page
    thanks = client.post(url(invitation), {str(nps.pk): "9", str(comment.pk): "Долго"}, follow=True)
    assert "Спасибо!" in thanks.content.decode()
    assert "Ответ уже получен" in client.get(url(invitation)).content.decode()


# --- anonymous links ---------------------------------------------------------------------------------


def test_an_anonymous_link_takes_one_response_per_browser(link_campaign):
    address = url(link_campaign.link_token)
    nps, comment = link_campaign.survey.questions.all()
    first_browser, second_browser = Client(), Client()

    opened = first_browser.get(address)
    assert opened.status_code == 200
    cookie = opened.cookies["survey_browser"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == address
    assert int(cookie["max-age"]) > 300 * 24 * 3600
    assert "unsubscribe" not in opened.content.decode().lower()

    assert first_browser.post(address, {str(nps.pk): "9"}).status_code == 303
    again = first_browser.post(address, {str(nps.pk): "1"})
    assert "Already answered" in again.content.decode()
    assert "Already answered" in first_browser.get(address).content.decode()
    assert Response.objects.filter(campaign=link_campaign).count() == 1

    second_browser.get(address)
    assert second_browser.post(address, {str(nps.pk): "6", str(comment.pk): "ok"}).status_code == 303
    responses = Response.objects.filter(campaign=link_campaign)
    assert responses.count() == 2
    assert all(r.completed_at and r.customer_id is None and r.invitation_id is None for r in responses)
    assert not Event.objects.filter(kind=EventKind.SURVEY_ANSWERED).exists()


def test_an_anonymous_link_speaks_the_language_asked_for(client, link_campaign):
    address = url(link_campaign.link_token)
    assert '<html lang="ru">' in client.get(address, HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9").content.decode()
    assert '<html lang="en">' in client.get(address, HTTP_ACCEPT_LANGUAGE="de-DE").content.decode()
    page = client.get(f"{address}?lang=ru", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="ru">' in page and f'action="{address}?lang=ru"' in page
    nps, _ = link_campaign.survey.questions.all()
    response = client.post(f"{address}?lang=ru", {str(nps.pk): "10"})
    assert response["Location"] == f"{address}?done=1&lang=ru"
    assert "Спасибо!" in client.get(response["Location"]).content.decode()
    assert Response.objects.get().language == "ru"


def test_a_stopped_link_campaign_is_closed(client, link_campaign):
    services.campaign_stop(campaign=link_campaign)
    response = client.get(url(link_campaign.link_token))
    assert response.status_code == 410 and "This survey has closed" in response.content.decode()


# --- unsubscribe ---------------------------------------------------------------------------------------


def test_unsubscribe_asks_first_and_only_a_post_unsubscribes(invite):
    invitation = invite()
    browser = Client(enforce_csrf_checks=True)
    address = f"{url(invitation)}unsubscribe/"
    page = browser.get(address).content.decode()
    assert "Unsubscribe from surveys" in page and '<form method="post"' in page and "Margaret" not in page
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.SENT and not SurveyOptOut.objects.exists()

    response = browser.post(address)  # the page's own button; the token is the credential
    assert response.status_code == 200 and "You are unsubscribed" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.UNSUBSCRIBED
    assert SurveyOptOut.objects.filter(customer=invitation.customer).exists()
    assert "You are unsubscribed" in browser.get(address).content.decode()


def test_one_click_unsubscribe_from_a_mail_client_needs_no_csrf_token(invite):
    invitation = invite(language="ru")
    response = Client(enforce_csrf_checks=True).post(
        f"{url(invitation)}unsubscribe/",
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200 and "Вы отписались" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.UNSUBSCRIBED
    # Unsubscribing stops emails, not answers: the survey can still be answered.
    assert Client().get(url(invitation)).status_code == 200


def test_unknown_and_anonymous_link_tokens_have_nothing_to_unsubscribe(client, link_campaign):
    for token in ("no-such-token", link_campaign.link_token):
        assert client.get(f"/s/{token}/unsubscribe/").status_code == 404
        response = client.post(
            f"/s/{token}/unsubscribe/",
            "List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 404 and "Survey not found" in response.content.decode()


def test_the_pages_static_files_are_served_by_the_app_itself(client, settings):
    # Production has no other web server for /static/: WhiteNoise serves the page's CSS and JS.
    for path in ("/static/surveys/survey.css", "/static/surveys/survey.js", "/static/admin/css/base.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"".join(response.streaming_content)
