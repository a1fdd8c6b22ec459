"""Shared by the segment rule tests: a fixed now, and terse builders of customers, events and rules."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from customers.models import Customer, Event, EventKind
from customers.segment_rules import compile_rules, validate_rules
from tests.factories import CustomerFactory

# A fixed instant with microseconds, so events placed exactly on a window's edge are exact on both
# databases (SQLite stores datetimes as text and drops a zero fraction).
NOW = datetime(2025, 6, 15, 12, 0, 0, 123456, tzinfo=UTC)


def group(*rules, match="all"):
    return {"match": match, "rules": list(rules)}


def errors_of(rules) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        validate_rules(rules)
    return caught.value.message_dict["rules"]


def matching(*rules, match="all", now=NOW) -> set[str]:
    """Names of the customers the (validated) rules select, through the compiled query."""
    q = compile_rules(validate_rules(group(*rules, match=match)), now=now)
    return set(Customer.objects.filter(q).values_list("name", flat=True))


def customer(name, **fields):
    return CustomerFactory(name=name, **fields)


def event(who, kind=EventKind.VISIT, *, days_ago=1.0, amount=None, touchpoint=None):
    if kind == EventKind.PURCHASE and amount is None:
        amount = "10.00"
    return Event.objects.create(
        customer=who,
        kind=kind,
        occurred_at=NOW - timedelta(days=days_ago),
        amount=Decimal(amount) if amount is not None else None,
        touchpoint=touchpoint,
    )


def purchases(who, *days_ago, amount="10.00"):
    for days in days_ago:
        event(who, EventKind.PURCHASE, days_ago=days, amount=amount)
