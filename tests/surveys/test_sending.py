"""Sending, reminders, the sweep and answering, through the services (tasks run inline)."""

import re
import smtplib
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from customers.models import Event
from surveys import services
from surveys.models import ContactPolicy, Invitation, InvitationStatus, Response, SurveyOptOut
from surveys.selectors import campaign_funnel
from tests.factories import CustomerFactory, email_campaign

pytestmark = pytest.mark.django_db


class FlakyBackend(EmailBackend):
    """The outbound edge: refuses some recipients, loses the connection for others."""

    def send_messages(self, messages):
        for message in messages:
            if message.to[0].startswith("refused"):
                raise smtplib.SMTPRecipientsRefused({message.to[0]: (550, b"no such user")})
            if message.to[0].startswith("down"):
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.fixture
def at(django_capture_on_commit_callbacks):
    """Run a service at a given moment, with its on-commit work (the eager tasks) done."""

    def run(moment, service, **kwargs):
        with time_machine.travel(moment), django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return run


def answer(invitation, score=9, comment="fine", submit=True):
    questions = list(invitation.campaign.survey.questions.all())
    answers = {str(questions[0].pk): str(score), str(questions[1].pk): comment}
    return services.response_save(invitation=invitation, answers=answers, submit=submit)


def test_a_campaign_sends_one_email_per_customer_with_a_stable_message_id_and_unsubscribe(at):
    anna = CustomerFactory(name="Anna", language="ru")
    CustomerFactory(name="Ben")
    campaign = email_campaign(reminder_count=1, reminder_every_days=3)
    at(timezone.now(), services.campaign_launch, campaign=campaign)

    assert len(mail.outbox) == 2
    invitation = Invitation.objects.get(customer=anna)
    email = next(m for m in mail.outbox if m.to == [anna.email])
    assert email.extra_headers["Message-ID"] == invitation.message_id
    assert invitation.message_id == f"<survey-invitation-{invitation.pk}.{campaign.pk}@127.0.0.1>"
    assert f"/s/{invitation.token}/" in email.body and "Здравствуйте" in email.body
    assert (
        email.extra_headers["List-Unsubscribe"]
        == f"<http://127.0.0.1:8000/s/{invitation.token}/unsubscribe/>"
    )
    assert invitation.status == "sent" and invitation.attempts == 1
    # Dated when the email is written (its text names the date), a moment before it is sent.
    assert abs(invitation.expires_at - invitation.sent_at - timedelta(days=30)) < timedelta(seconds=5)
    assert invitation.next_reminder_at == invitation.sent_at + timedelta(days=3)
    tokens = set(Invitation.objects.values_list("token", flat=True))
    assert len(tokens) == 2 and all(len(token) >= 32 for token in tokens)


def test_reminders_go_only_to_those_who_have_not_answered_and_stop_at_the_count(at):
    answered, silent, unsubscribed = (CustomerFactory(name=n) for n in ("answered", "silent", "gone"))
    start = timezone.now()
    campaign = email_campaign(reminder_count=2, reminder_every_days=3)
    at(start, services.campaign_launch, campaign=campaign)
    answer(Invitation.objects.get(customer=answered))
    services.invitation_unsubscribe(invitation=Invitation.objects.get(customer=unsubscribed))
    mail.outbox.clear()

    for day in (1, 3.1, 4, 6.2, 9.3, 12.4):
        at(start + timedelta(days=day), services.survey_sweep)
    assert [(m.to, m.subject) for m in mail.outbox] == [
        ([silent.email], "Reminder: tell us how we did"),
        ([silent.email], "Reminder: tell us how we did"),
    ]
    reminder = mail.outbox[0]
    first = Invitation.objects.get(customer=silent)
    assert reminder.extra_headers["In-Reply-To"] == first.message_id
    assert reminder.extra_headers["Message-ID"] != first.message_id
    assert (first.reminders_sent, first.next_reminder_at) == (2, None)
    assert campaign_funnel(campaign, timezone.now())["reminded"] == 1


def test_a_reminder_handed_out_twice_is_sent_once(at):
    CustomerFactory()
    start = timezone.now()
    campaign = email_campaign(reminder_count=2, reminder_every_days=3)
    at(start, services.campaign_launch, campaign=campaign)
    invitation = Invitation.objects.get()
    pair = [[invitation.pk, 0]]
    at(start + timedelta(days=3.5), services.invitations_remind, reminders=pair)
    at(start + timedelta(days=3.5), services.invitations_remind, reminders=pair)  # the same task again
    assert len(mail.outbox) == 2  # the invitation and one reminder
    assert Invitation.objects.get().reminders_sent == 1


def test_the_sweep_puts_back_what_a_dead_worker_left_sending_and_the_resend_is_the_same_message(at, settings):
    CustomerFactory()
    campaign = email_campaign()
    start = timezone.now()
    at(start, services.campaign_save, campaign=campaign, data={})  # nothing sent yet
    with time_machine.travel(start):
        services.campaign_launch(campaign=campaign)  # no on-commit: the run is left to the sweep
        services.campaign_run(campaign_id=campaign.pk)
    # A worker claimed it and died before marking it sent.
    Invitation.objects.update(status=InvitationStatus.SENDING, claimed_at=start, attempts=1)

    at(start + timedelta(seconds=settings.SURVEY_SENDING_STALE_SECONDS - 5), services.survey_sweep)
    assert Invitation.objects.get().status == "sending" and not mail.outbox  # may still be in flight
    report = at(start + timedelta(seconds=settings.SURVEY_SENDING_STALE_SECONDS + 5), services.survey_sweep)
    assert report["requeued"] == 1 and report["dispatched"] == 1
    invitation = Invitation.objects.get()
    assert (invitation.status, invitation.attempts) == ("sent", 2)
    assert mail.outbox[0].extra_headers["Message-ID"] == invitation.message_id


def test_a_lost_sending_task_is_handed_out_again(at, settings):
    CustomerFactory()
    campaign = email_campaign()
    start = timezone.now()
    with time_machine.travel(start):
        services.campaign_launch(campaign=campaign)
        services.campaign_run(campaign_id=campaign.pk)
    Invitation.objects.update(dispatched_at=start)  # handed to a task that a killed worker lost
    at(start + timedelta(seconds=60), services.survey_sweep)
    assert not mail.outbox  # the task may yet run
    at(start + timedelta(seconds=settings.SURVEY_REDISPATCH_SECONDS + 60), services.survey_sweep)
    assert Invitation.objects.get().status == "sent" and len(mail.outbox) == 1


def test_refused_recipients_bounce_and_connection_failures_retry_then_fail(at, settings):
    settings.EMAIL_BACKEND = "tests.surveys.test_sending.FlakyBackend"
    CustomerFactory(email="refused@example.com", name="refused")
    CustomerFactory(email="down@example.com", name="down")
    CustomerFactory(email="fine@example.com", name="fine")
    start = timezone.now()
    campaign = email_campaign()
    at(start, services.campaign_launch, campaign=campaign)
    by_name = {i.customer.name: i for i in Invitation.objects.select_related("customer")}
    assert by_name["refused"].status == "bounced" and "no such user" in by_name["refused"].last_error
    assert by_name["fine"].status == "sent"
    down = by_name["down"]
    assert (down.status, down.attempts) == ("queued", 1)
    assert down.send_after > start + timedelta(minutes=4)

    for minutes in (6, 30):  # retries after 5, then 15 more minutes; the third failure is final
        at(start + timedelta(minutes=minutes), services.survey_sweep)
    down.refresh_from_db()
    assert (down.status, down.attempts) == ("failed", 3) and down.failed_at
    funnel = campaign_funnel(campaign, timezone.now())
    assert funnel["by_status"]["bounced"] == 1 and funnel["by_status"]["failed"] == 1
    assert funnel["funnel"]["delivered"] == 1


def test_answering_completes_the_invitation_and_records_a_customer_event_once(at):
    customer = CustomerFactory()
    campaign = email_campaign()
    at(timezone.now(), services.campaign_launch, campaign=campaign)
    invitation = Invitation.objects.get()
    services.invitation_open(invitation=invitation)
    assert Invitation.objects.get().status == "opened"

    partial = answer(invitation, score="", comment="started typing", submit=False)
    assert not partial.completed and not partial.errors
    failed = answer(invitation, score=11, comment="kept")
    assert list(failed.errors.values()) == ["Choose a score from 0 to 10."]
    response = Response.objects.get()
    assert response.completed_at is None
    assert [a.text for a in response.answers.all()] == ["kept"]

    result = answer(invitation, score=4, comment="slow delivery")
    assert result.completed
    with pytest.raises(services.SurveyClosed) as again:
        answer(invitation, score=10)
    assert again.value.reason == "answered"
    assert Response.objects.count() == 1
    assert [a.value for a in Response.objects.get().answers.order_by("question__position")] == [
        4,
        "slow delivery",
    ]
    invitation.refresh_from_db()
    assert invitation.status == "answered" and invitation.answered_at
    event = Event.objects.get(kind="survey_answered")
    assert event.customer == customer
    assert event.data | {} == {
        "survey": campaign.survey_id,
        "campaign": campaign.pk,
        "response": response.pk,
        "invitation": invitation.pk,
        "scores": {"nps": 4},
        "nps_category": "detractor",
        "detractor": True,
    }
    funnel = campaign_funnel(campaign, timezone.now())
    assert funnel["funnel"] == {"invited": 1, "delivered": 1, "opened": 1, "answered": 1}
    assert funnel["response_rate"] == 1.0


def test_unsubscribing_stops_emails_from_every_campaign(at):
    customer = CustomerFactory(name="c")
    first = email_campaign(reminder_count=1, reminder_every_days=2)
    at(timezone.now(), services.campaign_launch, campaign=first)
    second = email_campaign()
    at(timezone.now(), services.campaign_launch, campaign=second)  # deferred by quarantine
    services.invitation_unsubscribe(invitation=Invitation.objects.get(campaign=first))
    services.invitation_unsubscribe(invitation=Invitation.objects.get(campaign=first))  # twice: no harm

    assert SurveyOptOut.objects.get().customer == customer
    assert Invitation.objects.get(campaign=first).status == "unsubscribed"
    later = Invitation.objects.get(campaign=second)
    assert (later.status, later.held_back_reason) == ("held_back", "unsubscribed")
    third = email_campaign()
    at(timezone.now(), services.campaign_launch, campaign=third)
    assert Invitation.objects.get(campaign=third).held_back_reason == "unsubscribed"
    at(timezone.now() + timedelta(days=40), services.survey_sweep)
    assert len(mail.outbox) == 1


def test_unanswered_invitations_expire_and_a_one_off_campaign_then_finishes(at):
    CustomerFactory.create_batch(2)
    start = timezone.now()
    campaign = email_campaign(expires_after_days=7)
    at(start, services.campaign_launch, campaign=campaign)
    answer(Invitation.objects.first())
    at(start + timedelta(days=6), services.survey_sweep)
    campaign.refresh_from_db()
    assert campaign.status == "running"
    report = at(start + timedelta(days=7, minutes=1), services.survey_sweep)
    assert report["expired"] == 1 and report["finished"] == 1
    assert sorted(Invitation.objects.values_list("status", flat=True)) == ["answered", "expired"]
    campaign.refresh_from_db()
    assert campaign.status == "finished" and campaign.finished_at
    expired = Invitation.objects.get(status="expired")
    assert services.invitation_state(expired) == "expired"
    with pytest.raises(services.SurveyClosed):
        answer(expired)


def test_two_deferred_invitations_of_one_customer_due_together_send_one_and_defer_the_other(at):
    customer = CustomerFactory()
    start = timezone.now()
    at(start, services.campaign_launch, campaign=email_campaign(name="A"))
    at(start + timedelta(days=1), services.campaign_launch, campaign=email_campaign(name="B"))
    at(start + timedelta(days=2), services.campaign_launch, campaign=email_campaign(name="C"))
    mail.outbox.clear()

    at(start + timedelta(days=30, hours=1), services.survey_sweep)  # B and C fall due in one chunk
    assert len(mail.outbox) == 1
    sent = Invitation.objects.get(customer=customer, campaign__name__in=["B", "C"], status="sent")
    waiting = Invitation.objects.get(customer=customer, campaign__name__in=["B", "C"], status="queued")
    assert waiting.held_back_reason == "quarantined"
    assert waiting.send_after == sent.sent_at + timedelta(days=30)
    at(waiting.send_after + timedelta(minutes=1), services.survey_sweep)
    assert len(mail.outbox) == 2


def build_without_sending(campaign, moment):
    """Launch and build a campaign's invitations, leaving them queued: no on-commit work runs."""
    with time_machine.travel(moment):
        services.campaign_launch(campaign=campaign)
        services.campaign_run(campaign_id=campaign.pk)
    return list(Invitation.objects.filter(campaign=campaign).order_by("pk"))


@pytest.mark.parametrize("defer", [True, False])
def test_a_claim_refused_by_another_workers_email_in_flight_defers_or_holds_back(at, defer):
    customer = CustomerFactory()
    start = timezone.now()
    (in_flight,) = build_without_sending(email_campaign(name="A"), start)
    # Another worker has claimed it and is sending it right now: nothing is "sent" yet, so only the
    # claim, under the customer's lock, can see it.
    Invitation.objects.filter(pk=in_flight.pk).update(status=InvitationStatus.SENDING, claimed_at=start)

    at(start + timedelta(minutes=1), services.campaign_launch, campaign=email_campaign(defer_held_back=defer))

    assert not mail.outbox
    later = Invitation.objects.exclude(pk=in_flight.pk).get(customer=customer)
    assert (later.held_back_reason, later.attempts) == ("quarantined", 0)
    if defer:
        assert later.status == "queued" and later.send_after == start + timedelta(days=30)
    else:
        assert later.status == "held_back" and later.held_back_at


class StopsTheCampaign(EmailBackend):
    """The outbox, and meanwhile campaign "Stopped" is stopped: what it has queued is cancelled."""

    def send_messages(self, messages):
        stopped = Invitation.objects.filter(campaign__name="Stopped", status=InvitationStatus.QUEUED)
        stopped.update(status=InvitationStatus.CANCELLED)
        return super().send_messages(messages)


@pytest.mark.parametrize("quarantine_days", [30, 0])
def test_a_claim_refused_because_the_invitation_changed_skips_it(settings, quarantine_days):
    ContactPolicy.objects.update_or_create(pk=1, defaults={"quarantine_days": quarantine_days})
    settings.EMAIL_BACKEND = "tests.surveys.test_sending.StopsTheCampaign"
    CustomerFactory.create_batch(2)
    first, second = build_without_sending(email_campaign(name="Stopped"), timezone.now())

    counts = services.invitations_send(invitation_ids=[first.pk, second.pk])

    assert counts == {"sent": 1, "skipped": 1} and len(mail.outbox) == 1
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, first.attempts) == ("sent", 1)
    assert (second.status, second.attempts) == ("cancelled", 0)


@pytest.mark.django_db(transaction=True)
def test_claims_in_transactions_of_their_own_send_defer_and_skip_as_inside_one(settings):
    """The worker's case (no surrounding transaction): on PostgreSQL each claim is a transaction of
    its own, BEGIN to COMMIT in one round trip, and a refused one is looked into under the lock
    taken again."""
    settings.EMAIL_BACKEND = "tests.surveys.test_sending.StopsTheCampaign"
    start = timezone.now()
    deferring, elsewhere, stopping = email_campaign(), email_campaign(), email_campaign(name="Stopped")
    busy, free, stopped = CustomerFactory.create_batch(3)
    Invitation.objects.create(
        campaign=elsewhere, customer=busy, language="en", status=InvitationStatus.SENDING, claimed_at=start
    )
    waiting = Invitation.objects.create(campaign=deferring, customer=busy, language="en")
    sent = Invitation.objects.create(campaign=deferring, customer=free, language="en")
    cancelled = Invitation.objects.create(campaign=stopping, customer=stopped, language="en")

    counts = services.invitations_send(invitation_ids=[waiting.pk, sent.pk, cancelled.pk])

    assert counts == {"deferred": 1, "sent": 1, "skipped": 1} and mail.outbox[0].to == [free.email]
    waiting.refresh_from_db(), sent.refresh_from_db(), cancelled.refresh_from_db()
    assert (waiting.status, waiting.held_back_reason) == ("queued", "quarantined")
    assert waiting.send_after == start + timedelta(days=30)
    assert (sent.status, sent.attempts, cancelled.status) == ("sent", 1, "cancelled")


def test_invitation_emails_are_written_as_django_writes_them():
    """InvitationEmails writes its messages itself (surveys/services/mail.py): the same bytes as
    Django's message().as_bytes(), but for the MIME boundary's random number and the Date."""
    from django.core.mail import EmailMultiAlternatives

    from surveys.services.mail import InvitationEmails

    start = timezone.now()
    plain = email_campaign()
    own_subject = email_campaign(email_subject={"en": "How did we do? " * 6, "ru": "Как мы справились?"})
    for number, name in enumerate(["Ann", "Анна Ж.", "<b>O'Brien & Sons</b>", "Ö" * 200]):
        CustomerFactory(name=name, language=["en", "ru"][number % 2])
    invitations = build_without_sending(plain, start) + build_without_sending(own_subject, start)
    invitations = Invitation.objects.filter(pk__in=[i.pk for i in invitations]).select_related(
        "customer", "campaign"
    )
    emails = InvitationEmails()
    unify = re.compile(rb"={15}\d{19}==|Date: [^\r\n]*")

    def same_as_djangos(email):
        djangos = EmailMultiAlternatives.message(email).as_bytes(linesep="\r\n")
        for linesep in ("\r\n", "\n"):
            expected = djangos.replace(b"\r\n", linesep.encode())
            assert unify.sub(b"", email.message().as_bytes(linesep=linesep)) == unify.sub(b"", expected)

    for invitation in invitations:
        invitation.expires_at = start + timedelta(days=30)
        for reminder in (0, 1):
            same_as_djangos(emails.email(invitation, reminder=reminder))
    email = emails.email(invitations[0])
    email.body += "y" * 1000  # a line over 998 bytes: Django's quoted-printable, not ours
    same_as_djangos(email)


class RecordingSMTP:
    """An open SMTP session's sendmail(), recorded."""

    def __init__(self):
        self.sent = []

    def sendmail(self, sender, recipients, data):
        self.sent.append((sender, recipients, re.sub(rb"={15}\d{19}==|Date: [^\r\n]*", b"", data)))


def test_an_invitation_goes_over_an_open_smtp_session_as_djangos_smtp_backend_sends_it():
    from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

    from surveys.services.mail import InvitationEmails, send

    addresses = ["anna@example.com", "o'brien+cx@mail.example.co.uk", "ünal@exämple.com", "a.b@[127.0.0.1]"]
    for address in addresses:
        CustomerFactory(email=address)
    backend = SMTPBackend()
    backend.connection = RecordingSMTP()
    emails = InvitationEmails()
    for invitation in build_without_sending(email_campaign(), timezone.now()):
        email = emails.email(invitation)
        send(email, backend)
        backend._send(email)  # what email.send() does on an open connection
        ours, djangos = backend.connection.sent[-2:]
        assert ours == djangos
    assert [recipients for _, recipients, _ in backend.connection.sent[::2]] == [
        ["anna@example.com"],
        ["o'brien+cx@mail.example.co.uk"],
        ["=?utf-8?b?w7xuYWw=?=@xn--exmple-cua.com"],
        ["a.b@[127.0.0.1]"],
    ]
