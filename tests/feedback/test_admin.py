"""The feedback admin walked as its users would (issue 4, "Done means"): a support agent logs a phone
complaint, sees its due times, replies, waits on the customer, resolves it; a CX lead keeps the
calendars and policies; the other roles read.

Pages are posted as a browser would post them: `page_data` reads the fields off the page just
rendered (with their current values), and a test changes only what the user would type."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cxplatform.roles import CX_LEAD, EXECUTIVE, SUPPORT
from feedback import services
from feedback.admin import attachments
from feedback.models import (
    BusinessCalendar,
    ClockState,
    FeedbackItem,
    Holiday,
    ItemChange,
    ItemMessage,
    SlaPolicy,
    Target,
)
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
MOSCOW = ZoneInfo("Europe/Moscow")
ADD = reverse("admin:feedback_feedbackitem_add")
LIST = reverse("admin:feedback_feedbackitem_changelist")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


def page(item) -> str:
    return reverse("admin:feedback_feedbackitem_change", args=[item.pk])


def page_data(response) -> dict:
    """What the browser would post back: every field of the form and its inlines, as shown."""
    data = {}

    def add(form):
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue  # an unticked box, an empty choice: absent from a browser's post
            data[form.add_prefix(name)] = "on" if value is True else value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.initial_forms:
            add(form)
    return data


def post_page(client, url, **changes):
    data = {**page_data(client.get(url)), **changes}
    return client.post(url, data)


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def logged(customer, **fields) -> dict:
    """The add form as an agent fills it in for a caller."""
    return {
        "kind": "complaint",
        "channel": "phone",
        "customer": customer.pk if customer else "",
        "subject": "Late delivery",
        "description": "The parcel is a week late.",
        "priority": "normal",
        "language": "en",
        **fields,
    }


def logged_by_service(**fields) -> FeedbackItem:
    return services.item_create(data={**logged(None), "customer": CustomerFactory(), **fields})


def form_errors(response) -> dict:
    return response.context["adminform"].form.errors


@pytest.fixture
def agent(client, make_user):
    user = make_user(SUPPORT)
    client.force_login(user)
    return user


def log_complaint(client, when, customer=None, **fields) -> FeedbackItem:
    with time_machine.travel(when, tick=False):
        response = client.post(ADD, logged(customer or CustomerFactory(), **fields))
    assert response.status_code == 302, form_errors(response)
    return FeedbackItem.objects.latest("pk")


# --- the support agent's story ---------------------------------------------------------------------


def test_agent_logs_a_phone_complaint_replies_waits_and_resolves(client, agent, policy):
    customer = CustomerFactory(name="Anna Petrova")
    with time_machine.travel(local(2026, 11, 23, 10, 0), tick=False):  # a Monday
        form = client.get(ADD)
        assert form.context["adminform"].form["channel"].value() == "phone"  # the usual case
        assert form.context["adminform"].form["assignee"].value() == agent.pk
        response = client.post(ADD, {**page_data(form), **logged(customer)})
    item = FeedbackItem.objects.get()
    assert response.status_code == 302 and response["Location"] == page(item)
    assert f"/r/{item.status_token}/" in " ".join(flash(response))  # the link to give the customer
    assert (item.channel, item.assignee, item.status) == ("phone", agent, "new")
    assert item.created_by == agent

    with time_machine.travel(local(2026, 11, 23, 10, 5), tick=False):
        html = client.get(page(item)).content.decode()
    assert "Mon 23 Nov 2026, 11:00 MSK" in html  # first response: one business hour
    assert "Mon 23 Nov 2026, 14:00 MSK" in html  # resolution: four
    assert f"/r/{item.status_token}/" in html and "Anna Petrova" in html

    # A reply asking for the order number, and waiting on the customer, in one save.
    with time_machine.travel(local(2026, 11, 23, 10, 20), tick=False):
        response = post_page(
            client,
            page(item),
            message_kind="reply",
            message_body="Could you send the order number?",
            transition_to="waiting",
            transition_note="Order number asked",
        )
    assert response.status_code == 302 and response["Location"] == page(item)
    item.refresh_from_db()
    resolution = item.clocks.get(target=Target.RESOLUTION)
    assert item.status == "waiting" and resolution.state == ClockState.PAUSED
    assert resolution.used_seconds == 20 * 60
    assert item.clocks.get(target=Target.FIRST_RESPONSE).state == ClockState.MET
    with time_machine.travel(local(2026, 11, 23, 16, 0), tick=False):
        html = client.get(page(item)).content.decode()
    assert "Paused: waiting on the customer" in html and "Met at 2026-11-23 10:20" in html
    assert "Could you send the order number?" in html and "Order number asked" in html

    # The customer calls back the next morning: logged, the clock runs again.
    with time_machine.travel(local(2026, 11, 24, 9, 0), tick=False):
        post_page(client, page(item), message_kind="customer", message_body="It is 12345")
    item.refresh_from_db()
    resolution.refresh_from_db()
    assert item.status == "in_progress" and resolution.due_at == local(2026, 11, 24, 12, 40)

    # Resolving needs a note: the error is the form's, and nothing moves.
    with time_machine.travel(local(2026, 11, 24, 9, 30), tick=False):
        refused = post_page(client, page(item), transition_to="resolved")
        assert refused.status_code == 200
        assert "resolution needs a note" in str(form_errors(refused)["transition_note"])
        item.refresh_from_db()
        assert item.status == "in_progress"
        post_page(client, page(item), transition_to="resolved", transition_note="Refunded the delivery")
    item.refresh_from_db()
    assert item.status == "resolved" and item.resolution_note == "Refunded the delivery"
    assert list(item.changes.filter(field="status").values_list("new_value", flat=True)) == [
        "in_progress",
        "waiting",
        "in_progress",
        "resolved",
    ]
    html = client.get(page(item)).content.decode()
    assert "Refunded the delivery" in html and 'value="closed"' in html  # it can be closed next


def test_friday_evening_complaint_shows_monday_1230_in_the_calendars_zone(client, agent, policy):
    item = log_complaint(client, local(2026, 11, 27, 17, 30))
    html = client.get(page(item)).content.decode()
    assert "Mon 30 Nov 2026, 12:30 MSK" in html
    assert "Europe/Moscow" in html


def test_refused_moves_and_stray_notes_are_form_errors(client, agent, policy):
    item = log_complaint(client, local(2026, 11, 23, 10, 0))
    closing = post_page(client, page(item), transition_to="closed")  # new -> closed is not allowed
    assert "transition_to" in form_errors(closing)
    stray = post_page(client, page(item), transition_note="Called the warehouse")
    assert "transition_to" in form_errors(stray)
    item.refresh_from_db()
    assert item.status == "new" and not item.messages.exists()


def test_an_internal_note_answers_nobody(client, agent, policy):
    item = log_complaint(client, local(2026, 11, 23, 10, 0))
    with time_machine.travel(local(2026, 11, 23, 10, 30), tick=False):
        post_page(client, page(item), message_kind="note", message_body="Warehouse says Tuesday")
    assert item.messages.get().kind == ItemMessage.Kind.NOTE
    assert item.clocks.get(target=Target.FIRST_RESPONSE).state == ClockState.RUNNING


def test_unknown_caller_needs_a_name_or_contact(client, agent, policy):
    response = client.post(ADD, logged(None))
    assert response.status_code == 200 and "customer" in form_errors(response)
    assert not FeedbackItem.objects.exists()
    client.post(ADD, logged(None, author_name="Ivan", author_contact="+7 900 000-00-00"))
    assert FeedbackItem.objects.get().author_name == "Ivan"


def test_a_public_review_is_logged_with_its_source_and_stars(client, agent, policy):
    review = {
        "kind": "review",
        "channel": "review_site",
        "review_source": "Yandex Maps",
        "review_rating": "1",
    }
    client.post(ADD, logged(None, **review))
    item = FeedbackItem.objects.get()
    assert item.is_negative_review
    listing = client.get(LIST, {"reviews": "negative"}).content.decode()
    assert item.subject in listing
    bad = client.post(ADD, logged(CustomerFactory(), review_source="Yandex Maps"))  # not a review
    assert "review_source" in form_errors(bad)


def test_attachments_upload_and_download_and_a_bad_one_saves_nothing(
    client, agent, policy, settings, tmp_path, monkeypatch
):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(attachments, "ATTACHMENT_MAX_BYTES", 100)
    item = log_complaint(client, local(2026, 11, 23, 10, 0))
    too_big = SimpleUploadedFile("photo.jpg", b"x" * 101, content_type="image/jpeg")
    response = post_page(
        client, page(item), message_body="Sent you a label", **{"attachments-0-upload": too_big}
    )
    assert response.status_code == 200 and "the limit is" in response.content.decode()
    assert not item.messages.exists() and not item.attachments.exists()  # the reply was rolled back

    receipt = SimpleUploadedFile("receipt.pdf", b"%PDF-1.4 receipt", content_type="application/pdf")
    post_page(client, page(item), **{"attachments-0-upload": receipt})
    attachment = item.attachments.get()
    assert (attachment.name, attachment.size, attachment.uploaded_by) == ("receipt.pdf", 16, agent)
    url = reverse("admin:feedback_feedbackitem_attachment", args=[item.pk, attachment.pk])
    assert url in client.get(page(item)).content.decode()
    download = client.get(url)
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.4 receipt"
    post_page(client, page(item))  # saving again keeps it as it is
    assert item.attachments.count() == 1


@pytest.mark.parametrize("role", [EXECUTIVE, CX_LEAD])
def test_roles_without_change_permission_read_the_item_but_cannot_act(client, make_user, policy, role):
    item = logged_by_service()
    client.force_login(make_user(role))
    html = client.get(page(item)).content.decode()
    assert "First response" in html and item.subject in html and f"/r/{item.status_token}/" in html
    for control in ('name="_save"', 'name="message_body"', 'name="transition_to"', 'name="subject"'):
        assert control not in html
    assert client.post(page(item), {"transition_to": "resolved", "transition_note": "x"}).status_code == 403
    item.refresh_from_db()
    assert item.status == "new"


def test_the_list_shows_breaches_finds_by_number_and_costs_the_same_for_more_rows(client, agent, policy):
    late = log_complaint(client, local(2026, 11, 23, 10, 0), subject="Broken kettle")
    with time_machine.travel(local(2026, 11, 24, 10, 0), tick=False):
        fresh = log_complaint(client, local(2026, 11, 24, 10, 0), subject="Wrong size")
        html = client.get(LIST).content.decode()
        assert html.count(">Breached</span>") == 1 and "Tue 24 Nov, 14:00 MSK" in html
        breached = client.get(LIST, {"sla": "breached"}).content.decode()
        assert "Broken kettle" in breached and "Wrong size" not in breached
        assert "Wrong size" in client.get(LIST, {"q": f"#{fresh.pk}"}).content.decode()

        def queries() -> int:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(LIST).status_code == 200
            return len(ctx.captured_queries)

        few = queries()
        for _ in range(6):
            log_complaint(client, local(2026, 11, 24, 10, 0), customer=late.customer)
        assert queries() == few


# --- the CX lead's settings ------------------------------------------------------------------------


@pytest.fixture
def lead(client, make_user):
    user = make_user(CX_LEAD)
    client.force_login(user)
    return user


def calendar_page(calendar) -> str:
    return reverse("admin:feedback_businesscalendar_change", args=[calendar.pk])


def test_overlapping_or_inverted_hours_are_a_form_error(client, lead, calendar):
    # Monday's 09:00-18:00 is row 0; add a 12:00-20:00 beside it.
    extra = {
        "working_hours-TOTAL_FORMS": "6",
        "working_hours-5-weekday": "0",
        "working_hours-5-opens_at": "12:00",
        "working_hours-5-closes_at": "20:00",
    }
    response = post_page(client, calendar_page(calendar), **extra)
    assert response.status_code == 200
    assert "Monday: overlapping intervals 09:00-18:00 and 12:00-20:00" in response.content.decode()
    assert calendar.working_hours.count() == 5

    inverted = {**extra, "working_hours-5-weekday": "5", "working_hours-5-opens_at": "18:00"}
    inverted["working_hours-5-closes_at"] = "09:00"
    response = post_page(client, calendar_page(calendar), **inverted)
    assert response.status_code == 200 and "Saturday" in response.content.decode()
    assert calendar.working_hours.count() == 5


def test_a_calendar_change_retargets_open_items(
    client, lead, policy, calendar, django_capture_on_commit_callbacks
):
    with time_machine.travel(local(2026, 11, 23, 10, 0), tick=False):
        item = logged_by_service()
        assert item.clocks.get(target=Target.RESOLUTION).due_at == local(2026, 11, 23, 14, 0)
        monday = calendar.working_hours.get(weekday=0)
        with django_capture_on_commit_callbacks(execute=True):
            response = post_page(client, calendar_page(calendar), **{f"working_hours-{0}-closes_at": "12:00"})
        assert response.status_code == 302
    monday.refresh_from_db()
    assert f"{monday.closes_at:%H:%M}" == "12:00"
    change = item.changes.get(field=ItemChange.Field.SLA)
    assert "SLA settings changed" in change.note
    assert item.clocks.get(target=Target.RESOLUTION).due_at == local(2026, 11, 24, 11, 0)


def test_lead_fills_in_public_holidays(client, lead, calendar):
    url = reverse("admin:feedback_businesscalendar_fill_holidays", args=[calendar.pk])
    assert "Fill public holidays" in client.get(calendar_page(calendar)).content.decode()
    form = client.get(url)
    assert form.status_code == 200 and "Russia" in form.content.decode()
    response = client.post(url, {"country": "RU", "years": ["2026"]})
    assert response.status_code == 302
    assert Holiday.objects.filter(calendar=calendar, date="2026-01-01").exists()
    assert "Added" in " ".join(flash(response))
    calendar.refresh_from_db()
    assert calendar.country == "RU"

    wrong = client.post(url, {"country": "DE", "years": ["2026"], "subdivision": "Atlantis"})
    assert wrong.status_code == 200 and "subdivision" in wrong.context["form"].errors
    nothing = client.post(url, {"country": "", "years": []})
    assert set(nothing.context["form"].errors) == {"country", "years"}


def test_support_reads_calendars_but_cannot_fill_them(client, agent, calendar):
    assert client.get(calendar_page(calendar)).status_code == 200
    url = reverse("admin:feedback_businesscalendar_fill_holidays", args=[calendar.pk])
    assert client.post(url, {"country": "RU", "years": ["2026"]}).status_code == 403
    assert not Holiday.objects.exists()


def policy_form(calendar, **fields) -> dict:
    return {
        "name": "Premium",
        "position": "10",
        "active": "on",
        "calendar": calendar.pk,
        "first_response_minutes": "30",
        "resolution_minutes": "120",
        "warn_at_percent": "80",
        **fields,
    }


def test_lead_sets_up_a_policy_with_ticks_and_bad_targets_are_refused(client, lead, calendar):
    add = reverse("admin:feedback_slapolicy_add")
    response = client.post(
        add, policy_form(calendar, priorities=["high", "urgent"], service_classes=["premium"])
    )
    assert response.status_code == 302
    policy = SlaPolicy.objects.get()
    assert (policy.priorities, policy.service_classes, policy.kinds) == (["high", "urgent"], ["premium"], [])

    negative = client.post(add, policy_form(calendar, name="Bad", resolution_minutes="-5"))
    assert "resolution_minutes" in form_errors(negative)
    upside_down = client.post(add, policy_form(calendar, name="Bad", first_response_minutes="500"))
    assert "first_response_minutes" in form_errors(upside_down)
    assert SlaPolicy.objects.count() == 1

    listing = client.get(reverse("admin:feedback_slapolicy_changelist")).content.decode()
    assert "priorities: High, Urgent" in listing


def test_a_policy_change_retargets_its_open_items(client, lead, policy, django_capture_on_commit_callbacks):
    with time_machine.travel(local(2026, 11, 23, 10, 0), tick=False):
        item = logged_by_service()
        with django_capture_on_commit_callbacks(execute=True):
            url = reverse("admin:feedback_slapolicy_change", args=[policy.pk])
            assert post_page(client, url, resolution_minutes="480").status_code == 302
    assert item.clocks.get(target=Target.RESOLUTION).due_at == local(2026, 11, 23, 18, 0)
    assert item.changes.filter(field=ItemChange.Field.SLA).exists()


def test_executive_reads_a_policy_in_words(client, make_user, calendar):
    policy = SlaPolicy.objects.create(
        name="Urgent",
        calendar=calendar,
        priorities=["urgent"],
        first_response_minutes=15,
        resolution_minutes=60,
    )
    client.force_login(make_user(EXECUTIVE))
    html = client.get(reverse("admin:feedback_slapolicy_change", args=[policy.pk])).content.decode()
    assert "Urgent" in html and '["urgent"]' not in html and 'name="_save"' not in html
    assert BusinessCalendar.objects.count() == 1
