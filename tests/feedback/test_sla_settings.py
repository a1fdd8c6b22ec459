"""Which policy an item gets, what a change of policy or calendar does to open items, follow-ups."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from customers.models import EventKind
from customers.services import event_record
from feedback import services
from feedback.models import ClockState, FeedbackItem, ItemChange, SlaPolicy, Target
from tests.factories import CustomerFactory

from .conftest import office_calendar

pytestmark = pytest.mark.django_db
MOSCOW = ZoneInfo("Europe/Moscow")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=MOSCOW)


def complaint(customer=None, now=None, **extra):
    data = {
        "kind": "complaint",
        "channel": "phone",
        "customer": customer or CustomerFactory(),
        "subject": "Broken",
        "description": "It broke.",
        **extra,
    }
    return services.item_create(data=data, now=now or local(2026, 11, 23, 10, 0))


def test_the_first_matching_policy_in_order_applies_and_premium_gets_tighter_targets(policy, calendar):
    premium = SlaPolicy.objects.create(
        name="Premium",
        position=1,
        calendar=calendar,
        service_classes=["premium"],
        first_response_minutes=15,
        resolution_minutes=60,
    )
    urgent_email = SlaPolicy.objects.create(
        name="Urgent e-mail",
        position=2,
        calendar=calendar,
        priorities=["urgent"],
        channels=["email"],
        first_response_minutes=30,
        resolution_minutes=120,
    )
    assert complaint(CustomerFactory(service_class="premium")).sla_policy == premium
    assert complaint(priority="urgent", channel="email").sla_policy == urgent_email
    assert complaint(priority="urgent", channel="phone").sla_policy == policy  # all conditions must match


def test_a_policy_with_a_negative_or_inverted_target_is_refused_naming_the_field(calendar):
    bad = SlaPolicy(name="Bad", calendar=calendar, first_response_minutes=-5, resolution_minutes=60)
    with pytest.raises(ValidationError) as error:
        bad.full_clean()
    assert "first_response_minutes" in error.value.message_dict
    inverted = SlaPolicy(
        name="Inverted", calendar=calendar, first_response_minutes=120, resolution_minutes=60
    )
    with pytest.raises(ValidationError) as error:
        inverted.full_clean()
    assert "first_response_minutes" in error.value.message_dict


def test_overlapping_or_inverted_working_hours_name_the_day():
    with pytest.raises(ValidationError) as error:
        services.working_hours_check({0: [(540, 780), (720, 1080)], 2: [(600, 540)]})
    problems = " ".join(error.value.message_dict["working_hours"])
    assert "Monday" in problems and "Wednesday" in problems


def test_a_changed_policy_retargets_open_items_from_now_and_records_it(policy):
    item = complaint(now=local(2026, 11, 23, 10, 0))
    done = complaint(now=local(2026, 11, 23, 10, 0))
    services.item_transition(item_id=done.pk, to="resolved", note="Done", now=local(2026, 11, 23, 10, 30))

    policy.resolution_minutes = 480
    policy.save()
    assert services.items_retarget(policy_id=policy.pk, now=local(2026, 11, 23, 11, 0)) == 1

    resolution = item.clocks.get(target=Target.RESOLUTION)
    assert resolution.target_seconds == 480 * 60
    assert resolution.used_seconds == 3600  # the hour already counted stays counted
    assert resolution.due_at == local(2026, 11, 23, 18, 0)  # 7 business hours from 11:00
    change = item.changes.get(field=ItemChange.Field.SLA)
    assert "resolution 480 min" in change.new_value and "→" in change.note
    assert not done.changes.filter(field=ItemChange.Field.SLA).exists()


def test_a_calendar_change_retargets_the_items_under_it(policy, calendar):
    item = complaint(now=local(2026, 11, 23, 10, 0))
    calendar.always_open = True
    calendar.save()
    services.items_retarget(calendar_id=calendar.pk, now=local(2026, 11, 23, 10, 0))
    assert item.clocks.get(target=Target.RESOLUTION).due_at == local(2026, 11, 23, 14, 0)
    other = office_calendar(name="Other")
    assert services.items_retarget(calendar_id=other.pk, now=local(2026, 11, 23, 10, 0)) == 0


def test_a_customer_reply_starts_a_next_response_clock_that_a_reply_meets(policy):
    policy.next_response_minutes = 30
    policy.save()
    item = complaint(now=local(2026, 11, 23, 10, 0))
    services.item_reply(item_id=item.pk, body="On it", now=local(2026, 11, 23, 10, 10))
    services.item_customer_message(item_id=item.pk, body="Any news?", now=local(2026, 11, 23, 12, 0))
    following = item.clocks.get(target=Target.NEXT_RESPONSE)
    assert (following.state, following.due_at) == (ClockState.RUNNING, local(2026, 11, 23, 12, 30))
    services.item_note(item_id=item.pk, body="Asked the warehouse", now=local(2026, 11, 23, 12, 5))
    following.refresh_from_db()
    assert following.state == ClockState.RUNNING  # an internal note answers nobody
    services.item_reply(item_id=item.pk, body="Tomorrow", now=local(2026, 11, 23, 12, 20))
    following.refresh_from_db()
    assert (following.state, following.used_seconds) == (ClockState.MET, 20 * 60)


def test_a_detractor_answer_opens_one_follow_up_item(policy):
    customer = CustomerFactory()
    now = local(2026, 11, 23, 10, 0)
    event_record(
        customer=customer,
        kind=EventKind.SURVEY_ANSWERED,
        occurred_at=now,
        data={"scores": {"nps": 3}, "nps_category": "detractor", "detractor": True},
        external_id="survey-response-1",
    )
    event_record(
        customer=CustomerFactory(),
        kind=EventKind.SURVEY_ANSWERED,
        occurred_at=now,
        data={"scores": {"nps": 10}, "nps_category": "promoter", "detractor": False},
        external_id="survey-response-2",
    )

    assert services.sla_sweep(now=now)["follow_ups"] == 1
    assert services.sla_sweep(now=now)["follow_ups"] == 0
    item = FeedbackItem.objects.get()
    assert (item.customer, item.priority, item.origin_event.external_id) == (
        customer,
        "high",
        "survey-response-1",
    )
    assert "NPS 3" in item.subject
