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
