"""Campaigns through the service layer: audiences, the contact policy, launch, the three kinds."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError
from django.utils import timezone

from customers.models import ClientType, EventKind, SegmentMembership
from customers.services import event_record
from surveys import services
from surveys.models import Campaign, ContactPolicy, Invitation, SurveyOptOut
from surveys.selectors import campaign_audience, campaign_dry_run
from tests.factories import CustomerFactory, SegmentFactory, active_survey, email_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def launch(django_capture_on_commit_callbacks):
    """Launch and let the eager tasks build and send, as a worker would right after the commit."""

    def launch_(campaign, now=None):
        with time_machine.travel(now or timezone.now()), django_capture_on_commit_callbacks(execute=True):
            return services.campaign_launch(campaign=campaign)

    return launch_


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    def sweep_(now):
        """The beat's sweep at a moment of the test's choosing (the whole sending path's clock)."""
        with time_machine.travel(now), django_capture_on_commit_callbacks(execute=True):
            return services.survey_sweep()

    return sweep_


def statuses(campaign) -> dict[str, tuple[str, str]]:
    return {
        i.customer.name: (i.status, i.held_back_reason)
        for i in Invitation.objects.filter(campaign=campaign).select_related("customer")
    }


# --- audience ------------------------------------------------------------------------------------


def test_audience_is_and_across_criteria_or_within_plus_the_explicit_list():
    loyal, friendly = ClientType.objects.get(slug="loyal"), ClientType.objects.exclude(slug="loyal").first()
    segment = SegmentFactory()
    in_segment_loyal = CustomerFactory(name="in segment, loyal", client_type=loyal)
    in_segment_other = CustomerFactory(name="in segment, other type", client_type=friendly)
    loyal_outside = CustomerFactory(name="loyal, not in segment", client_type=loyal)
    listed = CustomerFactory(name="listed")
    for customer in (in_segment_loyal, in_segment_other):
        SegmentMembership.objects.create(segment=segment, customer=customer)
    campaign = email_campaign(
        everyone=False, segments=[segment], client_types=[loyal, friendly], customers=[listed]
    )
    assert set(campaign_audience(campaign)) == {in_segment_loyal, in_segment_other, listed}
    services.campaign_save(campaign=campaign, data={"client_types": [loyal]})
    assert set(campaign_audience(campaign)) == {in_segment_loyal, listed}
    assert loyal_outside not in campaign_audience(campaign)


def test_stage_and_service_class_criteria():
    premium_loyal = CustomerFactory(lifecycle_stage="loyalty", service_class="premium")
    CustomerFactory(lifecycle_stage="loyalty", service_class="economy")
    CustomerFactory(lifecycle_stage="purchase", service_class="premium")
    campaign = email_campaign(everyone=False, lifecycle_stages=["loyalty"], service_classes=["premium"])
    assert list(campaign_audience(campaign)) == [premium_loyal]


def test_dry_run_counts_who_would_be_sent_and_who_is_held_back_and_why():
    CustomerFactory.create_batch(3)
    CustomerFactory(survey_consent=False)
    CustomerFactory(survey_consent_channel="sms")  # consents, but not to e-mail
    CustomerFactory(email="")
    SurveyOptOut.objects.create(customer=CustomerFactory())
    report = campaign_dry_run(email_campaign(), timezone.now())
    assert report == {
        "audience": 7,
        "would_send": 3,
        "deferred": 0,
        "held_back": {"quarantined": 0, "no_consent": 2, "no_email": 1, "unsubscribed": 1},
        "held_back_total": 4,
    }
    assert Invitation.objects.count() == 0  # a dry run writes nothing


# --- contact policy --------------------------------------------------------------------------------


def test_global_quarantine_defers_to_the_first_allowed_date(launch, sweep):
    now = timezone.now()
    recent, fresh = CustomerFactory(name="recent"), CustomerFactory(name="fresh")
    launch(email_campaign(everyone=False, customers=[recent]), now=now - timedelta(days=10))
    assert len(mail.outbox) == 1

    campaign = email_campaign()
    assert campaign_dry_run(campaign, now)["deferred"] == 1
    launch(campaign, now=now)
    assert statuses(campaign) == {"recent": ("queued", "quarantined"), "fresh": ("sent", "")}
    deferred = Invitation.objects.get(campaign=campaign, customer=recent)
    first_sent = Invitation.objects.get(customer=recent, status="sent").sent_at
    assert deferred.send_after == first_sent + timedelta(days=30)

    sweep(now + timedelta(days=19))
    assert Invitation.objects.get(pk=deferred.pk).status == "queued"
    sweep(deferred.send_after + timedelta(minutes=1))
    assert Invitation.objects.get(pk=deferred.pk).status == "sent"
    assert [m.to for m in mail.outbox] == [[recent.email], [fresh.email], [recent.email]]
    assert fresh.pk  # fresh was sent at once, not deferred


def test_quarantine_without_deferral_holds_back_and_a_zero_policy_turns_it_off(launch):
    customer = CustomerFactory(name="c")
    launch(email_campaign())
    no_defer = email_campaign(defer_held_back=False)
    launch(no_defer)
    assert statuses(no_defer) == {"c": ("held_back", "quarantined")}

    ContactPolicy.objects.update_or_create(pk=1, defaults={"quarantine_days": 0})
    again = email_campaign()
    launch(again)
    assert statuses(again) == {"c": ("sent", "")}
    assert customer.survey_invitations.filter(status="sent").count() == 2


def test_per_campaign_quarantine_of_a_recurring_campaign(launch, sweep):
    ContactPolicy.objects.update_or_create(pk=1, defaults={"quarantine_days": 0})
    CustomerFactory(name="c")
    now = timezone.now()
    campaign = email_campaign(
        kind="recurring", repeat_every_days=7, quarantine_days=10, defer_held_back=False
    )
    launch(campaign, now=now)
    sweep(now + timedelta(days=7, minutes=1))  # wave 2: only 7 days since the last one
    sweep(now + timedelta(days=14, minutes=2))  # wave 3: 14 days since wave 1 was sent
    waves = dict(Invitation.objects.filter(campaign=campaign).values_list("wave", "status"))
    assert waves == {1: "sent", 2: "held_back", 3: "sent"}
    campaign.refresh_from_db()
    assert campaign.runs == 3 and campaign.status == "running"
    assert campaign.next_run_at == now + timedelta(days=21)


def test_consent_is_checked_again_when_a_deferred_invitation_comes_due(launch, sweep):
    customer = CustomerFactory(name="c")
    launch(email_campaign())
    campaign = email_campaign()
    launch(campaign)
    customer.survey_consent = False
    customer.save()
    sweep(timezone.now() + timedelta(days=31))
    assert statuses(campaign) == {"c": ("held_back", "no_consent")}


# --- launching -------------------------------------------------------------------------------------


def test_launch_refuses_what_cannot_be_sent_naming_the_field(launch):
    CustomerFactory()
    with pytest.raises(ValidationError) as nobody:
        launch(email_campaign(everyone=False))
    assert "audience" in nobody.value.message_dict
    with pytest.raises(ValidationError) as empty:
        launch(email_campaign(everyone=False, lifecycle_stages=["loyalty"]))
    assert "empty" in empty.value.message_dict["audience"][0]
    draft = services.survey_from_template(template="csat", name="draft one")
    with pytest.raises(ValidationError) as not_live:
        launch(email_campaign(survey=draft))
    assert "survey" in not_live.value.message_dict
    campaign = email_campaign()
    launch(campaign)
    with pytest.raises(ValidationError) as twice:
        launch(campaign)
    assert "status" in twice.value.message_dict
    assert Invitation.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"reminder_count": 2}, "reminder_every_days"),
        ({"reminder_count": 3, "reminder_every_days": 10, "expires_after_days": 30}, "reminder_every_days"),
        ({"reminder_every_days": 2}, "reminder_count"),
        ({"kind": "recurring"}, "repeat_every_days"),
        ({"kind": "event_triggered"}, "trigger_event_kind"),
        ({"channel": "link", "kind": "recurring", "repeat_every_days": 7}, "kind"),
        ({"lifecycle_stages": ["nirvana"]}, "lifecycle_stages"),
        ({"email_subject": {"de": "Hallo"}}, "email_subject"),
    ],
)
def test_a_campaign_that_makes_no_sense_is_refused_naming_the_field(fields, field):
    with pytest.raises(ValidationError) as exc:
        email_campaign(**fields)
    assert field in exc.value.message_dict
    assert not Campaign.objects.exists()


def test_what_a_campaign_is_is_fixed_once_launched(launch):
    CustomerFactory()
    campaign = email_campaign()
    launch(campaign)
    with pytest.raises(ValidationError) as exc:
        services.campaign_save(campaign=campaign, data={"survey": active_survey("csat")})
    assert "survey" in exc.value.message_dict
    services.campaign_save(campaign=campaign, data={"name": "Renamed"})  # the rest stays editable


def test_a_one_off_at_a_time_waits_for_it(launch, sweep):
    CustomerFactory()
    now = timezone.now()
    campaign = launch(email_campaign(send_at=now + timedelta(hours=2)), now=now)
    assert campaign.status == "scheduled"
    sweep(now + timedelta(hours=1))
    assert not Invitation.objects.exists()
    sweep(now + timedelta(hours=2, minutes=1))
    assert Invitation.objects.get().status == "sent"
    assert Campaign.objects.get().status == "running"


def test_stopping_cancels_what_was_not_sent(launch):
    CustomerFactory(name="recent")
    launch(email_campaign())
    campaign = email_campaign()
    launch(campaign)  # deferred by the global quarantine
    services.campaign_stop(campaign=campaign)
    assert statuses(campaign) == {"recent": ("cancelled", "quarantined")}
    assert Campaign.objects.get(pk=campaign.pk).status == "finished"


# --- event-triggered --------------------------------------------------------------------------------


def test_an_event_triggered_campaign_sends_after_its_delay_once_per_event(launch, sweep):
    ContactPolicy.objects.update_or_create(pk=1, defaults={"quarantine_days": 0})
    now = timezone.now()
    customer, bystander = CustomerFactory(name="c"), CustomerFactory(name="b")
    event_record(customer=customer, kind=EventKind.COMPLAINT_RESOLVED, occurred_at=now - timedelta(days=1))
    campaign = email_campaign(
        kind="event_triggered", trigger_event_kind=EventKind.COMPLAINT_RESOLVED, trigger_delay_minutes=60
    )
    launch(campaign, now=now)
    event = event_record(customer=customer, kind=EventKind.COMPLAINT_RESOLVED)
    event_record(customer=bystander, kind=EventKind.PURCHASE, amount=10)

    sweep(timezone.now() + timedelta(minutes=1))
    invitation = Invitation.objects.get(campaign=campaign)  # the old event does not trigger
    assert (invitation.trigger_event, invitation.status) == (event, "queued")
    assert invitation.send_after == event.occurred_at + timedelta(minutes=60)
    assert not mail.outbox

    sweep(timezone.now() + timedelta(minutes=61))
    sweep(timezone.now() + timedelta(minutes=62))  # seeing the event again changes nothing
    assert Invitation.objects.get(campaign=campaign).status == "sent"
    assert [m.to for m in mail.outbox] == [[customer.email]]


def test_a_new_time_for_a_scheduled_campaign_moves_its_run(launch, sweep):
    CustomerFactory()
    now = timezone.now()
    campaign = launch(email_campaign(send_at=now + timedelta(days=2)), now=now)
    services.campaign_save(campaign=campaign, data={"send_at": now + timedelta(hours=1)})
    sweep(now + timedelta(hours=1, minutes=1))
    assert Invitation.objects.get().status == "sent"


def test_only_a_campaign_never_launched_is_deleted_or_a_draft_is_not_stopped(launch):
    CustomerFactory()
    draft, launched = email_campaign(), email_campaign()
    launch(launched)
    with pytest.raises(ValidationError):
        services.campaign_stop(campaign=draft)
    with pytest.raises(ProtectedError):
        services.campaign_delete(campaign=launched)
    services.campaign_delete(campaign=draft)
    assert list(Campaign.objects.all()) == [launched]


def test_a_run_is_built_in_the_database_with_distinct_url_safe_tokens_and_only_once():
    CustomerFactory.create_batch(30)
    CustomerFactory(name="no consent", survey_consent=False)
    campaign = email_campaign()
    services.campaign_launch(campaign=campaign)
    now = timezone.now()

    def build():
        audience = campaign_audience(campaign)
        return services.invitations_build(campaign=campaign, customers=audience, wave=1, now=now)

    made, again = build(), build()

    tokens = list(Invitation.objects.filter(campaign=campaign).values_list("token", flat=True))
    assert (made, again, len(tokens), len(set(tokens))) == (31, 0, 31, 31)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", token) for token in tokens)
    assert statuses(campaign)["no consent"] == ("held_back", "no_consent")
    held = Invitation.objects.get(campaign=campaign, status="held_back")
    assert (held.held_back_at, held.queued_at, held.send_after) == (now, now, now)
