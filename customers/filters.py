import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from .models import ClientType, Customer, Event, EventKind, Segment, Touchpoint


class CustomerFilter(django_filters.FilterSet):
    # Filtered by slug; the schema says so explicitly (spectacular cannot infer it through the join).
    client_type = extend_schema_field(OpenApiTypes.STR)(
        django_filters.ModelMultipleChoiceFilter(
            field_name="client_type__slug", to_field_name="slug", queryset=ClientType.objects.all()
        )
    )
    segment = django_filters.ModelChoiceFilter(
        field_name="memberships__segment", queryset=Segment.objects.all(), label="Segment"
    )
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Customer
        fields = ["client_type", "lifecycle_stage", "service_class", "survey_consent", "segment", "language"]


class EventFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=EventKind.choices)
    customer_external_id = django_filters.CharFilter(field_name="customer__external_id")
    occurred_after = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Event
        fields = ["customer", "customer_external_id", "kind", "touchpoint"]


class SegmentFilter(django_filters.FilterSet):
    class Meta:
        model = Segment
        fields = ["is_active"]


class TouchpointFilter(django_filters.FilterSet):
    class Meta:
        model = Touchpoint
        fields = ["kind", "journey_stage", "is_active"]


class ClientTypeFilter(django_filters.FilterSet):
    class Meta:
        model = ClientType
        fields = ["is_builtin"]
