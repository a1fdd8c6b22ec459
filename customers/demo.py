"""Demo customers for `make run`: every client type and stage, timelines that fit each story,
and segments whose members make sense. Deterministic (seeded), written through the services."""

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from . import services
from .event_ingest import parse_events
from .models import ClientType, Customer, EventKind, LifecycleStage, Segment, Touchpoint

DEMO_PREFIX = "DEMO-"
CUSTOMERS = 240

TOUCHPOINTS = [
    ("Advertising", Touchpoint.Kind.ADVERTISING, LifecycleStage.ATTRACTION),
    ("Social networks", Touchpoint.Kind.SOCIAL_NETWORK, LifecycleStage.INTEREST),
    ("Website", Touchpoint.Kind.WEBSITE, LifecycleStage.EVALUATION),
    ("Call centre", Touchpoint.Kind.CALL_CENTRE, LifecycleStage.EVALUATION),
    ("Store", Touchpoint.Kind.STORE, LifecycleStage.PURCHASE),
    ("Reception", Touchpoint.Kind.RECEPTION, LifecycleStage.PURCHASE),
    ("Mobile app", Touchpoint.Kind.MOBILE_APP, LifecycleStage.LOYALTY),
]

FIRST_NAMES = [
    "Anna", "Ivan", "Olga", "Dmitry", "Maria", "Sergey", "Elena", "Alexei", "Natalia", "Pavel",
    "Emma", "James", "Sofia", "Liam", "Chloe", "Noah", "Irina", "Mikhail", "Tatiana", "Oliver",
]  # fmt: skip
LAST_NAMES = [
    "Ivanova", "Petrov", "Smirnova", "Kuznetsov", "Popova", "Sokolov", "Lebedeva", "Novikov",
    "Morozova", "Volkov", "Smith", "Brown", "Taylor", "Wilson", "Evans", "Walker", "Green", "Hall",
]  # fmt: skip
CITIES = ["Moscow", "Kazan", "Saint Petersburg", "Novosibirsk", "Yekaterinburg", "London"]
COMPANIES = ["", "", "", "Northwind", "Acme Trading", "Volga Logistics", "Sever Retail"]

# Weighted so stages thin out down the funnel, as they do in life.
STAGE_WEIGHTS = [
    (LifecycleStage.ATTRACTION, 30),
    (LifecycleStage.INTEREST, 30),
    (LifecycleStage.EVALUATION, 40),
    (LifecycleStage.PURCHASE, 60),
    (LifecycleStage.LOYALTY, 80),
]

SEGMENTS = [
    (
        "Champions",
        "Bought in the last 30 days, at least 3 times and 300 or more this year: the customers who "
        "bring the profit (the Harrah's view). Give them the best service.",
        {
            "match": "all",
            "rules": [
                {"field": "recency_days", "op": "lte", "value": 30},
                {"field": "purchase_count", "window_days": 365, "op": "gte", "value": 3},
                {"field": "purchase_amount", "window_days": 365, "op": "gte", "value": 300},
            ],
        },
    ),
    (
        "Lapsed buyers",
        "Bought at least twice, but not in the last 90 days: at risk of churning.",
        {
            "match": "all",
            "rules": [
                {"field": "purchase_count", "op": "gte", "value": 2},
                {"field": "recency_days", "op": "gt", "value": 90},
            ],
        },
    ),
    (
        "Complained recently",
        "Opened a complaint in the last 90 days: follow up on how it was resolved.",
        {
            "match": "all",
            "rules": [
                {
                    "field": "event_count",
                    "kind": "complaint_opened",
                    "window_days": 90,
                    "op": "gte",
                    "value": 1,
                }
            ],
        },
    ),
    (
        "Undecided askers",
        "Still evaluating and asking questions, or doubting by nature: their questions show what "
        "the site and ads fail to explain.",
        {
            "match": "all",
            "rules": [
                {"field": "lifecycle_stage", "op": "in", "value": ["interest", "evaluation"]},
                {
                    "match": "any",
                    "rules": [
                        {"field": "client_type", "op": "eq", "value": "doubting"},
                        {
                            "field": "event_count",
                            "kind": "question",
                            "window_days": 60,
                            "op": "gte",
                            "value": 2,
                        },
                    ],
                },
            ],
        },
    ),
    (
        "Premium loyal",
        "Premium service class in the loyalty stage.",
        {
            "match": "all",
            "rules": [
                {"field": "service_class", "op": "eq", "value": "premium"},
                {"field": "lifecycle_stage", "op": "eq", "value": "loyalty"},
            ],
        },
    ),
]


def load(seed: int = 2026) -> str:
    if Customer.objects.filter(external_id__startswith=DEMO_PREFIX).exists():
        return "Demo data is already loaded."
    rng = random.Random(seed)
    now = timezone.now()
    touchpoints = {
        name: services.touchpoint_save(
            touchpoint=Touchpoint.objects.filter(name=name).first(),
            data={"name": name, "kind": kind, "journey_stage": stage},
        )
        for name, kind, stage in TOUCHPOINTS
    }
    client_types = list(ClientType.objects.filter(is_builtin=True).order_by("slug"))
    stages = [s for s, w in STAGE_WEIGHTS for _ in range(w)]
    payloads = []
    for n in range(CUSTOMERS):
        # The first rows cover every client type x stage, so each combination can be seen.
        client_type = client_types[n % len(client_types)]
        stage = LifecycleStage.values[(n // len(client_types)) % 5] if n < 25 else rng.choice(stages)
        payloads += _customer_with_history(n, rng, now, client_type, stage, touchpoints)
    result = services.events_record(events=parse_events(payloads))
    for name, description, rules in SEGMENTS:
        segment = services.segment_save(
            segment=Segment.objects.filter(name=name).first(),
            data={"name": name, "description": description, "rules": rules},
        )
        services.segment_refresh(segment_id=segment.pk)
    return f"Loaded {CUSTOMERS} demo customers, {result.created} events and {len(SEGMENTS)} segments."


def _customer_with_history(n, rng, now, client_type, stage, touchpoints) -> list[dict]:
    """Create the customer, walk them through the stages up to `stage`, return their events."""
    # Walk the name grid so names rarely repeat (240 of 360 pairs), yet stay deterministic.
    first, last = FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[(n * 7 + n // 20) % len(LAST_NAMES)]
    entered = now - timedelta(days=rng.randint(60, 700))
    service_class = rng.choices(["economy", "comfort", "premium"], weights=[5, 3, 2])[0]
    customer = services.customer_create(
        at=entered,
        data={
            "name": f"{first} {last}",
            "email": f"{first}.{last}.{n}@example.com".lower(),
            "phone": f"+7 9{rng.randint(10, 99)} {rng.randint(100, 999)}-{rng.randint(10, 99)}-{n % 100:02d}",
            "company": rng.choice(COMPANIES),
            "external_id": f"{DEMO_PREFIX}{n:04d}",
            "client_type": client_type,
            "service_class": service_class,
            "survey_consent": rng.random() < 0.8,
            "language": "ru" if rng.random() < 0.6 else "en",
            "attributes": {"city": rng.choice(CITIES), "newsletter": rng.random() < 0.5},
        },
    )
    events = []

    def event(kind, when, touchpoint, **extra):
        events.append(
            {
                "customer": customer.pk,
                "kind": kind,
                "occurred_at": when.isoformat(),
                "touchpoint": touchpoints[touchpoint].pk,
                **extra,
            }
        )

    when = entered
    event(EventKind.AD_VIEW, when, "Advertising")
    target = LifecycleStage.order(stage)
    for index, next_stage in enumerate(LifecycleStage.values[1 : target + 1], start=1):
        when = min(when + timedelta(days=rng.randint(1, 30)), now - timedelta(days=5 - index))
        services.customer_change_stage(customer=customer, stage=next_stage, at=when)
        if next_stage == LifecycleStage.INTEREST:
            event(EventKind.CLICK, when, "Social networks")
            event(EventKind.VISIT, when + timedelta(hours=1), "Website")
        elif next_stage == LifecycleStage.EVALUATION:
            for _ in range(
                rng.randint(1, 4) + (2 if client_type.slug in ("doubting", "control-freak") else 0)
            ):
                event(EventKind.QUESTION, _between(rng, when, now), rng.choice(["Call centre", "Website"]))
        elif next_stage in (LifecycleStage.PURCHASE, LifecycleStage.LOYALTY):
            buys = 1 if next_stage == LifecycleStage.PURCHASE else rng.randint(2, 12)
            # Loyal customers keep buying until recently; some others drift away (lapsed).
            last_buy = now if rng.random() < 0.6 else now - timedelta(days=rng.randint(100, 300))
            for _ in range(buys):
                spend = Decimal(rng.randint(15, 400 if service_class != "premium" else 1500))
                event(
                    EventKind.PURCHASE,
                    _between(rng, when, max(when, last_buy)),
                    rng.choice(["Store", "Website", "Mobile app"]),
                    amount=str(spend),
                )
    complaint_odds = {"demanding": 0.7, "control-freak": 0.5}.get(client_type.slug, 0.15)
    if target >= LifecycleStage.order(LifecycleStage.PURCHASE) and rng.random() < complaint_odds:
        opened = now - timedelta(days=rng.randint(1, 200))
        event(EventKind.COMPLAINT_OPENED, opened, "Call centre", data={"topic": "late delivery"})
        event(EventKind.COMPLAINT_RESOLVED, opened + timedelta(days=rng.randint(1, 6)), "Call centre")
    for _ in range(rng.randint(0, 6)):
        event(EventKind.VISIT, _between(rng, entered, now), rng.choice(["Website", "Mobile app", "Store"]))
    return events


def _between(rng, start, end):
    return start + (end - start) * rng.random()
