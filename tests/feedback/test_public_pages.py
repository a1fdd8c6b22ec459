"""The customer's public pages, through Django's test client: the request-status page /r/<token>/
and the web feedback form /feedback/ (spam traps, rate limit, errors by the field)."""

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache

from customers.models import Event, EventKind
from feedback import services
from feedback.forms import form_stamp
from feedback.models import Channel, FeedbackItem, ItemKind
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
MOSCOW = ZoneInfo("Europe/Moscow")


def local(*args, zone=MOSCOW) -> datetime:
    return datetime(*args, tzinfo=zone)


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    """The rate limit counts per IP in the cache, and every test client is 127.0.0.1."""
    cache.clear()
    yield
    cache.clear()


def complaint(now: datetime, **extra) -> FeedbackItem:
    data = {
        "kind": "complaint",
        "channel": "phone",
        "customer": CustomerFactory(name="Margaret Hale", email="margaret@example.com"),
        "subject": "The parcel came damaged",
        "description": "Box crushed, the vase inside is broken.",
        **extra,
    }
    return services.item_create(data=data, now=now)


def status(client, item: FeedbackItem, at: datetime) -> str:
    with time_machine.travel(at, tick=False):
        response = client.get(f"/r/{item.status_token}/")
    assert response.status_code == 200
    return response.content.decode()


def steps(page: str) -> list[tuple[str, str]]:
    """The step list as (step, state) pairs, in order."""
    found = re.findall(r'<li class="step ([a-z ]+)" data-step="([a-z]+)"', page)
    return [(name, state) for state, name in found]


def expectation(page: str) -> str:
    match = re.search(r'<p id="expectation">(.*?)</p>', page, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)) if match else ""


# --- the request-status page, stage by stage ------------------------------------------------------


def test_a_new_request_shows_what_it_is_and_when_the_first_answer_is_due(client, policy):
    item = complaint(local(2026, 11, 27, 17, 30))  # a Friday; first response due Monday 09:30
    page = status(client, item, local(2026, 11, 27, 17, 45))

    assert '<html lang="en">' in page
    assert "Complaint" in page and "The parcel came damaged" in page
    assert f'<dd id="reference">{item.pk}</dd>' in page
    assert "Friday, 27 November 2026, 17:30" in page
    assert steps(page) == [
        ("received", "current"),
        ("working", "upcoming"),
        ("resolved", "upcoming"),
        ("closed", "upcoming"),
    ]
    assert 'aria-current="step"' in page
    assert expectation(page) == "We will answer you by Monday, 30 November 2026, 09:30."
    # No zone given by the customer: the SLA calendar's, named.
    assert "Times are shown in Europe/Moscow time (UTC+03:00)." in page


def test_once_answered_the_page_promises_the_resolution_and_sorry_once_it_is_late(client, policy):
    item = complaint(local(2026, 11, 27, 17, 30))
    services.item_reply(item_id=item.pk, body="We are on it.", now=local(2026, 11, 30, 9, 10))
    page = status(client, item, local(2026, 11, 30, 9, 15))

    assert steps(page)[:2] == [("received", "done"), ("working", "current")]
    assert expectation(page) == "We aim to resolve it by Monday, 30 November 2026, 12:30."

    late = status(client, item, local(2026, 11, 30, 13, 0))
    assert "taking longer than we planned" in expectation(late)
    assert "12:30" not in expectation(late)


def test_waiting_for_the_customer_is_a_step_and_the_clock_says_it_is_paused(client, policy):
    item = complaint(local(2026, 11, 23, 10, 0))
    services.item_reply(item_id=item.pk, body="Which order?", now=local(2026, 11, 23, 10, 20))
    services.item_transition(
        item_id=item.pk, to="waiting", note="Order number asked", now=local(2026, 11, 23, 10, 30)
    )
    page = status(client, item, local(2026, 11, 23, 11, 0))

    assert steps(page) == [
        ("received", "done"),
        ("working", "done"),
        ("waiting", "current"),
        ("resolved", "upcoming"),
        ("closed", "upcoming"),
    ]
    assert "Waiting for your reply" in page
    assert expectation(page) == "Paused while we wait for your reply: we carry on as soon as you answer."

    # Their answer: worked on again, and the resolution clock runs on from where it stood.
    services.item_customer_message(item_id=item.pk, body="It is 12345", now=local(2026, 11, 24, 9, 0))
    page = status(client, item, local(2026, 11, 24, 9, 5))
    assert [name for name, _ in steps(page)] == ["received", "working", "resolved", "closed"]
    assert expectation(page) == "We aim to resolve it by Tuesday, 24 November 2026, 12:30."


def test_a_resolved_request_shows_the_resolution_note_and_no_more_promises(client, policy):
    item = complaint(local(2026, 11, 23, 10, 0))
    services.item_transition(
        item_id=item.pk, to="resolved", note="A new vase was sent.\nSorry!", now=local(2026, 11, 23, 12, 0)
    )
    page = status(client, item, local(2026, 11, 23, 12, 5))

    assert steps(page) == [
        ("received", "done"),
        ("working", "done"),
        ("resolved", "current"),
        ("closed", "upcoming"),
    ]
    assert "How it was resolved" in page
    assert '<p class="resolution-note" id="resolution-note">A new vase was sent.<br>Sorry!</p>' in page
    assert "Resolved on Monday, 23 November 2026, 12:00." in page
    assert 'id="expectation"' not in page

    services.item_transition(item_id=item.pk, to="closed", now=local(2026, 11, 30, 9, 0))
    page = status(client, item, local(2026, 11, 30, 9, 5))
    assert steps(page)[-1] == ("closed", "done current")
    assert "A new vase was sent." in page and "Closed on Monday, 30 November 2026, 09:00." in page


def test_a_reopened_request_is_being_worked_on_again_without_the_old_resolution(client, policy):
    item = complaint(local(2026, 11, 23, 10, 0))
    services.item_transition(item_id=item.pk, to="resolved", note="Fixed", now=local(2026, 11, 23, 11, 0))
    services.item_transition(
        item_id=item.pk, to="reopened", note="Still broken", now=local(2026, 11, 24, 9, 0)
    )
    page = status(client, item, local(2026, 11, 24, 9, 5))

    assert ("working", "current") in steps(page)
    assert "Being worked on again" in page
    assert "How it was resolved" not in page and "Still broken" not in page
    assert expectation(page) == "We aim to resolve it by Tuesday, 24 November 2026, 12:00."


# --- nothing beyond the token ---------------------------------------------------------------------


def test_the_page_shows_nothing_of_the_staff_the_notes_the_history_or_other_items(client, policy, make_user):
    agent = make_user("Support", username="olga.petrova")
    agent.first_name, agent.last_name = "Olga", "Petrova"
    agent.save()
    item = complaint(local(2026, 11, 23, 10, 0), assignee=agent)
    other = complaint(local(2026, 11, 23, 10, 5), subject="Someone else's refund")
    services.item_note(item_id=item.pk, body="VIP customer, offer 20% off", by=agent)
    services.item_reply(item_id=item.pk, body="We have ordered a replacement.", by=agent)
    services.item_transition(item_id=item.pk, to="waiting", note="Asked for a photo of the box", by=agent)
    with time_machine.travel(local(2026, 11, 23, 11, 0), tick=False):
        page = client.get(f"/r/{item.status_token}/").content.decode()

    assert "The parcel came damaged" in page
    for secret in (
        "VIP customer",  # an internal note
        "Asked for a photo",  # a status change's note (the internal history)
        "ordered a replacement",  # the conversation
        "Olga",
        "Petrova",
        "olga.petrova",  # the assignee
        "Margaret",
        "margaret@example.com",  # the customer's record
        "vase inside is broken",  # the description is not repeated
        "Someone else's refund",
        other.status_token,  # other items
        "Standard",  # the SLA policy's name
    ):
        assert secret not in page, secret


def test_public_pages_are_not_indexed_cached_or_leaked_as_a_referer(client, policy):
    item = complaint(local(2026, 11, 23, 10, 0))
    for address, code, referrer_policy in (
        (f"/r/{item.status_token}/", 200, "no-referrer"),
        ("/r/no-such-token/", 404, "no-referrer"),
        # The form keeps its address to this site: browsers post a no-referrer form as Origin: null.
        ("/feedback/", 200, "same-origin"),
    ):
        response = client.get(address)
        assert response.status_code == code, address
        assert response["X-Robots-Tag"] == "noindex, nofollow"
        assert response["Cache-Control"] == "no-store"
        assert response["Referrer-Policy"] == referrer_policy
    assert client.post(f"/r/{item.status_token}/").status_code == 405


def test_an_unknown_token_gets_a_polite_not_found_page_in_the_browsers_language(client):
    response = client.get("/r/no-such-token/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "Request not found" in page and "copy the whole link" in page

    page = client.get("/r/no-such-token/", HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9").content.decode()
    assert '<html lang="ru">' in page and "Обращение не найдено" in page


# --- language and time zone -----------------------------------------------------------------------


def test_the_page_speaks_the_items_language_in_the_customers_time_zone(client, policy):
    item = complaint(local(2026, 11, 27, 17, 30), language="ru", time_zone="Asia/Vladivostok")
    page = status(client, item, local(2026, 11, 27, 17, 45))

    assert '<html lang="ru">' in page
    assert "Жалоба" in page and "Ваше обращение" in page
    # Logged 17:30 in Moscow is 00:30 on Saturday in Vladivostok (UTC+10); due Monday 09:30 Moscow.
    assert "28 ноября 2026, 00:30 (суббота)" in page
    assert expectation(page) == "Мы ответим вам до 30 ноября 2026, 16:30 (понедельник)."
    assert "Время указано по часовому поясу Asia/Vladivostok (UTC+10:00)." in page
    # The browser's language does not matter: the page is the customer's.
    with time_machine.travel(local(2026, 11, 27, 17, 45), tick=False):
        english_browser = client.get(f"/r/{item.status_token}/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="ru">' in english_browser.content.decode()


def test_without_a_policy_or_zone_the_page_uses_the_sites_zone_and_promises_nothing_exact(client, settings):
    settings.TIME_ZONE = "UTC"
    item = services.item_create(
        data={
            "kind": "request",
            "channel": "web_form",
            "author_name": "Ann",
            "author_contact": "+7 900 000-00-00",
            "subject": "Opening hours?",
            "description": "When do you open on Sunday?",
            "time_zone": "Not/AZone",  # kept from an old import: ignored, not a 500
        },
        now=local(2026, 11, 23, 10, 0),
    )
    page = status(client, item, local(2026, 11, 23, 10, 5))

    assert "Question or request" in page
    assert "Monday, 23 November 2026, 07:00" in page
    assert "Times are shown in UTC time ()." not in page and "Times are shown in UTC time" in page
    assert expectation(page) == "We will answer as soon as we can."


# --- the web feedback form ------------------------------------------------------------------------


def form_data(**fields) -> dict:
    """What a person sends after a while on the form."""
    return {
        "kind": "complaint",
        "name": "Ivan Petrov",
        "contact": "ivan@example.com",
        "subject": "Rude cashier",
        "message": "The cashier at the Arbat store shouted at me.",
        "language": "",
        "time_zone": "Asia/Yekaterinburg",
        "stamp": form_stamp(at=time.time() - 30),
        "homepage": "",
        **fields,
    }


def test_the_form_shows_every_field_with_a_signed_stamp_and_the_honeypot_out_of_reach(client):
    response = client.get("/feedback/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="en">' in page and 'name="viewport"' in page
    kinds = re.findall(r'<input type="radio" id="id_kind_\d" name="kind" value="([a-z]+)"', page)
    assert kinds == ["complaint", "request", "suggestion", "praise"]
    for name in ("name", "contact", "subject"):
        assert f'<input type="text" id="id_{name}" name="{name}"' in page
    assert '<textarea id="id_message" name="message"' in page
    assert '<select id="id_language" name="language">' in page
    assert '<input type="hidden" name="time_zone" id="id_time_zone" value="">' in page
    assert re.search(r'<input type="hidden" name="stamp" value="[^"]+:[^"]+">', page)
    assert re.search(r'<div class="trap" aria-hidden="true">\s*<label for="id_homepage">', page)
    assert 'name="homepage" value="" tabindex="-1" autocomplete="off"' in page
    assert "csrfmiddlewaretoken" in page

    russian = client.get("/feedback/?lang=ru").content.decode()
    assert '<html lang="ru">' in russian and "Напишите нам" in russian
    assert 'action="/feedback/?lang=ru"' in russian


def test_sending_the_form_logs_a_web_form_item_and_lands_on_its_status_page(client, policy):
    response = client.post("/feedback/", form_data())

    item = FeedbackItem.objects.get()
    assert response.status_code == 303
    assert response["Location"] == f"/r/{item.status_token}/?sent=1"
    assert (item.kind, item.channel, item.status) == (ItemKind.COMPLAINT, Channel.WEB_FORM, "new")
    assert (item.author_name, item.author_contact, item.customer) == ("Ivan Petrov", "ivan@example.com", None)
    assert item.subject == "Rude cashier"
    assert item.description == "The cashier at the Arbat store shouted at me."
    assert (item.language, item.time_zone) == ("en", "Asia/Yekaterinburg")
    assert item.sla_policy == policy and item.clocks.count() == 2

    page = client.get(response["Location"]).content.decode()
    assert "Thank you, we have your message" in page and "Rude cashier" in page
    assert "Times are shown in Asia/Yekaterinburg time (UTC+05:00)." in page


def test_a_known_customers_e_mail_in_any_letter_case_files_it_under_them(client, policy):
    customer = CustomerFactory(name="Ivan Petrov", email="Ivan.Petrov@Example.com", language="en")
    client.post("/feedback/?lang=ru", form_data(contact="ivan.petrov@EXAMPLE.com", kind="praise"))

    item = FeedbackItem.objects.get()
    assert item.customer == customer and (item.author_name, item.author_contact) == ("", "")
    assert item.kind == "praise"
    assert item.language == "ru"  # the language of the page they wrote on
    assert Event.objects.filter(customer=customer, kind=EventKind.COMPLAINT_OPENED).count() == 1


def test_the_language_chosen_on_the_form_is_the_items_and_an_unknown_time_zone_is_dropped(client):
    phone_number = "+7 (912) 345-67-89"
    client.post("/feedback/", form_data(contact=phone_number, language="ru", time_zone="Mars/Olympus"))

    item = FeedbackItem.objects.get()
    assert (item.language, item.time_zone, item.author_contact) == ("ru", "", phone_number)


def test_errors_are_shown_by_the_field_and_what_was_typed_is_kept(client):
    typed = form_data(kind="", name="  ", contact="ivan at example", subject="x" * 201)
    response = client.post("/feedback/", typed)

    assert response.status_code == 200
    assert not FeedbackItem.objects.exists()
    page = response.content.decode()
    assert '<div class="error-summary" id="error-summary" role="alert"' in page
    assert 'id="id_kind-error"><span class="visually-hidden">Error:</span> Choose what it is.</p>' in page
    assert 'id="id_name-error"><span class="visually-hidden">Error:</span> Please fill this in.' in page
    assert "Enter an e-mail address (name@example.com) or a phone number" in page
    assert "Please keep it under 200 characters." in page
    assert 'aria-describedby="id_contact-hint id_contact-error"' in page
    # What was typed stays, escaped; the message had no error and is kept too.
    assert 'value="ivan at example"' in page
    assert "The cashier at the Arbat store shouted at me.</textarea>" in page
    assert 'name="homepage" value=""' in page
    assert '<a href="#id_kind_0">What is it?</a>' in page

    russian = client.post("/feedback/?lang=ru", typed).content.decode()
    assert "Выберите, что вы хотите сообщить." in russian and "Пожалуйста, заполните это поле." in russian


def test_a_filled_honeypot_is_refused_and_nothing_is_logged(client):
    response = client.post("/feedback/", form_data(homepage="http://cheap-pills.example"))

    assert response.status_code == 400
    assert not FeedbackItem.objects.exists()
    page = response.content.decode()
    assert "We could not accept this form. Please send it again." in page
    assert "cheap-pills" not in page and 'value="Rude cashier"' in page


def test_a_form_sent_too_fast_or_with_a_forged_or_old_stamp_is_refused(client, settings):
    too_fast = client.post("/feedback/", form_data(stamp=form_stamp()))
    assert too_fast.status_code == 400
    assert "That was very quick." in too_fast.content.decode()
    # The page offers a fresh stamp, so the person's next send (seconds later) goes through.
    fresh = re.search(r'name="stamp" value="([^"]+)"', too_fast.content.decode()).group(1)
    with time_machine.travel(time.time() + 10):
        assert client.post("/feedback/", form_data(stamp=fresh)).status_code == 303

    forged = form_data()["stamp"][:-2] + "xx"
    for stamp in (forged, "", "not-a-stamp"):
        response = client.post("/feedback/", form_data(stamp=stamp))
        assert response.status_code == 400, stamp
        assert "This form was open for a long time." in response.content.decode()
    settings.FEEDBACK_FORM_MAX_AGE_SECONDS = 60
    assert client.post("/feedback/", form_data(stamp=form_stamp(at=time.time() - 120))).status_code == 400
    assert FeedbackItem.objects.count() == 1


def test_a_fixed_typo_is_not_too_fast_the_first_stamp_is_kept(client):
    stamp = form_stamp(at=time.time() - 30)
    page = client.post("/feedback/", form_data(contact="ivan@", stamp=stamp)).content.decode()
    assert f'name="stamp" value="{stamp}"' in page
    assert client.post("/feedback/", form_data(stamp=stamp)).status_code == 303


def test_too_many_posts_from_one_address_get_a_polite_429(client, settings):
    settings.FEEDBACK_FORM_RATE = "3/h"
    codes = [client.post("/feedback/", form_data(subject=f"Spam {n}")).status_code for n in range(3)]
    assert codes == [303, 303, 303]

    response = client.post("/feedback/?lang=ru", form_data(subject="One more"))
    assert response.status_code == 429
    page = response.content.decode()
    assert "Слишком много сообщений" in page and '<html lang="ru">' in page
    assert 0 < int(response["Retry-After"]) <= 3600 + 5
    assert response["Cache-Control"] == "no-store"
    assert FeedbackItem.objects.count() == 3
    # Another address is not held up, and reading the form is never limited.
    assert client.post("/feedback/", form_data(), REMOTE_ADDR="10.1.2.3").status_code == 303
    assert client.get("/feedback/").status_code == 200


def test_a_cache_that_is_down_lets_the_customer_through(client, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr("feedback.views.get_usage", broken)
    assert client.post("/feedback/", form_data()).status_code == 303
