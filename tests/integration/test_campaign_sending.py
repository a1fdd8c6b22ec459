"""A campaign's emails survive a worker killed with SIGKILL in the middle of sending.

The design under test is in surveys/services/sending.py's docstring. Here it meets real processes: a
Celery worker (--pool=solo) on the configured broker and database, and a real SMTP server on loopback
counting what it receives. Three rounds, each a fresh campaign; in each the worker is killed while a
message is in flight (the SMTP server has received it, the worker has not yet heard "250 OK"), after
~10%, ~50% and ~90% of the audience. A new worker is started and the sweep run until the campaign is
sent. Then: everyone eligible got the invitation, nobody held back got anything, the only message
received twice is the one in flight at the kill, with the same Message-ID, and the ledger agrees.
"""

import os
import signal
import threading
import time
from collections import Counter

import pytest

from customers.models import ConsentChannel, Customer
from surveys import services
from surveys.models import (
    PENDING_STATUSES,
    Campaign,
    HeldBackReason,
    Invitation,
    InvitationStatus,
    SurveyOptOut,
)
from surveys.tasks import survey_sweep_task
from tests.factories import CustomerFactory, active_survey, email_campaign

from .conftest import Worker, Workers
from .smtp_sink import Received, SmtpSink

pytestmark = pytest.mark.integration

ELIGIBLE = 240
KILL_AT = (0.1, 0.5, 0.9)  # share of the eligible audience received when the worker is killed
STALE_SECONDS = 2  # "sending" this long with no worker to finish it: put back in the queue
WORKER_ENV = {
    "SURVEY_SEND_CHUNK": "20",
    "SURVEY_SENDING_STALE_SECONDS": str(STALE_SECONDS),
    "SURVEY_REDISPATCH_SECONDS": str(STALE_SECONDS),
}
ROUND_DEADLINE_SECONDS = 30
SWEEP_EVERY_SECONDS = 1.0


class KillInFlight:
    """The SMTP server's hook: SIGKILL the worker when the round's `threshold`-th message arrives."""

    def __init__(self):
        self.threshold, self.worker, self.in_flight = 0, None, None
        self.done = threading.Event()

    def arm(self, *, threshold: int, worker: Worker) -> None:
        self.threshold, self.worker, self.in_flight = threshold, worker, None
        self.done.clear()

    def __call__(self, count: int, message: Received) -> None:
        if self.worker is not None and count == self.threshold and self.in_flight is None:
            self.in_flight = message
            # Before the server answers "250 OK": the worker dies between its send and its
            # "mark sent", leaving the invitation "sending", the one case that can deliver twice.
            os.kill(self.worker.pid, signal.SIGKILL)
            self.done.set()


def test_a_campaign_is_sent_in_full_through_workers_killed_mid_send(workers: Workers):
    kill = KillInFlight()
    with SmtpSink(on_message=kill) as sink:
        env = {**WORKER_ENV, "EMAIL_URL": sink.url}
        worker = workers.start(**env)
        survey = active_survey()
        for number, share in enumerate(KILL_AT, 1):
            sink.clear()
            eligible, held_back = make_audience(number)
            campaign = email_campaign(
                survey, everyone=False, customers=[c.pk for c in [*eligible, *held_back]]
            )
            kill.arm(threshold=round(ELIGIBLE * share), worker=worker)

            # Eager mode is off: the launch's on_commit sends campaign_run_task through the broker.
            services.campaign_launch(campaign=campaign)
            wait_until_killed(kill, round_=number)
            worker = workers.start(**env)  # the next round's worker too
            sweep_until_sent(campaign, worker, round_=number)

            check_round(number, campaign, eligible, held_back, sink.received(), kill.in_flight)


def make_audience(number: int) -> tuple[list[Customer], dict[Customer, str]]:
    """Fresh customers for each round (so no quarantine carries over): the eligible, and a few held
    back for each reason, with the reason the ledger must give."""
    eligible = Customer.objects.bulk_create(
        CustomerFactory.build(email=f"r{number}.c{i}@example.com") for i in range(ELIGIBLE)
    )
    reasons = [
        (
            CustomerFactory.build(email=f"r{number}.refused@example.com", survey_consent=False),
            HeldBackReason.NO_CONSENT,
        ),
        (
            CustomerFactory.build(
                email=f"r{number}.sms@example.com", survey_consent_channel=ConsentChannel.SMS
            ),
            HeldBackReason.NO_CONSENT,
        ),
        (CustomerFactory.build(email=""), HeldBackReason.NO_EMAIL),
        (CustomerFactory.build(email=""), HeldBackReason.NO_EMAIL),
        (CustomerFactory.build(email=f"r{number}.optout@example.com"), HeldBackReason.UNSUBSCRIBED),
    ]
    Customer.objects.bulk_create(customer for customer, _ in reasons)
    SurveyOptOut.objects.bulk_create(
        SurveyOptOut(customer=customer)
        for customer, reason in reasons
        if reason == HeldBackReason.UNSUBSCRIBED
    )
    reasons = {customer: reason for customer, reason in reasons}  # saved now, so hashable
    return eligible, reasons


def wait_until_killed(kill: KillInFlight, *, round_: int) -> None:
    deadline = time.monotonic() + ROUND_DEADLINE_SECONDS
    while not kill.done.wait(0.1):
        if kill.worker.process.poll() is not None:
            pytest.fail(
                f"round {round_}: the worker exited ({kill.worker.process.returncode}) before the kill"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"round {round_}: the SMTP server got fewer than {kill.threshold} messages in time")
    assert kill.worker.process.wait(timeout=10) == -signal.SIGKILL


def sweep_until_sent(campaign: Campaign, worker: Worker, *, round_: int) -> None:
    """Send the periodic sweep (beat's job) to the new worker until nothing is left to send."""
    deadline = time.monotonic() + ROUND_DEADLINE_SECONDS
    next_sweep = 0.0
    pending = Invitation.objects.filter(campaign=campaign, status__in=PENDING_STATUSES)
    while pending.exists():
        now = time.monotonic()
        if now > deadline:
            left = Counter(pending.values_list("status", flat=True))
            pytest.fail(f"round {round_}: still {dict(left)} after {ROUND_DEADLINE_SECONDS} s")
        if worker.process.poll() is not None:
            pytest.fail(f"round {round_}: the new worker exited ({worker.process.returncode})")
        if now >= next_sweep:
            survey_sweep_task.delay()
            next_sweep = now + SWEEP_EVERY_SECONDS
        time.sleep(0.1)


def check_round(
    number: int,
    campaign: Campaign,
    eligible: list[Customer],
    held_back: dict[Customer, str],
    received: list[Received],
    in_flight: Received,
) -> None:
    where = f"round {number}, killed with {in_flight.message_id} in flight"
    invitations = {i.customer_id: i for i in Invitation.objects.filter(campaign=campaign)}
    assert len(invitations) == ELIGIBLE + len(held_back), where

    # Nothing lost, nothing to the wrong people: exactly the eligible customers got mail.
    assert {address for message in received for address in message.to} == {c.email for c in eligible}, where

    # Each message carries its invitation's Message-ID, the same on every copy; the only one that
    # arrived twice is the one in flight at the kill.
    expected_id = {c.email: invitations[c.pk].message_id for c in eligible}
    assert [m.message_id for m in received] == [expected_id[m.to[0]] for m in received], where
    twice = {mid: n for mid, n in Counter(m.message_id for m in received).items() if n > 1}
    assert twice == {in_flight.message_id: 2}, where
    assert len(received) == ELIGIBLE + 1, where

    # The ledger: sent for the eligible, claimed twice only for the one in flight; held back with
    # the right reason for the rest; nothing left queued or "sending".
    assert {invitations[c.pk].status for c in eligible} == {InvitationStatus.SENT}, where
    assert all(invitations[c.pk].sent_at for c in eligible), where
    attempts = Counter(invitations[c.pk].attempts for c in eligible)
    assert attempts == {1: ELIGIBLE - 1, 2: 1}, where
    resent = next(c for c in eligible if invitations[c.pk].attempts == 2)
    assert invitations[resent.pk].message_id == in_flight.message_id, where
    assert {c.pk: (invitations[c.pk].status, invitations[c.pk].held_back_reason) for c in held_back} == {
        c.pk: (InvitationStatus.HELD_BACK, reason) for c, reason in held_back.items()
    }, where
    assert not Invitation.objects.filter(campaign=campaign, status__in=PENDING_STATUSES).exists(), where
