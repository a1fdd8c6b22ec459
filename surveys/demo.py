"""Demo surveys and campaigns for `make run`: the three templates' surveys, and campaigns that have
been at work for months (a finished one-off NPS and CSAT, a monthly relationship NPS still running,
an anonymous CES link), with realistic answers from the demo customers.

The past is replayed through the real services with the clock moved back (time_machine): the
periodic sweep runs once a day as beat would (building waves, sending, deferring the quarantined,
reminding, expiring, finishing), and each customer opens, answers, unsubscribes or bounces at a
moment of their own. So the ledger, the answers and the customers' "survey answered" events carry
consistent dates, and reports see trends. Tasks run inline and mail goes to locmem during the
replay, never to var/mail. Deterministic (seeded); loaded once.
"""

import heapq
import itertools
import logging
import random
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db.models import Min, Q
from django.test.utils import override_settings
from django.utils import timezone

from customers.models import Segment
from cxplatform import celery_app

from . import services
from .models import OPEN_STATUSES, Campaign, Invitation, InvitationStatus, Survey

DEMO_SURVEYS = [
    ("nps", "Relationship NPS", Survey.Status.ACTIVE),
    ("csat", "CSAT after support", Survey.Status.ACTIVE),
    ("ces", "CES of returns", Survey.Status.ACTIVE),
]


@dataclass(frozen=True)
class DemoCampaign:
    days_ago: int  # launched
    name: str
    survey: str
    fields: dict
    answer_rate: float = 0.45
    # Per wave: the shares of happy and unhappy answers (NPS: promoters and detractors).
    feelings: tuple = ((0.40, 0.28),)


CAMPAIGNS = [
    DemoCampaign(
        150,
        "NPS check-in, all buyers",
        "Relationship NPS",
        {
            "lifecycle_stages": ["purchase", "loyalty"],
            "reminder_count": 1,
            "reminder_every_days": 5,
            "expires_after_days": 21,
            "email_subject": {"en": "How are we doing?", "ru": "Как у нас дела?"},
        },
        answer_rate=0.46,
        feelings=((0.42, 0.27),),
    ),
    DemoCampaign(
        105,
        "CSAT after complaint handling",
        "CSAT after support",
        {
            "segments": ["Complained recently"],
            "reminder_count": 1,
            "reminder_every_days": 3,
            "expires_after_days": 14,
        },
        answer_rate=0.52,
        feelings=((0.55, 0.2),),
    ),
    DemoCampaign(
        80,
        "Relationship NPS, monthly",
        "Relationship NPS",
        {
            "kind": Campaign.Kind.RECURRING,
            "repeat_every_days": 30,
            "lifecycle_stages": ["loyalty"],
            "reminder_count": 1,
            "reminder_every_days": 5,
        },
        answer_rate=0.48,
        feelings=((0.30, 0.40), (0.40, 0.30), (0.50, 0.20)),  # follow-ups on detractors start to pay off
    ),
    DemoCampaign(
        40,
        "Returns page CES link",
        "CES of returns",
        {"channel": Campaign.Channel.LINK},
        feelings=((0.5, 0.2),),
    ),
]
LINK_RESPONSES = 30
SWEEP_HOUR = 9  # beat sweeps every minute; once a day is enough for a story told in days

# How client types (DOMAIN.md) tend to answer: more or less often, happier or not.
ANSWER_LIKELIHOOD = {"loyal": 0.15, "demanding": 0.1, "control-freak": 0.05, "doubting": -0.1}
LEANS = {"loyal": "good", "demanding": "bad", "control-freak": "bad"}
SCORES = {
    "nps": {"good": [9, 10, 10], "mid": [7, 8, 8], "bad": [0, 2, 3, 4, 5, 5, 6, 6, 6]},
    "csat": {"good": [5, 5, 4], "mid": [4, 3, 3], "bad": [1, 2, 2]},
    "ces": {"good": [1, 1, 2], "mid": [2, 3], "bad": [4, 5]},  # effort: lower is better
}

COMMENTS = {
    ("good", "en"): [
        "Fast delivery and friendly staff.",
        "Always helpful on the phone, thank you!",
        "Good prices and the app is easy to use.",
        "I recommend you to all my colleagues.",
        "The manager solved my problem the same day.",
        "Returning the item was quick and simple.",
    ],
    ("good", "ru"): [
        "Быстрая доставка и вежливые сотрудники.",
        "Всегда помогают по телефону, спасибо!",
        "Удобное приложение и хорошие цены.",
        "Рекомендую вас всем друзьям.",
        "Менеджер решил мой вопрос в тот же день.",
        "Вернуть товар было быстро и просто.",
    ],
    ("mid", "en"): [
        "Fine overall, but delivery could be faster.",
        "Good products; the website search is clumsy.",
        "Resolved, but it took several calls.",
        "OK, though prices went up this year.",
    ],
    ("mid", "ru"): [
        "В целом хорошо, но доставка могла бы быть быстрее.",
        "Хорошие товары, но поиск на сайте неудобный.",
        "Вопрос решили, но пришлось звонить несколько раз.",
        "Неплохо, хотя цены в этом году выросли.",
    ],
    ("bad", "en"): [
        "My order arrived late twice and nobody called back.",
        "Impossible to get through to the call centre.",
        "I had to explain the problem three times.",
        "Too many forms to fill in for a simple return.",
    ],
    ("bad", "ru"): [
        "Заказ дважды опоздал, и никто не перезвонил.",
        "Невозможно дозвониться в колл-центр.",
        "Пришлось трижды объяснять проблему.",
        "Слишком много бланков для простого возврата.",
    ],
}


def load(seed: int = 2026) -> str:
    lines = [_surveys()]
    if Campaign.objects.filter(name__in=[spec.name for spec in CAMPAIGNS]).exists():
        return "\n".join([*lines, "Demo campaigns are already there."])
    Replay(random.Random(seed), timezone.now()).run()
    answered = Invitation.objects.filter(status=InvitationStatus.ANSWERED).count()
    lines.append(
        f"Loaded {len(CAMPAIGNS)} demo campaigns: {Invitation.objects.count()} invitations, "
        f"{answered} answered, plus anonymous answers to the link."
    )
    return "\n".join(lines)


def _surveys() -> str:
    made = 0
    for template, name, status in DEMO_SURVEYS:
        survey = Survey.objects.filter(name=name).first()
        if survey is None:
            survey, made = services.survey_from_template(template=template, name=name), made + 1
        if survey.status == Survey.Status.DRAFT:
            services.survey_save(survey=survey, data={"status": status})
    return f"Loaded {made} demo surveys." if made else "Demo surveys are already there."


@contextmanager
def _offline():
    """Tasks inline and mail kept in memory while the past is replayed."""
    eager, kept = celery_app.conf.task_always_eager, len(getattr(mail, "outbox", []))
    trace = logging.getLogger("celery.app.trace")  # one "Task ... succeeded" line per inline task
    level = trace.level
    celery_app.conf.task_always_eager = True
    trace.setLevel(logging.WARNING)
    try:
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            yield
    finally:
        celery_app.conf.task_always_eager = eager
        trace.setLevel(level)
        del mail.outbox[kept:]  # the replay's mail is not anybody's to read


class Replay:
    def __init__(self, rng: random.Random, now: datetime):
        self.rng, self.now = rng, now
        self.agenda: list = []  # (moment, sequence, action, arguments): what customers do, in order
        self.sequence = itertools.count()
        self.specs: dict[int, DemoCampaign] = {}
        self.questions: dict[int, list] = {}
        self.decks: dict[tuple[int, int], list[str]] = {}

    def at(self, moment: datetime, action, *args):
        if moment < self.now:  # what would happen after today has not happened yet
            heapq.heappush(self.agenda, (moment, next(self.sequence), action, args))

    def run(self) -> None:
        with _offline():
            start = self.now - timedelta(days=max(spec.days_ago for spec in CAMPAIGNS))
            launches = sorted(
                (
                    (self.now - timedelta(days=spec.days_ago, hours=-self.rng.randint(1, 6)), spec)
                    for spec in CAMPAIGNS
                ),
                key=lambda launch: launch[0],
            )
            day = start.replace(hour=SWEEP_HOUR, minute=0, second=0, microsecond=0)
            while day < self.now:
                while launches and launches[0][0] <= day:
                    launched_at, spec = launches.pop(0)
                    self.until(launched_at)
                    self.launch(launched_at, spec)
                self.until(day)
                if (due := self.next_due()) and due <= day:  # beat's sweep would find work today
                    self.sweep(day)
                day += timedelta(days=1)
            self.until(self.now)
            self.sweep(self.now)  # today's: nothing due is left for the worker to mail to var/mail

    def until(self, moment: datetime) -> None:
        while self.agenda and self.agenda[0][0] <= moment:
            when, _, action, args = heapq.heappop(self.agenda)
            with time_machine.travel(when, tick=False):
                action(*args)

    def next_due(self) -> datetime | None:
        """The first moment the sweep has something to do: a run, a send, a reminder, an expiry."""
        due = Invitation.objects.aggregate(
            send=Min("send_after", filter=Q(status=InvitationStatus.QUEUED)),
            remind=Min("next_reminder_at", filter=Q(status__in=OPEN_STATUSES)),
            expire=Min("expires_at", filter=Q(status__in=OPEN_STATUSES)),
        )
        runs = Campaign.objects.filter(status__in=(Campaign.Status.SCHEDULED, Campaign.Status.RUNNING))
        due["run"] = runs.aggregate(run=Min("next_run_at"))["run"]
        return min((moment for moment in due.values() if moment), default=None)

    def launch(self, moment: datetime, spec: DemoCampaign) -> None:
        survey = Survey.objects.get(name=spec.survey)
        data = {"name": spec.name, "survey": survey, **spec.fields}
        if "segments" in data:
            data["segments"] = list(Segment.objects.filter(name__in=data["segments"]))
            if not data["segments"]:
                return  # the demo segment was renamed or deleted: nobody to ask
        with time_machine.travel(moment, tick=False):
            campaign = services.campaign_launch(campaign=services.campaign_save(data=data))
        self.specs[campaign.pk] = spec
        self.questions[campaign.pk] = list(survey.questions.order_by("position"))
        if campaign.channel == Campaign.Channel.LINK:
            for _ in range(LINK_RESPONSES):
                self.at(moment + (self.now - moment) * self.rng.random(), self.anonymous, campaign)
        else:
            self.sweep(moment + timedelta(minutes=1))  # the launch's run, as the worker does at once

    def sweep(self, moment: datetime) -> None:
        with time_machine.travel(moment, tick=False):
            services.survey_sweep()
        sent = Invitation.objects.filter(status=InvitationStatus.SENT, sent_at__gte=moment, reminders_sent=0)
        for invitation in sent.select_related("campaign", "customer__client_type").order_by("pk"):
            self.plan(invitation)

    # --- what each customer does with the invitation -------------------------------------------

    def plan(self, invitation: Invitation) -> None:
        rng, campaign, sent = self.rng, invitation.campaign, invitation.sent_at
        slug = invitation.customer.client_type.slug if invitation.customer.client_type else ""
        fate = rng.random()
        if fate < 0.015:
            return self.at(sent + timedelta(minutes=rng.randint(2, 30)), self.bounce, invitation)
        if fate < 0.03:
            return self.at(sent + timedelta(hours=rng.uniform(1, 72)), self.unsubscribe, invitation)
        if rng.random() < self.specs[campaign.pk].answer_rate + ANSWER_LIKELIHOOD.get(slug, 0):
            if not campaign.reminder_count or rng.random() < 0.7:
                delay = timedelta(hours=min(rng.expovariate(1 / 10), 24 * campaign.reminder_every_days - 1))
            else:  # answered after the reminder nudged them
                delay = timedelta(days=campaign.reminder_every_days + 1, hours=rng.uniform(0, 48))
            opened = sent + delay
            self.at(opened, self.open, invitation)
            self.at(opened + timedelta(minutes=rng.uniform(1, 6)), self.answer, invitation, slug)
        elif rng.random() < 0.18:  # had a look, never answered
            self.at(sent + timedelta(hours=rng.uniform(1, 96)), self.open, invitation)

    def open(self, invitation: Invitation) -> None:
        services.invitation_open(invitation=invitation)

    def answer(self, invitation: Invitation, slug: str) -> None:
        answers = self.answers(invitation.campaign, invitation.wave, invitation.language, LEANS.get(slug))
        submit = self.rng.random() > 0.06  # a few leave halfway: a partial response
        with suppress(services.SurveyClosed):  # expired or unsubscribed before they got to it
            services.response_save(
                invitation=invitation,
                answers=answers if submit else dict(list(answers.items())[:1]),
                submit=submit,
            )

    def anonymous(self, campaign: Campaign) -> None:
        language = "ru" if self.rng.random() < 0.55 else "en"
        answers = self.answers(campaign, 1, language, None)
        submit = self.rng.random() > 0.1
        services.response_save(
            campaign=campaign,
            browser_key=f"demo-{self.rng.getrandbits(64):016x}",
            language=language,
            answers=answers if submit else dict(list(answers.items())[:1]),
            submit=submit,
        )

    def answers(self, campaign: Campaign, wave: int, language: str, lean: str | None) -> dict[str, object]:
        score_question, comment_question = self.questions[campaign.pk][:2]
        feeling = self.feeling(campaign, wave, lean)
        answers = {str(score_question.pk): self.rng.choice(SCORES[score_question.kind][feeling])}
        if self.rng.random() < 0.35 + (0.2 if feeling == "bad" else 0):  # the unhappy write more
            answers[str(comment_question.pk)] = self.rng.choice(COMMENTS[(feeling, language)])
        return answers

    def feeling(self, campaign: Campaign, wave: int, lean: str | None) -> str:
        """Dealt from a shuffled deck with the wave's exact shares, so a few dozen answers show the
        intended mix and trend rather than noise; a customer's type may swap in the next card of
        the kind it leans to (the deck's shares stay exact)."""
        feelings = self.specs[campaign.pk].feelings
        good, bad = feelings[min(wave, len(feelings)) - 1]
        deck = self.decks.setdefault((campaign.pk, wave), [])
        if not deck:
            deck += ["good"] * round(20 * good) + ["bad"] * round(20 * bad)
            deck += ["mid"] * (20 - len(deck))
            self.rng.shuffle(deck)
        if lean and deck[-1] != lean and lean in deck and self.rng.random() < 0.4:
            swap = len(deck) - 1 - deck[::-1].index(lean)
            deck[-1], deck[swap] = deck[swap], deck[-1]
        return deck.pop()

    def bounce(self, invitation: Invitation) -> None:
        with suppress(ValidationError):  # answered or gone meanwhile
            services.invitation_mark_bounced(invitation=invitation, reason="550 5.1.1 Mailbox does not exist")

    def unsubscribe(self, invitation: Invitation) -> None:
        services.invitation_unsubscribe(invitation=invitation)
