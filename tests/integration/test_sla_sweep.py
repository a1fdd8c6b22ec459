"""The beat's SLA sweep on a real worker: a breached item's notices reach the assignee and the lead
over SMTP once, however many times the sweep runs."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from feedback import services
from feedback.models import BusinessCalendar, SlaClock, SlaNotification, SlaPolicy
from feedback.tasks import sla_sweep_task
from tests.factories import CustomerFactory

from .conftest import wait_for
from .smtp_sink import SmtpSink

pytestmark = pytest.mark.integration


def test_a_breach_is_notified_once_by_the_worker(workers):
    agent = User.objects.create_user("agent", "agent@example.com")
    lead = User.objects.create_user("lead", "lead@example.com")
    always = BusinessCalendar.objects.create(name="24/7", always_open=True, time_zone="UTC")
    SlaPolicy.objects.create(
        name="Fast",
        calendar=always,
        first_response_minutes=1,
        resolution_minutes=2,
        lead=lead,
        escalate_to_priority="urgent",
    )
    logged = timezone.now() - timedelta(minutes=5)
    item = services.item_create(
        data={
            "kind": "complaint",
            "channel": "phone",
            "customer": CustomerFactory(),
            "subject": "Late",
            "description": "Late again.",
            "assignee": agent,
        },
        now=logged,
    )

    with SmtpSink() as sink:
        worker = workers.start(EMAIL_URL=sink.url)
        sla_sweep_task.apply_async(queue=worker.queue)
        wait_for(
            lambda: SlaNotification.objects.filter(sent_at__isnull=False).count() == 6 or None,
            worker,
            "six notices sent",
        )  # 2 warnings to the agent, 2 breaches each to agent and lead
        sla_sweep_task.apply_async(queue=worker.queue)  # again: finds nothing new, sends nothing
        wait_for(lambda: len(sink.received()) >= 6 or None, worker, "six e-mails received")
        time.sleep(2)  # room for a duplicate to arrive, if the second sweep were to send one
        received = sink.received()

    assert len(received) == 6
    assert [m.to for m in received].count(("lead@example.com",)) == 2
    assert SlaClock.objects.filter(item=item, breached_at__isnull=False).count() == 2
    item.refresh_from_db()
    assert item.priority == "urgent"
