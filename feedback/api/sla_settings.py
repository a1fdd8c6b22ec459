"""A CX lead's settings: /api/sla-policies/, /api/calendars/ and /api/feedback-categories/.

Saving a policy or a calendar re-targets the open items under it in a task (the change recorded on
each item); deleting one still in use is a 409 (cxplatform.api.exception_handler).
"""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from customers.models import ClientType
from cxplatform.api import router

from .. import services
from ..filters import CalendarFilter, CategoryFilter, SlaPolicyFilter
from ..models import BusinessCalendar, Category, SlaPolicy
from ..serializers import (
    CalendarSerializer,
    CategorySerializer,
    FillHolidaysResultSerializer,
    FillHolidaysSerializer,
    SlaPolicySerializer,
)
from ..services import calendar_save, policy_save


class CategoryViewSet(viewsets.ModelViewSet):
    """What items are about (delivery, billing ...). Retire one with `active: false`: items keep it."""

    queryset = Category.objects.all()
    serializer_class = CategorySerializer
    filterset_class = CategoryFilter
    search_fields = ["name"]
    ordering_fields = ["name"]


def ids_only(lookup: str, model) -> Prefetch:
    return Prefetch(lookup, queryset=model.objects.only("pk").order_by("pk"))


class SlaPolicyViewSet(viewsets.ModelViewSet):
    """SLA policies, tried in `position` order: the first whose every non-empty condition matches
    an item is its policy; one with no condition is the fallback. Targets are business minutes of
    the policy's calendar."""

    queryset = SlaPolicy.objects.select_related("calendar").prefetch_related(
        ids_only("categories", Category), ids_only("client_types", ClientType)
    )
    serializer_class = SlaPolicySerializer
    filterset_class = SlaPolicyFilter
    search_fields = ["name"]
    ordering_fields = ["position", "name", "updated_at"]

    def perform_create(self, serializer):
        policy = policy_save(data=serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=policy.pk)

    def perform_update(self, serializer):
        policy = policy_save(policy=serializer.instance, data=serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=policy.pk)


class CalendarViewSet(viewsets.ModelViewSet):
    """Business calendars: working hours per weekday (several intervals a day for a lunch break;
    `closes_at` 00:00 is midnight at the day's end) in a time zone, and holidays (whole days, or
    part days with `closed_from`/`closed_until`). Send `working_hours` or `holidays` to replace
    that whole set."""

    queryset = BusinessCalendar.objects.prefetch_related("working_hours", "holidays")
    serializer_class = CalendarSerializer
    filterset_class = CalendarFilter
    search_fields = ["name"]
    ordering_fields = ["name", "updated_at"]
    action_permissions = {"fill_holidays": ("change",)}

    def _save(self, serializer, calendar=None):
        data = dict(serializer.validated_data)
        saved = calendar_save(
            calendar=calendar,
            data=data,
            working_hours=data.pop("working_hours", None),
            holidays=data.pop("holidays", None),
        )
        serializer.instance = self.get_queryset().get(pk=saved.pk)

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer, serializer.instance)

    @extend_schema(request=FillHolidaysSerializer, responses={200: FillHolidaysResultSerializer})
    @action(detail=True, methods=["post"], url_path="fill-holidays")
    def fill_holidays(self, request, pk=None):
        """Add a country's public holidays for the given years as closed days (dates already there
        are kept); 400 naming `country` for a country or region the holidays library does not know."""
        params = FillHolidaysSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        calendar = self.get_object()
        added = services.calendar_fill_holidays(
            calendar=calendar,
            country=params.validated_data["country"],
            years=params.validated_data["years"],
            subdivision=params.validated_data.get("subdivision") or None,
        )
        calendar = self.get_queryset().get(pk=calendar.pk)
        result = {"added": added, "calendar": calendar}
        return Response(FillHolidaysResultSerializer(result, context=self.get_serializer_context()).data)


router.register("sla-policies", SlaPolicyViewSet)
router.register("calendars", CalendarViewSet)
router.register("feedback-categories", CategoryViewSet)
