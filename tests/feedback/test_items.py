from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from customers.models import Event, EventKind
from feedback import services
from feedback.models import ClockState, FeedbackItem, Holiday, ItemChange, Target
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
MOSCOW = ZoneInfo("Europe/Moscow")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


def phone_complaint(customer, now, **extra):
    data = {
        "kind": "complaint",
        "channel": "phone",
        "customer": customer,
        "subject": "Late delivery",
        "description": "The parcel is a week late.",
        **extra,
    }
    return services.item_create(data=data, now=now)


def clock(item, target):
    return item.clocks.get(target=target)


def test_friday_1730_with_four_business_hours_is_due_monday_1230(policy):
    item = phone_complaint(CustomerFactory(), local(2026, 11, 27, 17, 30))  # a Friday

    assert clock(item, Target.RESOLUTION).due_at == local(2026, 11, 30, 12, 30)
    assert clock(item, Target.FIRST_RESPONSE).due_at == local(2026, 11, 30, 9, 30)
    assert item.sla_policy == policy and item.status == "new"


def test_a_monday_holiday_moves_the_due_moment_to_tuesday(policy, calendar):
    Holiday.objects.create(calendar=calendar, date=datetime(2026, 11, 30).date(), name="Closed")
    calendar.save()
    item = phone_complaint(CustomerFactory(), local(2026, 11, 27, 17, 30))

    assert clock(item, Target.RESOLUTION).due_at == local(2026, 12, 1, 12, 30)


def test_waiting_on_the_customer_pauses_and_their_reply_resumes(policy):
    customer = CustomerFactory()
    item = phone_complaint(customer, local(2026, 11, 23, 10, 0))  # Monday
    services.item_reply(
        item_id=item.pk, body="Could you send the order number?", now=local(2026, 11, 23, 10, 20)
    )
    services.item_transition(
        item_id=item.pk, to="waiting", note="Order number asked", now=local(2026, 11, 23, 10, 30)
    )
    resolution = clock(item, Target.RESOLUTION)
    assert (resolution.state, resolution.used_seconds, resolution.due_at) == (
        ClockState.PAUSED,
        30 * 60,
        None,
    )

    services.item_customer_message(item_id=item.pk, body="It is 12345", now=local(2026, 11, 24, 9, 0))
    resolution.refresh_from_db()
    item.refresh_from_db()
    assert item.status == "in_progress"
    assert resolution.state == ClockState.RUNNING
    assert resolution.due_at == local(2026, 11, 24, 12, 30)  # 3.5 business hours left
    assert clock(item, Target.FIRST_RESPONSE).state == ClockState.MET
    assert item.first_response_at == local(2026, 11, 23, 10, 20)


def test_resolving_needs_a_note_and_records_the_event_and_history(policy):
    customer = CustomerFactory()
    item = phone_complaint(customer, local(2026, 11, 23, 10, 0))
    with pytest.raises(ValidationError) as error:
        services.item_transition(item_id=item.pk, to="resolved", now=local(2026, 11, 23, 11, 0))
    assert "note" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.item_transition(item_id=item.pk, to="closed", now=local(2026, 11, 23, 11, 0))
    assert "status" in error.value.message_dict

    services.item_transition(item_id=item.pk, to="resolved", note="Refunded", now=local(2026, 11, 23, 11, 0))
    item.refresh_from_db()
    assert item.status == "resolved" and item.resolution_note == "Refunded"
    assert clock(item, Target.RESOLUTION).state == ClockState.MET
    kinds = list(Event.objects.filter(customer=customer).values_list("kind", flat=True).order_by("pk"))
    assert kinds == [EventKind.COMPLAINT_OPENED, EventKind.COMPLAINT_RESOLVED]
    assert list(item.changes.values_list("old_value", "new_value")) == [("new", "resolved")]


def test_reopening_restarts_the_resolution_clock_where_it_stood(policy):
    item = phone_complaint(CustomerFactory(), local(2026, 11, 23, 10, 0))
    services.item_transition(item_id=item.pk, to="resolved", note="Fixed", now=local(2026, 11, 23, 11, 0))
    services.item_transition(
        item_id=item.pk, to="reopened", note="Still broken", now=local(2026, 11, 24, 9, 0)
    )

    resolution = clock(item, Target.RESOLUTION)
    assert resolution.state == ClockState.RUNNING and resolution.used_seconds == 3600
    assert resolution.due_at == local(2026, 11, 24, 12, 0)
    assert FeedbackItem.objects.get(pk=item.pk).reopened_count == 1
    assert services.clock_rebuild(resolution)


def test_a_breach_is_found_by_the_sweep_once_notified_once_and_escalated(
    policy, make_user, mailoutbox, django_capture_on_commit_callbacks
):
    lead, agent = make_user("CX lead"), make_user("Support")
    policy.lead, policy.escalate_to_priority = lead, "urgent"
    policy.save()
    item = phone_complaint(CustomerFactory(), local(2026, 11, 23, 10, 0), assignee=agent)

    def sweep(*moment):
        with django_capture_on_commit_callbacks(execute=True):
            return services.sla_sweep(now=local(*moment))

    first = sweep(2026, 11, 23, 10, 50)  # 80% of the first response's hour
    assert (first["warned"], first["breached"]) == (1, 0)
    # First response due 11:00, resolution warned at 13:12 and due 14:00.
    second = sweep(2026, 11, 23, 14, 1)
    assert (second["warned"], second["breached"]) == (1, 2)
    again = sweep(2026, 11, 23, 14, 2)
    assert (again["warned"], again["breached"], again["notices"]) == (0, 0, 0)

    item.refresh_from_db()
    assert item.priority == "urgent"
    assert item.changes.filter(field=ItemChange.Field.PRIORITY).count() == 1
    sent = sorted((m.subject.split(":")[0], m.to[0]) for m in mailoutbox)
    assert sent == sorted(
        [("SLA warning", agent.email)] * 2
        + [("SLA breached", agent.email)] * 2
        + [("SLA breached", lead.email)] * 2
    )


def test_a_reply_is_emailed_to_the_customer_once_with_the_status_link(
    policy, mailoutbox, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(language="ru")
    item = phone_complaint(customer, local(2026, 11, 23, 10, 0))
    with django_capture_on_commit_callbacks(execute=True):
        services.item_note(
            item_id=item.pk, body="Internal: ask the warehouse", now=local(2026, 11, 23, 10, 5)
        )
        reply = services.item_reply(
            item_id=item.pk, body="Посылка будет завтра.", now=local(2026, 11, 23, 10, 10)
        )

    assert len(mailoutbox) == 1
    sent = mailoutbox[0]
    assert sent.to == [customer.email] and "обращение №" in sent.subject
    assert "Посылка будет завтра." in sent.body and f"/r/{item.status_token}/" in sent.body
    assert "warehouse" not in sent.body
    assert services.reply_email_send(message_id=reply.pk) is False  # a second run sends nothing
    assert len(mailoutbox) == 1


def test_many_items_are_logged_at_once_all_or_none_naming_the_bad_row(policy):
    customer = CustomerFactory()
    rows = [
        {
            "kind": "review",
            "channel": "review_site",
            "review_source": "2GIS",
            "review_rating": 2,
            "author_name": "Anna",
            "subject": f"Review {i}",
            "description": "Slow.",
        }
        for i in range(3)
    ] + [
        {"kind": "complaint", "channel": "email", "customer": customer, "subject": "Late", "description": "."}
    ]
    bad = [*rows[:2], {**rows[2], "review_rating": 9}]
    with pytest.raises(ValidationError) as error:
        services.items_create(rows=bad, now=local(2026, 11, 23, 10, 0))
    assert list(error.value.message_dict) == ["2.review_rating"]
    assert not FeedbackItem.objects.exists()  # none of the good rows either

    items = services.items_create(rows=rows, now=local(2026, 11, 23, 10, 0))
    assert len(items) == 4 and all(item.pk for item in items)
    assert all(clock(item, Target.RESOLUTION).due_at == local(2026, 11, 23, 14, 0) for item in items)
    assert Event.objects.filter(customer=customer, kind=EventKind.COMPLAINT_OPENED).count() == 1
