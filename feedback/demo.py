"""Demo feedback for `make run`: categories, two calendars (a Moscow office with Russia's public
holidays and a 24/7 chat), SLA policies, and three weeks of complaints, requests, suggestions,
praise and public reviews worked through the real services, so every status, paused and breached
clocks, escalations and a reopened item are there to look at. Moments are passed to the services
(`now=`), so clocks and history carry consistent dates. Deterministic (seeded); loaded once.
"""

import random
from datetime import datetime, time, timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from customers.models import Customer, Touchpoint

from . import services
from .models import BusinessCalendar, Category, FeedbackItem, SlaNotification, SlaPolicy, WorkingHours
from .services.followups import follow_ups_open
from .services.sweep import sla_sweep

CATEGORIES = ["Delivery", "Billing", "Product quality", "Staff", "Website", "Returns"]
SUBJECTS = {
    "complaint": ["Parcel a week late", "Charged twice", "Rude answer on the hotline", "Broken on arrival"],
    "request": ["How do I return an item?", "Where is my invoice?", "Can I change the delivery address?"],
    "suggestion": ["Add evening delivery slots", "A dark theme for the app"],
    "praise": ["Thank you to the courier", "Great help in the store"],
    "review": ["Two stars: slow delivery", "Five stars, as always", "Never again"],
}
# (share of items, what happens to them): drawn per item, in this order of checks.
FATES = [
    (0.10, "new"),
    (0.15, "in_progress"),
    (0.12, "waiting"),
    (0.38, "resolved"),
    (0.20, "closed"),
    (0.05, "reopened"),
]


def load(seed: int = 2026) -> str:
    if FeedbackItem.objects.exists():
        return "Demo feedback is already there."
    rng = random.Random(seed)
    now = timezone.now()
    office, chat = _calendars(now)
    _policies(office, chat)
    agents = list(User.objects.filter(groups__name="Support")) or list(User.objects.filter(is_superuser=True))
    customers = list(Customer.objects.order_by("pk")[:300])
    touchpoints = list(Touchpoint.objects.all())
    categories = list(Category.objects.all())
    made = 0
    # Items from three weeks ago until now; each is worked as far as its fate says, hours apart.
    for day in range(21, -1, -1):
        for _ in range(rng.randint(3, 7)):
            logged = now - timedelta(days=day, hours=rng.uniform(0, 9), minutes=rng.randint(0, 59))
            _item(rng, logged, now, customers, agents, touchpoints, categories)
            made += 1
    # The beat's sweep as of now: warnings and breaches of what is still open, and follow-ups of
    # the surveys demo's detractor answers.
    report = sla_sweep(now=now)
    # The surveys demo replayed months of answers: their detractors get their follow-ups too.
    report["follow_ups"] += follow_ups_open(now=now, lookback=timedelta(days=120))
    # Their notices belong to the replayed past: count them as sent, not as mail for var/mail/.
    SlaNotification.objects.filter(sent_at__isnull=True).update(claimed_at=now, sent_at=now)
    return (
        f"Loaded {made} demo feedback items ({report['breached']} SLA breaches found by the sweep, "
        f"{report['follow_ups']} follow-ups of unhappy survey answers)."
    )


def _calendars(now: datetime) -> tuple[BusinessCalendar, BusinessCalendar]:
    office = BusinessCalendar.objects.create(name="Moscow office", time_zone="Europe/Moscow")
    hours = [(time(9), time(13)), (time(14), time(18))]  # a lunch break
    WorkingHours.objects.bulk_create(
        WorkingHours(calendar=office, weekday=day, opens_at=start, closes_at=end)
        for day in range(5)
        for start, end in hours
    )
    services.calendar_fill_holidays(
        calendar=office, country="RU", years=[now.year - 1, now.year, now.year + 1]
    )
    chat = BusinessCalendar.objects.create(name="Chat 24/7", time_zone="Europe/Moscow", always_open=True)
    return office, chat


def _policies(office: BusinessCalendar, chat: BusinessCalendar) -> None:
    lead = User.objects.filter(groups__name="CX lead").first()
    SlaPolicy.objects.create(
        name="Premium customers",
        position=10,
        calendar=office,
        service_classes=["premium"],
        first_response_minutes=30,
        resolution_minutes=240,
        lead=lead,
        escalate_to_priority="urgent",
    )
    SlaPolicy.objects.create(
        name="Chat-bot and social",
        position=20,
        calendar=chat,
        channels=["chat_bot", "social"],
        first_response_minutes=15,
        resolution_minutes=480,
        next_response_minutes=30,
        lead=lead,
    )
    SlaPolicy.objects.create(
        name="Public reviews",
        position=30,
        calendar=office,
        kinds=["review"],
        first_response_minutes=120,
        resolution_minutes=960,
        lead=lead,
    )
    SlaPolicy.objects.create(
        name="Standard",
        position=100,
        calendar=office,
        first_response_minutes=120,
        resolution_minutes=960,
        lead=lead,
        escalate_to_priority="high",
    )
    Category.objects.bulk_create(Category(name=name) for name in CATEGORIES)


def _item(rng, logged, now, customers, agents, touchpoints, categories) -> None:
    kind = rng.choices(list(SUBJECTS), weights=[40, 25, 10, 10, 15])[0]
    channel = (
        "review_site"
        if kind == "review"
        else rng.choice(["phone", "email", "web_form", "chat_bot", "social"])
    )
    data = {
        "kind": kind,
        "channel": channel,
        "priority": rng.choices(["low", "normal", "high", "urgent"], weights=[15, 60, 20, 5])[0],
        "customer": rng.choice(customers) if customers and kind != "review" else None,
        "author_name": "" if kind != "review" else rng.choice(["Anna K.", "ivan_petrov", "M. Sidorova"]),
        "subject": rng.choice(SUBJECTS[kind]),
        "description": "Logged for the demo: what the customer said, in their words.",
        "category": rng.choice(categories),
        "touchpoint": rng.choice(touchpoints) if touchpoints else None,
        "assignee": rng.choice(agents) if agents else None,
    }
    if kind == "review":
        data |= {
            "review_source": rng.choice(["Yandex Maps", "2GIS", "Otzovik"]),
            "review_rating": rng.randint(1, 5),
        }
        if data["review_rating"] <= 2 and rng.random() < 0.6:
            data["public_answer"] = "We are sorry: we have contacted you to put it right."
    if data["customer"] is None and kind != "review":
        data["author_name"] = "Walk-in customer"
    item = services.item_create(data=data, by=data["assignee"], now=logged)
    fate = _fate(rng)
    step = logged
    agent = data["assignee"]

    def later(hours: float) -> datetime | None:
        nonlocal step
        step = step + timedelta(hours=hours * rng.uniform(0.5, 1.5))
        return step if step < now else None

    if fate == "new":
        return
    if (moment := later(1.5)) is None:
        return
    services.item_reply(item_id=item.pk, body="Thank you, we are looking into it.", by=agent, now=moment)
    if fate == "in_progress":
        return
    if fate == "waiting" or rng.random() < 0.4:
        if (moment := later(3)) is None:
            return
        services.item_transition(
            item_id=item.pk, to="waiting", note="Asked for the order number", by=agent, now=moment
        )
        if fate == "waiting":
            return
        if (moment := later(20)) is None:
            return
        services.item_customer_message(item_id=item.pk, body="Here it is: 100234.", now=moment)
    if (moment := later(10)) is None:
        return
    services.item_transition(
        item_id=item.pk, to="resolved", note="Refunded the delivery fee.", by=agent, now=moment
    )
    if fate == "closed" and (moment := later(48)):
        services.item_transition(item_id=item.pk, to="closed", by=agent, now=moment)
    elif fate == "reopened" and (moment := later(24)):
        services.item_transition(
            item_id=item.pk, to="reopened", note="The refund did not arrive", by=agent, now=moment
        )


def _fate(rng) -> str:
    draw, total = rng.random(), 0.0
    for share, fate in FATES:
        total += share
        if draw < total:
            return fate
    return "resolved"
