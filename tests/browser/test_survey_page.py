"""A customer answers a survey on a phone, in a real headless Chromium: a validation error, the
thank-you page, a double submit from two tabs, and autosave when leaving midway.

Set SURVEY_SCREENSHOTS=<folder> to keep screenshots of the page at phone and desktop widths."""

import os
import time
from pathlib import Path

import pytest

from surveys import services
from surveys.models import Answer, Invitation, InvitationStatus, Response
from tests.factories import CustomerFactory, email_campaign

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def invited(name: str = "Margaret Hale", language: str = "en") -> Invitation:
    """An invitation sent the real way (the launch's tasks run inline when it commits)."""
    customer = CustomerFactory(name=name, language=language)
    services.campaign_launch(campaign=email_campaign(customers=[customer], everyone=False))
    invitation = Invitation.objects.select_related("campaign__survey").get(customer=customer)
    assert invitation.status == InvitationStatus.SENT
    return invitation


def screenshot(page, name: str) -> None:
    folder = os.environ.get("SURVEY_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)


def wait_until(condition, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the server")


def test_a_customer_answers_on_a_phone_through_an_error_to_the_thank_you_page(live_server, page):
    invitation = invited()
    nps, comment = invitation.campaign.survey.questions.all()
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/s/{invitation.token}/")
    assert page.locator("html").get_attribute("lang") == "en"

    # The 0-10 scale fits a phone: every score on screen, none narrower than a finger.
    for score in range(11):
        box = page.locator(f"label[for=q{nps.pk}-{score}]").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["width"] >= 44 and box["height"] >= 44

    page.get_by_label("What is the main reason for your score?").fill("Delivery was late, staff were kind.")
    page.get_by_role("button", name="Send my answers").click()

    summary = page.get_by_role("alert")
    summary.wait_for()
    assert "Please check the answers marked below." in summary.inner_text()
    error = page.locator(f"#q{nps.pk}-error")
    # Screen readers hear "Error:" first; the eye sees the message in red.
    assert " ".join(error.text_content().split()) == "Error: Please answer this question."
    assert page.locator(f"#q{nps.pk}-block").locator(f"#q{nps.pk}-error").count() == 1  # next to it
    assert f"q{nps.pk}-error" in page.locator(f"#q{nps.pk}-block fieldset").get_attribute("aria-describedby")
    assert page.locator(f"#q{comment.pk}").input_value() == "Delivery was late, staff were kind."
    screenshot(page, "error-390")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "error-1280")
    page.set_viewport_size(PHONE)

    # The score buttons are real radios: the label picks one, and the accessible name is the score.
    page.get_by_role("group", name="How likely are you to recommend us").get_by_label("9", exact=True).check()
    page.get_by_role("button", name="Send my answers").click()
    page.get_by_role("heading", name="Thank you!").wait_for()
    assert page.url.endswith("?done=1")
    screenshot(page, "thanks-390")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "thanks-1280")

    response = Response.objects.get(invitation=invitation)
    assert response.completed_at is not None
    assert {a.question_id: a.value for a in response.answers.all()} == {
        nps.pk: 9,
        comment.pk: "Delivery was late, staff were kind.",
    }
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ANSWERED

    # Reloading the thank-you page sends nothing again; the link from the email now says so.
    page.reload()
    page.get_by_role("heading", name="Thank you!").wait_for()
    page.goto(f"{live_server.url}/s/{invitation.token}/")
    page.get_by_role("heading", name="Already answered").wait_for()
    assert page.locator("form").count() == 0
    assert Response.objects.filter(campaign=invitation.campaign).count() == 1
    assert page.console_errors == []


def test_a_double_submit_from_two_tabs_or_a_double_click_makes_one_response(live_server, page):
    invitation = invited()
    address = f"{live_server.url}/s/{invitation.token}/"
    second_tab = page.context.new_page()
    second_tab_errors = []
    second_tab.on("console", lambda m: second_tab_errors.append(m.text) if m.type == "error" else None)
    page.goto(address)
    second_tab.goto(address)

    for tab, score in ((page, "10"), (second_tab, "2")):
        tab.get_by_label(score, exact=True).check()
    page.get_by_role("button", name="Send my answers").dblclick()
    page.get_by_role("heading", name="Thank you!").wait_for()
    second_tab.get_by_role("button", name="Send my answers").click()
    second_tab.get_by_role("heading", name="Already answered").wait_for()
    # The back button leads to the page as it is now, not to a form that could be sent again.
    page.go_back()
    page.get_by_role("heading", name="Already answered").wait_for()
    assert page.locator("form").count() == 0

    assert Response.objects.filter(campaign=invitation.campaign).count() == 1
    assert Response.objects.get().answers.get().score == 10
    assert page.console_errors == [] and second_tab_errors == []


def test_autosave_keeps_a_partial_answer_when_the_customer_leaves_midway(live_server, page):
    invitation = invited()
    nps, comment = invitation.campaign.survey.questions.all()
    address = f"{live_server.url}/s/{invitation.token}/"
    page.set_viewport_size(PHONE)
    page.goto(address)

    page.get_by_label("7", exact=True).check()
    page.get_by_role("status").filter(has_text="Your answers so far are saved.").wait_for()
    assert Answer.objects.get(question=nps).score == 7

    # Typing, then leaving at once (before the pause that triggers a save): sent on the way out.
    page.get_by_label("What is the main reason for your score?").fill("I will finish this later")
    page.goto("about:blank")
    wait_until(lambda: Answer.objects.filter(question=comment, text="I will finish this later").exists())
    response = Response.objects.get(invitation=invitation)
    assert response.completed_at is None

    # Back later: the page is filled in as it was left; sending it completes the response.
    page.goto(address)
    assert page.get_by_label("7", exact=True).is_checked()
    assert page.locator(f"#q{comment.pk}").input_value() == "I will finish this later"
    page.get_by_role("button", name="Send my answers").click()
    page.get_by_role("heading", name="Thank you!").wait_for()
    response.refresh_from_db()
    assert response.completed_at is not None
    assert page.console_errors == []
