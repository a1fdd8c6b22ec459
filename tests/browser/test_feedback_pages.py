"""A customer writes to us on a phone through the public web feedback form, in a real headless
Chromium: a field error, then the request's own status page, in their language and time zone.

Set FEEDBACK_SCREENSHOTS=<folder> to keep screenshots of the pages at phone width."""

import os
import re
from pathlib import Path

import pytest
from django.core.cache import cache

from feedback import services
from feedback.models import BusinessCalendar, Channel, FeedbackItem, SlaPolicy

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser):
    """A Russian-speaking customer's phone in Yekaterinburg (UTC+5)."""
    cache.clear()  # the form's per-IP rate limit counts in the cache; every test is 127.0.0.1
    context = browser.new_context(viewport=PHONE, locale="ru-RU", timezone_id="Asia/Yekaterinburg")
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    yield page
    context.close()
    cache.clear()


@pytest.fixture
def policy():
    """Always open, so the page promises an answer whatever the hour the test runs at."""
    calendar = BusinessCalendar.objects.create(name="24/7", time_zone="Europe/Moscow", always_open=True)
    return SlaPolicy.objects.create(
        name="Standard", position=100, calendar=calendar, first_response_minutes=60, resolution_minutes=240
    )


def screenshot(page, name: str) -> None:
    folder = os.environ.get("FEEDBACK_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_customer_sends_the_form_on_a_phone_and_lands_on_the_status_page(live_server, phone, policy):
    phone.goto(f"{live_server.url}/feedback/")
    assert phone.locator("html").get_attribute("lang") == "ru"
    phone.get_by_role("heading", name="Напишите нам").wait_for()
    assert fits_the_screen(phone)
    # The page's script read the browser's zone into the hidden field.
    assert phone.locator("#id_time_zone").input_value() == "Asia/Yekaterinburg"
    # Each kind is a real radio whose label is a finger-sized target on screen.
    for index in range(4):
        box = phone.locator(f"label[for=id_kind_{index}]").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["height"] >= 44

    phone.get_by_label("Жалоба").check()
    phone.get_by_label("Ваше имя").fill("Иван Петров")
    phone.get_by_label("E-mail или телефон").fill("ivan@")
    phone.get_by_label("Тема").fill("Грубый кассир")
    phone.get_by_label("Ваше сообщение").fill("Кассир в магазине на Арбате накричал на меня.")
    # A person takes a few seconds over a message; the form refuses a post that comes sooner.
    phone.wait_for_timeout(3200)
    phone.get_by_role("button", name="Отправить").click()

    summary = phone.get_by_role("alert")
    summary.wait_for()
    assert "Пожалуйста, проверьте отмеченные ниже поля." in summary.inner_text()
    error = phone.locator("#id_contact-error")
    assert " ".join(error.text_content().split()).startswith("Ошибка: Укажите адрес e-mail")
    assert "id_contact-error" in phone.locator("#id_contact").get_attribute("aria-describedby")
    assert phone.evaluate("document.activeElement.id") == "error-summary"
    # What was typed is all still there.
    assert phone.get_by_label("Жалоба").is_checked()
    assert phone.get_by_label("Тема").input_value() == "Грубый кассир"
    message = phone.get_by_label("Ваше сообщение")
    assert message.input_value() == "Кассир в магазине на Арбате накричал на меня."
    assert fits_the_screen(phone)
    screenshot(phone, "form-error-390")
    assert not FeedbackItem.objects.exists()

    phone.get_by_label("E-mail или телефон").fill("ivan@example.com")
    phone.get_by_role("button", name="Отправить").click()
    phone.get_by_role("heading", name="Спасибо, мы получили ваше сообщение").wait_for()

    item = FeedbackItem.objects.get()
    assert (item.channel, item.author_name, item.author_contact) == (
        Channel.WEB_FORM,
        "Иван Петров",
        "ivan@example.com",
    )
    assert (item.language, item.time_zone) == ("ru", "Asia/Yekaterinburg")
    # The address kept (and bookmarked) is the request's own page, without the thank-you flag.
    assert re.fullmatch(rf"{re.escape(live_server.url)}/r/{item.status_token}/", phone.url)
    assert phone.locator("html").get_attribute("lang") == "ru"
    phone.get_by_role("heading", name="Грубый кассир").wait_for()
    assert phone.locator("[aria-current=step]").inner_text().startswith("Получено")
    assert "Asia/Yekaterinburg (UTC+05:00)" in phone.locator("#zone-note").inner_text()
    assert phone.locator("#expectation").inner_text().startswith("Мы ответим вам до")
    assert fits_the_screen(phone)
    screenshot(phone, "status-390")

    # A reload is the plain status page: nothing is sent again.
    services.item_reply(item_id=item.pk, body="Разбираемся.")
    phone.reload()
    phone.get_by_role("heading", name="Грубый кассир").wait_for()
    assert phone.get_by_role("heading", name="Спасибо, мы получили ваше сообщение").count() == 0
    assert phone.locator("[aria-current=step]").inner_text().startswith("В работе")
    assert "Разбираемся" not in phone.content()
    assert FeedbackItem.objects.count() == 1
    assert phone.console_errors == []
