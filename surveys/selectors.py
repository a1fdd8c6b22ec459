"""Reads of the surveys app: a campaign's audience and who of it may be asked, its funnel."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    Case,
    CharField,
    Count,
    Max,
    Q,
    QuerySet,
    Value,
    When,
)

from customers.models import ConsentChannel, Customer, SegmentMembership

from .models import (
    Campaign,
    ContactPolicy,
    HeldBackReason,
    Invitation,
    InvitationStatus,
    Response,
    SurveyOptOut,
)

ELIGIBLE = ""


def campaign_audience(campaign: Campaign) -> QuerySet[Customer]:
    """Everyone the campaign aims at, before consent and the contact policy are applied.

    Within a criterion any value matches (segment A or B); across criteria all must (in segment A
    and a premium customer); the explicit list is invited in addition. No criterion: nobody.
    """
    customers = Customer.objects.all()
    if campaign.everyone:
        return customers
    criteria = []
    segment_ids = [s.pk for s in campaign.segments.all()]
    if segment_ids:
        members = SegmentMembership.objects.filter(segment_id__in=segment_ids).values("customer_id")
        criteria.append(Q(pk__in=members))
    client_type_ids = [c.pk for c in campaign.client_types.all()]
    if client_type_ids:
        criteria.append(Q(client_type_id__in=client_type_ids))
    if campaign.lifecycle_stages:
        criteria.append(Q(lifecycle_stage__in=campaign.lifecycle_stages))
    if campaign.service_classes:
        criteria.append(Q(service_class__in=campaign.service_classes))
    matched = Q(pk__in=[])
    if criteria:
        matched = criteria[0]
        for criterion in criteria[1:]:
            matched &= criterion
    # Uncorrelated `IN (...)` throughout: one hashed pass each, not a look-up per customer.
    listed = Campaign.customers.through.objects.filter(campaign_id=campaign.pk).values("customer_id")
    return customers.filter(matched | Q(pk__in=listed))


def has_audience_criteria(campaign: Campaign) -> bool:
    return bool(
        campaign.everyone
        or campaign.lifecycle_stages
        or campaign.service_classes
        or campaign.segments.exists()
        or campaign.client_types.exists()
        or campaign.customers.exists()
    )


@dataclass(frozen=True)
class Quarantine:
    global_days: int
    campaign_days: int

    @classmethod
    def of(cls, campaign: Campaign) -> "Quarantine":
        return cls(ContactPolicy.current().quarantine_days, campaign.quarantine_days or 0)

    def allowed_at(self, last_any: datetime | None, last_here: datetime | None) -> datetime | None:
        """The first moment the customer may be surveyed again (None: now)."""
        moments = []
        if last_any and self.global_days:
            moments.append(last_any + timedelta(days=self.global_days))
        if last_here and self.campaign_days:
            moments.append(last_here + timedelta(days=self.campaign_days))
        return max(moments, default=None)


def with_eligibility(
    customers: QuerySet[Customer], campaign: Campaign, now: datetime, *, quarantine: bool = True
) -> QuerySet[Customer]:
    """Customers annotated with `held_back`: a HeldBackReason, or "" if they may be invited now,
    in one query. The order of reasons is the one a CX lead acts on.

    Each test is `id IN (uncorrelated subquery)`, which PostgreSQL runs as one hashed pass over
    the invitations, whatever its statistics say. Correlated per-customer look-ups were planned as
    a scan of the invitations per customer while a new campaign's rows were not yet analysed:
    435 s instead of 18 s to build 100,000 invitations (bench/campaign.py). When a quarantined customer may
    be asked again is computed afterwards, for those customers only (quarantine_ends).
    quarantine=False leaves the quarantine out (the sender checks it per invitation as it claims)."""
    policy = Quarantine.of(campaign) if quarantine else Quarantine(0, 0)
    channels = [ConsentChannel.ANY, ConsentChannel.EMAIL]
    recently = Q(pk__in=[])
    if policy.global_days:
        cutoff = now - timedelta(days=policy.global_days)
        recently |= Q(pk__in=Invitation.objects.filter(sent_at__gt=cutoff).values("customer_id"))
    if policy.campaign_days:
        cutoff = now - timedelta(days=policy.campaign_days)
        here = Invitation.objects.filter(campaign_id=campaign.pk, sent_at__gt=cutoff)
        recently |= Q(pk__in=here.values("customer_id"))
    return customers.annotate(
        held_back=Case(
            When(pk__in=SurveyOptOut.objects.values("customer_id"), then=Value(HeldBackReason.UNSUBSCRIBED)),
            When(
                Q(survey_consent=False) | ~Q(survey_consent_channel__in=channels),
                then=Value(HeldBackReason.NO_CONSENT),
            ),
            When(email="", then=Value(HeldBackReason.NO_EMAIL)),
            When(recently, then=Value(HeldBackReason.QUARANTINED)),
            default=Value(ELIGIBLE),
            output_field=CharField(),
        )
    )


def quarantine_ends(customer_ids: list[int], campaign: Campaign, now: datetime) -> dict[int, datetime]:
    """For quarantined customers: the first moment each may be surveyed again (one grouped query)."""
    quarantine = Quarantine.of(campaign)
    longest = max(quarantine.global_days, quarantine.campaign_days)
    rows = (
        Invitation.objects.filter(customer_id__in=customer_ids, sent_at__gt=now - timedelta(days=longest))
        .values("customer_id")
        .annotate(last_any=Max("sent_at"), last_here=Max("sent_at", filter=Q(campaign_id=campaign.pk)))
        .order_by()
    )
    ends = {row["customer_id"]: quarantine.allowed_at(row["last_any"], row["last_here"]) for row in rows}
    return {customer_id: moment or now for customer_id, moment in ends.items()}


def campaign_dry_run(campaign: Campaign, now: datetime) -> dict:
    """What a launch would do now: how many would be sent, deferred, held back and why."""
    if campaign.channel == Campaign.Channel.LINK:
        held_back = dict.fromkeys(HeldBackReason.values, 0)  # nobody is held back from a public link
        return {
            "audience": None,
            "would_send": None,
            "deferred": 0,
            "held_back": held_back,
            "held_back_total": 0,
        }
    rows = (
        with_eligibility(campaign_audience(campaign), campaign, now)
        .values("held_back")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_reason = {row["held_back"]: row["n"] for row in rows}
    would_send = by_reason.pop(ELIGIBLE, 0)
    deferred = by_reason.pop(HeldBackReason.QUARANTINED, 0) if campaign.defer_held_back else 0
    held_back = {reason: by_reason.get(reason, 0) for reason in HeldBackReason.values}
    if deferred:
        held_back[HeldBackReason.QUARANTINED] = 0
    return {
        "audience": would_send + deferred + sum(held_back.values()),
        "would_send": would_send,
        "deferred": deferred,
        "held_back": held_back,
        "held_back_total": sum(held_back.values()),
    }


def campaign_funnel(campaign: Campaign, now: datetime) -> dict:
    """The ledger in one query: where every invitation is now, the cumulative funnel, the rate."""
    statuses = {status: Count("pk", filter=Q(status=status)) for status in InvitationStatus.values}
    held = {
        f"held_back_{reason}": Count(
            "pk", filter=Q(status=InvitationStatus.HELD_BACK, held_back_reason=reason)
        )
        for reason in HeldBackReason.values
    }
    totals = Invitation.objects.filter(campaign=campaign).aggregate(
        invitations=Count("pk"),
        deferred=Count("pk", filter=Q(status=InvitationStatus.QUEUED, send_after__gt=now)),
        delivered=Count("pk", filter=Q(sent_at__isnull=False) & ~Q(status=InvitationStatus.BOUNCED)),
        opened_ever=Count("pk", filter=Q(opened_at__isnull=False)),
        answered_ever=Count("pk", filter=Q(answered_at__isnull=False)),
        reminded=Count("pk", filter=Q(reminders_sent__gt=0)),
        **statuses,
        **held,
    )
    delivered = totals["delivered"]
    responses = Response.objects.filter(campaign=campaign).aggregate(
        complete=Count("pk", filter=Q(completed_at__isnull=False)),
        partial=Count("pk", filter=Q(completed_at__isnull=True)),
    )
    return {
        "invitations": totals["invitations"],
        "by_status": {status: totals[status] for status in InvitationStatus.values},
        "held_back": {reason: totals[f"held_back_{reason}"] for reason in HeldBackReason.values},
        "deferred": totals["deferred"],
        "funnel": {
            "invited": totals["invitations"] - totals[InvitationStatus.HELD_BACK],
            "delivered": delivered,
            "opened": totals["opened_ever"],
            "answered": totals["answered_ever"],
        },
        "reminded": totals["reminded"],
        "responses": responses,
        # Of the invitations that reached an inbox, the share answered (link campaigns: none).
        "response_rate": round(totals["answered_ever"] / delivered, 4) if delivered else None,
    }


def invitations_due(now: datetime) -> QuerySet[Invitation]:
    return Invitation.objects.filter(status=InvitationStatus.QUEUED, send_after__lte=now)


def invitation_by_token(token: str) -> Invitation | None:
    return Invitation.objects.select_related("campaign__survey", "customer").filter(token=token).first()


def response_for(
    *, invitation: Invitation | None = None, campaign: Campaign | None = None, browser_key: str = ""
) -> Response | None:
    """The response (with its answers) of an invitation, or of one browser on an anonymous link."""
    responses = Response.objects.prefetch_related("answers")
    if invitation is not None:
        return responses.filter(invitation=invitation).first()
    if campaign is None or not browser_key:
        return None
    return responses.filter(campaign=campaign, browser_key=browser_key).first()


def customer_opted_out(customer_id: int) -> bool:
    return SurveyOptOut.objects.filter(customer_id=customer_id).exists()


def link_campaign_by_token(token: str) -> Campaign | None:
    return (
        Campaign.objects.select_related("survey")
        .filter(link_token=token, channel=Campaign.Channel.LINK)
        .first()
    )


__all__ = [
    "ELIGIBLE",
    "Quarantine",
    "campaign_audience",
    "campaign_dry_run",
    "campaign_funnel",
    "customer_opted_out",
    "has_audience_criteria",
    "invitation_by_token",
    "invitations_due",
    "link_campaign_by_token",
    "quarantine_ends",
    "response_for",
    "with_eligibility",
]
