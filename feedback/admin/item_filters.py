"""The support desk list's own filters: open or done, SLA state, whose items, public reviews."""

from datetime import timedelta

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..models import NEGATIVE_REVIEW_RATING, ClockState, ItemKind, ItemStatus, SlaClock
from .common import person, staff_users

DUE_SOON = timedelta(hours=1)


class SlaFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [
            ("breached", "Breached"),
            ("due_soon", "Due within an hour"),
            ("paused", "Paused (waiting on the customer)"),
            ("none", "No SLA policy"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "breached":
            return queryset.filter(sla_breached=True)
        if self.value() == "due_soon":
            soon = SlaClock.objects.filter(
                item=OuterRef("pk"), state=ClockState.RUNNING, due_at__gt=now, due_at__lte=now + DUE_SOON
            )
            return queryset.filter(Exists(soon))
        if self.value() == "paused":
            return queryset.filter(status=ItemStatus.WAITING)
        if self.value() == "none":
            return queryset.filter(sla_policy__isnull=True)
        return queryset


class OpenFilter(admin.SimpleListFilter):
    title = "open or done"
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", "Open (clocks can run)"), ("no", "Resolved or closed")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            done = Q(status__in=[ItemStatus.RESOLVED, ItemStatus.CLOSED])
            return queryset.exclude(done) if self.value() == "yes" else queryset.filter(done)
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        return [("me", "Me"), ("none", "Nobody"), *((str(u.pk), person(u)) for u in staff_users())]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(assignee=request.user)
        if self.value() == "none":
            return queryset.filter(assignee__isnull=True)
        if self.value() and self.value().isdigit():
            return queryset.filter(assignee_id=int(self.value()))
        return queryset


class ReviewFilter(admin.SimpleListFilter):
    title = "public reviews"
    parameter_name = "reviews"

    def lookups(self, request, model_admin):
        return [
            ("negative", f"Negative (≤ {NEGATIVE_REVIEW_RATING} stars)"),
            ("unanswered", "Not answered in public yet"),
        ]

    def queryset(self, request, queryset):
        reviews = queryset.filter(kind=ItemKind.REVIEW)
        if self.value() == "negative":
            return reviews.filter(review_rating__lte=NEGATIVE_REVIEW_RATING)
        if self.value() == "unanswered":
            return reviews.filter(public_answer="")
        return queryset
