"""REST endpoints of the customers app: parse, call a service or selector, return."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cxplatform.api import router

from . import selectors, services
from .api_csv import CustomerCsvMixin, EventCsvMixin
from .event_ingest import EventBatchInvalid, parse_events
from .filters import ClientTypeFilter, CustomerFilter, EventFilter, SegmentFilter, TouchpointFilter
from .models import ClientType, Customer, Event, Segment, SegmentSnapshot, Touchpoint
from .segment_rules import validate_rules


class ClientTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClientType
        fields = ["id", "slug", "name", "guidance", "is_builtin"]
        read_only_fields = ["is_builtin"]


class TouchpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = Touchpoint
        fields = ["id", "name", "kind", "journey_stage", "description", "is_active"]


class CustomerSerializer(serializers.ModelSerializer):
    client_type = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=ClientType.objects.all(),
        required=False,
        allow_null=True,
        error_messages={
            "does_not_exist": 'Unknown client type "{value}"; use a slug from /api/client-types/.'
        },
    )
    client_type_guidance = serializers.CharField(source="client_type.guidance", read_only=True, default="")

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "email",
            "phone",
            "company",
            "external_id",
            "client_type",
            "client_type_guidance",
            "lifecycle_stage",
            "lifecycle_stage_changed_at",
            "service_class",
            "survey_consent",
            "survey_consent_channel",
            "language",
            "attributes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["lifecycle_stage_changed_at", "created_at", "updated_at"]

    def validate_attributes(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError('Must be a JSON object, e.g. {"city": "Kazan"}.')
        return value


class EventSerializer(serializers.ModelSerializer):
    customer_external_id = serializers.CharField(write_only=True, required=False)

    class Meta:
        model = Event
        fields = [
            "id",
            "customer",
            "customer_external_id",
            "kind",
            "occurred_at",
            "touchpoint",
            "amount",
            "data",
            "external_id",
            "recorded_at",
        ]
        extra_kwargs = {"customer": {"required": False}}


class SegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "rules",
            "is_active",
            "member_count",
            "refreshed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["member_count", "refreshed_at", "created_at", "updated_at"]

    def validate_rules(self, value):
        try:
            return validate_rules(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["rules"]) from exc


class SegmentPreviewSerializer(serializers.Serializer):
    rules = serializers.JSONField()

    validate_rules = SegmentSerializer.validate_rules


class SegmentSnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = SegmentSnapshot
        fields = ["computed_at", "member_count", "added", "removed"]


class ServiceWritesMixin:
    """Create and update through the app's service function instead of serializer.save()."""

    save_service = None  # a service taking (instance=None, data=...)
    instance_kwarg = None

    def perform_create(self, serializer):
        serializer.instance = type(self).save_service(data=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = type(self).save_service(
            data=serializer.validated_data, **{self.instance_kwarg: serializer.instance}
        )


class ClientTypeViewSet(ServiceWritesMixin, viewsets.ModelViewSet):
    queryset = ClientType.objects.all()
    serializer_class = ClientTypeSerializer
    filterset_class = ClientTypeFilter
    search_fields = ["name", "slug"]
    save_service = services.client_type_save
    instance_kwarg = "client_type"

    def perform_destroy(self, instance):
        services.client_type_delete(client_type=instance)


class TouchpointViewSet(ServiceWritesMixin, viewsets.ModelViewSet):
    queryset = Touchpoint.objects.all()
    serializer_class = TouchpointSerializer
    filterset_class = TouchpointFilter
    search_fields = ["name"]
    save_service = services.touchpoint_save
    instance_kwarg = "touchpoint"


class CustomerViewSet(CustomerCsvMixin, viewsets.ModelViewSet):
    queryset = selectors.customer_list()
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    search_fields = ["name", "email", "phone", "external_id", "company"]
    ordering_fields = ["name", "created_at", "updated_at", "lifecycle_stage_changed_at"]
    action_permissions = {"timeline": ("view",)}

    def perform_create(self, serializer):
        serializer.instance = services.customer_create(data=serializer.validated_data, by=self.request.user)

    def perform_update(self, serializer):
        serializer.instance = services.customer_update(
            customer=serializer.instance, data=serializer.validated_data, by=self.request.user
        )

    @extend_schema(responses=EventSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        """All of the customer's events, newest first."""
        customer = self.get_object()
        page = self.paginate_queryset(selectors.customer_timeline(customer_id=customer.pk))
        return self.get_paginated_response(EventSerializer(page, many=True).data)


class EventViewSet(
    EventCsvMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The customer event stream. POST one event (an object) or many (a list, up to tens of
    thousands at once); a list is stored all or none, and its errors are keyed by position."""

    queryset = selectors.event_list()
    serializer_class = EventSerializer
    filterset_class = EventFilter
    ordering_fields = ["occurred_at", "recorded_at"]

    @extend_schema(
        request=EventSerializer,
        responses={
            201: OpenApiResponse(
                description="The event (for one object) or, for a list, the counts stored and skipped.",
                response=EventSerializer,
            ),
            400: OpenApiResponse(description="Field errors, keyed by position for a list."),
        },
    )
    def create(self, request, *args, **kwargs):
        many = isinstance(request.data, list)
        items = request.data if many else [request.data]
        try:
            events = parse_events(items)
        except EventBatchInvalid as exc:
            body = {str(pos): errs for pos, errs in exc.errors.items()} if many else exc.errors[0]
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        result = services.events_record(events=events)
        if many:
            return Response(
                {"created": result.created, "duplicates": result.duplicates}, status=status.HTTP_201_CREATED
            )
        if result.duplicates:  # a resend of an event already stored: answer with the stored one
            stored = Event.objects.get(external_id=events[0].external_id)
            return Response(EventSerializer(stored).data, status=status.HTTP_200_OK)
        return Response(EventSerializer(events[0]).data, status=status.HTTP_201_CREATED)


class SegmentViewSet(ServiceWritesMixin, viewsets.ModelViewSet):
    queryset = selectors.segment_list()
    serializer_class = SegmentSerializer
    filterset_class = SegmentFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "member_count", "refreshed_at"]
    save_service = services.segment_save
    instance_kwarg = "segment"
    action_permissions = {
        "members": ("view",),
        "history": ("view",),
        "preview": ("view",),
        "refresh": ("change",),
    }

    @extend_schema(responses=CustomerSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def members(self, request, pk=None):
        """The customers in the segment as of its last refresh."""
        page = self.paginate_queryset(selectors.segment_members(segment=self.get_object()))
        return self.get_paginated_response(CustomerSerializer(page, many=True).data)

    @extend_schema(responses=SegmentSnapshotSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """The segment's size after each refresh, newest first."""
        page = self.paginate_queryset(selectors.segment_history(segment=self.get_object()))
        return self.get_paginated_response(SegmentSnapshotSerializer(page, many=True).data)

    @extend_schema(
        request=None,
        responses={202: inline_serializer("RefreshQueued", {"status": serializers.CharField()})},
    )
    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        """Recompute membership now, in the worker; `refreshed_at` moves when it is done."""
        services.segment_request_refresh(segment=self.get_object())
        return Response({"status": "queued"}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=SegmentPreviewSerializer,
        responses=inline_serializer(
            "SegmentPreview",
            {
                "count": serializers.IntegerField(),
                "sample": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    @action(detail=False, methods=["post"])
    def preview(self, request):
        """How many customers a rule set would match now, before saving it."""
        serializer = SegmentPreviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(selectors.segment_preview(rules=serializer.validated_data["rules"]))


router.register("client-types", ClientTypeViewSet)
router.register("touchpoints", TouchpointViewSet)
router.register("customers", CustomerViewSet)
router.register("events", EventViewSet)
router.register("segments", SegmentViewSet)
