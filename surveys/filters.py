"""django-filter FilterSets of the surveys app (DESIGN.md: every list is filterable).

Date ranges follow the customers app: `<moment>_after` is inclusive, `<moment>_before` exclusive,
so consecutive ranges never count a row twice.
"""

import django_filters

from .models import Campaign, HeldBackReason, Invitation, InvitationStatus, Response, Survey


def after(field: str) -> django_filters.IsoDateTimeFilter:
    return django_filters.IsoDateTimeFilter(field_name=field, lookup_expr="gte", label=f"{field} on or after")


def before(field: str) -> django_filters.IsoDateTimeFilter:
    return django_filters.IsoDateTimeFilter(field_name=field, lookup_expr="lt", label=f"{field} before")


class SurveyFilter(django_filters.FilterSet):
    class Meta:
        model = Survey
        fields = ["status"]


class CampaignFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Campaign.Status.choices)
    kind = django_filters.MultipleChoiceFilter(choices=Campaign.Kind.choices)
    channel = django_filters.ChoiceFilter(choices=Campaign.Channel.choices)
    created_after = after("created_at")
    created_before = before("created_at")
    launched_after = after("launched_at")
    launched_before = before("launched_at")

    class Meta:
        model = Campaign
        fields = ["status", "kind", "channel", "survey"]


class InvitationFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=InvitationStatus.choices)
    held_back_reason = django_filters.MultipleChoiceFilter(choices=HeldBackReason.choices)
    queued_after = after("queued_at")
    queued_before = before("queued_at")
    sent_after = after("sent_at")
    sent_before = before("sent_at")
    answered_after = after("answered_at")
    answered_before = before("answered_at")

    class Meta:
        model = Invitation
        fields = ["campaign", "customer", "status", "held_back_reason", "wave"]


class ResponseFilter(django_filters.FilterSet):
    # exclude=True inverts the lookup: completed=true keeps rows whose completed_at is NOT null.
    completed = django_filters.BooleanFilter(
        field_name="completed_at", lookup_expr="isnull", exclude=True, label="Submitted (true) or partial"
    )
    started_after = after("started_at")
    started_before = before("started_at")
    completed_after = after("completed_at")
    completed_before = before("completed_at")

    class Meta:
        model = Response
        fields = ["campaign", "survey", "customer", "completed"]
