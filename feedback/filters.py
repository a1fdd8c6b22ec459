"""django-filter FilterSets of the feedback app (DESIGN.md: every list is filterable).

Date ranges follow the other apps: `<moment>_after` is inclusive, `<moment>_before` exclusive.
"""

import django_filters
from django.contrib.auth import get_user_model
from django.utils import timezone

from . import selectors
from .models import (
    BusinessCalendar,
    Category,
    Channel,
    FeedbackItem,
    ItemKind,
    ItemStatus,
    Priority,
    SlaPolicy,
)


class ItemFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=ItemKind.choices)
    status = django_filters.MultipleChoiceFilter(choices=ItemStatus.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    channel = django_filters.MultipleChoiceFilter(choices=Channel.choices)
    category = django_filters.ModelChoiceFilter(queryset=Category.objects.all())
    assignee = django_filters.ModelChoiceFilter(queryset=get_user_model().objects.all())
    sla_policy = django_filters.ModelChoiceFilter(queryset=SlaPolicy.objects.all())
    breached = django_filters.BooleanFilter(
        method="filter_breached", label="Any SLA clock past its target (true) or none (false)"
    )
    negative = django_filters.BooleanFilter(
        method="filter_negative", label="Negative public reviews (rated 2 or lower)"
    )
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = FeedbackItem
        fields = ["kind", "status", "priority", "channel", "category", "assignee", "customer", "sla_policy"]

    def filter_breached(self, queryset, name, value):
        if value is None:
            return queryset
        breached = selectors.breached_items(timezone.now())
        return queryset.filter(breached) if value else queryset.exclude(breached)

    def filter_negative(self, queryset, name, value):
        if value is None:
            return queryset
        negative = selectors.NEGATIVE_REVIEW
        return queryset.filter(negative) if value else queryset.exclude(negative)


class CategoryFilter(django_filters.FilterSet):
    class Meta:
        model = Category
        fields = ["active"]


class CalendarFilter(django_filters.FilterSet):
    class Meta:
        model = BusinessCalendar
        fields = ["always_open", "country"]


class SlaPolicyFilter(django_filters.FilterSet):
    class Meta:
        model = SlaPolicy
        fields = ["active", "calendar"]
