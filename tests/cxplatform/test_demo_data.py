from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.core import mail
from django.core.management import CommandError, call_command
from django.db.models import F, Q
from django.utils import timezone

from customers.models import ClientType, Customer, EventKind, LifecycleStage, Segment
from cxplatform.management.commands import demo_data
from feedback.models import ClockState, FeedbackItem, ItemStatus, SlaClock
from surveys.models import Answer, Campaign, Invitation, Response, Survey
from surveys.selectors import campaign_dry_run, campaign_funnel

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path, monkeypatch):
    settings.DEBUG = True
    monkeypatch.setattr(demo_data, "PASSWORD_FILE", tmp_path / "demo-login.txt")
    return tmp_path / "demo-login.txt"


def test_demo_has_every_client_type_and_stage_sensible_segments_and_working_logins(demo, capsys, rf):
    call_command("demo_data")
    printed = capsys.readouterr().out
    password = demo.read_text().strip()
    assert f"Log in as admin / {password}" in printed
    for slug in ClientType.objects.filter(is_builtin=True).values_list("slug", flat=True):
        for stage in LifecycleStage.values:
            assert Customer.objects.filter(client_type__slug=slug, lifecycle_stage=stage).exists(), (
                slug,
                stage,
            )
    sizes = dict(Segment.objects.values_list("name", "member_count"))
    assert all(0 < size < Customer.objects.count() / 2 for size in sizes.values()), sizes
    assert Survey.objects.filter(status="active").exists()
    for username in ("admin", "support", "cxlead", "executive"):
        assert authenticate(rf.post("/admin/login/"), username=username, password=password)

    assert_campaigns_tell_a_realistic_story()
    assert_feedback_is_in_every_state()
    ledger = Invitation.objects.count(), Response.objects.count(), FeedbackItem.objects.count()

    call_command("demo_data")  # again: nothing doubles, the same login still works
    assert Customer.objects.count() == 240 and Survey.objects.count() == 3
    assert (Invitation.objects.count(), Response.objects.count(), FeedbackItem.objects.count()) == ledger
    assert Campaign.objects.count() == 4
    assert password in capsys.readouterr().out


def assert_feedback_is_in_every_state():
    """Items in every status, paused and breached clocks, negative reviews, detractors followed up."""
    assert set(FeedbackItem.objects.values_list("status", flat=True)) == set(ItemStatus.values)
    assert SlaClock.objects.filter(state=ClockState.PAUSED).exists()
    assert SlaClock.objects.filter(breached_at__isnull=False).exists()
    assert FeedbackItem.objects.filter(kind="review", review_rating__lte=2).exists()
    assert FeedbackItem.objects.filter(origin_event__isnull=False).exists()


def assert_campaigns_tell_a_realistic_story():
    """Finished NPS and CSAT campaigns with answers, a running monthly NPS, a link; ledger dates
    that make sense; answers over months; nothing mailed out of the replay."""
    now = timezone.now()
    assert not mail.outbox  # the replay mails into memory and throws it away
    campaigns = {c.name: c for c in Campaign.objects.select_related("survey")}
    kinds = Counter((c.kind, c.channel, c.status) for c in campaigns.values())
    assert kinds == {
        ("one_off", "email", "finished"): 2,
        ("recurring", "email", "running"): 1,
        ("one_off", "link", "running"): 1,
    }
    for campaign in campaigns.values():
        funnel = campaign_funnel(campaign, now)
        if campaign.channel == "email":
            assert 0.3 <= funnel["response_rate"] <= 0.65, (campaign.name, funnel)
            assert funnel["held_back"]["no_consent"] and funnel["reminded"] and funnel["by_status"]["expired"]
        assert funnel["responses"]["complete"] >= 8, (campaign.name, funnel)
    recurring = next(c for c in campaigns.values() if c.kind == "recurring")
    assert recurring.runs == 3 and recurring.next_run_at > now

    nps = Answer.objects.filter(question__kind="nps", response__completed_at__isnull=False)
    scores = Counter(nps.values_list("score", flat=True))
    share = sum(n for score, n in scores.items() if score >= 9) / sum(scores.values())
    assert 0.3 <= share <= 0.5 and set(scores) & {0, 1, 2, 3, 4, 5, 6} and set(scores) & {7, 8}
    assert Answer.objects.filter(question__kind="csat").exists()
    comments = Answer.objects.exclude(text="").select_related("response")
    assert {c.response.language for c in comments} == {"en", "ru"}
    assert any("а" <= ch <= "я" for c in comments for ch in c.text.lower())
    months = {r.completed_at.strftime("%Y-%m") for r in Response.objects.filter(completed_at__isnull=False)}
    assert len(months) >= 4
    assert (
        Response.objects.filter(customer__isnull=True, completed_at__isnull=False).count() >= 10
    )  # the link

    # The ledger's steps follow each other, all in the past; each answer is on the timeline.
    answered = Invitation.objects.filter(status="answered")
    assert (
        answered.filter(
            Q(sent_at__gt=F("opened_at"))
            | Q(opened_at__gt=F("answered_at"))
            | Q(answered_at__gt=F("expires_at"))
        ).count()
        == 0
    )
    assert not Invitation.objects.filter(Q(sent_at__gt=now) | Q(answered_at__gt=now)).exists()
    assert Customer.objects.filter(events__kind=EventKind.SURVEY_ANSWERED).count() == answered.count()
    # A CX lead trying a campaign of their own on a segment still finds customers to send to.
    segment = Segment.objects.get(name="Undecided askers")
    trial = Campaign(survey=recurring.survey, name="Trial")
    trial.save()
    trial.segments.set([segment])
    assert campaign_dry_run(trial, now)["would_send"] > 5
    trial.delete()


def test_demo_data_refuses_to_run_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_data")
