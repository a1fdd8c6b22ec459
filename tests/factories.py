from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from customers.models import ClientType, Customer, Event, EventKind, Segment, Touchpoint


class TouchpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Touchpoint

    name = factory.Sequence(lambda n: f"Touchpoint {n}")
    kind = Touchpoint.Kind.WEBSITE
    journey_stage = "evaluation"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    external_id = factory.Sequence(lambda n: f"EXT-{n:06d}")
    survey_consent = True

    class Params:
        loyal = factory.Trait(client_type=factory.LazyFunction(lambda: ClientType.objects.get(slug="loyal")))


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    customer = factory.SubFactory(CustomerFactory)
    kind = EventKind.VISIT
    occurred_at = factory.LazyFunction(timezone.now)


def purchase(customer, *, days_ago: float = 1, amount: str = "100.00", touchpoint=None) -> Event:
    return Event.objects.create(
        customer=customer,
        kind=EventKind.PURCHASE,
        occurred_at=timezone.now() - timedelta(days=days_ago),
        amount=Decimal(amount),
        touchpoint=touchpoint,
    )


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")
    rules = factory.LazyFunction(
        lambda: {"match": "all", "rules": [{"field": "purchase_count", "op": "gte", "value": 1}]}
    )


def active_survey(template: str = "nps", name: str | None = None):
    """A live survey from a ready-made template (NPS 0-10 + a comment, by default)."""
    from surveys.services import survey_from_template, survey_save

    survey = survey_from_template(template=template, name=name or f"{template.upper()} {Survey_seq()}")
    return survey_save(survey=survey, data={"status": "active"})


def email_campaign(survey=None, **fields):
    """A draft email campaign (everyone by default) saved through the service."""
    from surveys.services import campaign_save

    data = {"name": f"Campaign {Survey_seq()}", "survey": survey or active_survey(), "everyone": True}
    return campaign_save(data=data | fields)


_seq = iter(range(1, 10**9))


def Survey_seq() -> int:  # noqa: N802
    return next(_seq)
