"""Shared set-up of the campaign and ledger API tests."""

from datetime import timedelta

from django.utils import timezone

from customers.models import Customer, SegmentMembership
from surveys.models import Invitation, InvitationStatus, Question
from tests.factories import CustomerFactory, SegmentFactory


def segment_of(customers, name="Loyal buyers"):
    segment = SegmentFactory(name=name)
    SegmentMembership.objects.bulk_create([SegmentMembership(segment=segment, customer=c) for c in customers])
    return segment


def sent_invitation(campaign, customer=None, **fields) -> Invitation:
    """An invitation as the sender leaves it: sent now, open for 30 days."""
    now = timezone.now()
    return Invitation.objects.create(
        campaign=campaign,
        customer=customer or CustomerFactory(),
        language="en",
        status=InvitationStatus.SENT,
        sent_at=now,
        expires_at=now + timedelta(days=30),
        **fields,
    )


def survey_questions(survey_id) -> list[Question]:
    return list(Question.objects.filter(survey_id=survey_id).order_by("position"))


def bulk_customers(n: int) -> list[Customer]:
    """Many customers in one insert: query-count tests need a full page of rows, fast."""
    return Customer.objects.bulk_create(
        [Customer(name=f"Customer {i}", email=f"c{i}@example.com", survey_consent=True) for i in range(n)]
    )
