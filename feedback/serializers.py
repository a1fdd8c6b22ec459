"""Serializers of the feedback endpoints (feedback/api/)."""

import zoneinfo
from dataclasses import asdict
from functools import cache

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.models import ClientType, ServiceClass

from . import selectors
from .models import (
    Attachment,
    BusinessCalendar,
    Category,
    Channel,
    FeedbackItem,
    Holiday,
    ItemKind,
    ItemMessage,
    Priority,
    SlaPolicy,
    WorkingHours,
)
from .services import ITEM_FIELDS, clock_reading, sla_summary

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


@cache
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def status_page_url(item: FeedbackItem) -> str:
    # The public page is built by another part of the app; its address is fixed by DESIGN.md.
    return f"{settings.SITE_URL}/r/{item.status_token}/"


# --- items -------------------------------------------------------------------------------------


class ClockReadingSerializer(serializers.Serializer):
    """One SLA target of an item as of the request (services.clock_reading)."""

    target = serializers.CharField(help_text="first_response, next_response or resolution.")
    state = serializers.CharField(help_text="running, paused, met or stopped.")
    due_at = serializers.DateTimeField(
        allow_null=True, help_text="While running: when the target is reached."
    )
    target_seconds = serializers.IntegerField(help_text="Business seconds allowed.")
    used_seconds = serializers.IntegerField(help_text="Business seconds used so far.")
    remaining_seconds = serializers.IntegerField()
    overdue_seconds = serializers.IntegerField(help_text="How far past the target (0 if within it).")
    paused = serializers.BooleanField()
    paused_seconds = serializers.FloatField(help_text="Calendar seconds spent waiting on the customer.")
    met = serializers.BooleanField(help_text="Stopped within the target.")
    breached = serializers.BooleanField()
    calendar_time_zone = serializers.CharField(help_text="The zone the policy's working hours are in.")


class MessageSerializer(serializers.ModelSerializer):
    author_name = serializers.SerializerMethodField()

    class Meta:
        model = ItemMessage
        fields = ["id", "kind", "body", "author", "author_name", "created_at"]
        read_only_fields = fields

    def get_author_name(self, message: ItemMessage) -> str:
        return selectors.person_name(message.author)


class AttachmentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "name", "size", "uploaded_by", "uploaded_at", "download_url"]
        read_only_fields = fields

    def get_download_url(self, attachment: Attachment) -> str:
        path = reverse("complaint-attachment", args=[attachment.item_id, attachment.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class HistoryEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="created, change, or a message: note, reply, customer.")
    by = serializers.CharField(help_text="The staff member; empty for the system or the customer.")
    field = serializers.CharField(help_text="Changes: status, priority, assignee, sla or clock.")
    old_value = serializers.CharField()
    new_value = serializers.CharField()
    note = serializers.CharField()
    body = serializers.CharField(help_text="Messages: the text.")


class ItemSerializer(serializers.ModelSerializer):
    """A feedback item of any kind. Its status moves only through POST .../transition/ (and replies);
    the SLA policy and the moments are kept by the workflow."""

    customer_name = serializers.CharField(source="customer.name", read_only=True, default="")
    negative_review = serializers.BooleanField(source="is_negative_review", read_only=True)
    status_page_url = serializers.SerializerMethodField(
        help_text="The request-status page to give the customer."
    )
    clocks = serializers.SerializerMethodField(
        help_text="Each SLA target: due, used, remaining, met or breached."
    )

    class Meta:
        model = FeedbackItem
        fields = [
            "id",
            *ITEM_FIELDS,
            "customer_name",
            "status",
            "sla_policy",
            "created_at",
            "created_by",
            "updated_at",
            "first_response_at",
            "resolved_at",
            "closed_at",
            "reopened_count",
            "resolution_note",
            "public_answered_at",
            "negative_review",
            "status_page_url",
            "clocks",
        ]
        read_only_fields = ["created_at", "public_answered_at"]

    def validate_time_zone(self, value: str) -> str:
        if value and value not in time_zones():
            raise serializers.ValidationError(
                f'Unknown time zone "{value}"; use a name like "Europe/Moscow".'
            )
        return value

    def validate(self, attrs):
        # A read-only field would be dropped silently; saying so beats a status that did not move.
        # The same status sent back (a GET edited and PUT) changes nothing and passes.
        current = self.instance.status if self.instance else None
        if "status" in self.initial_data and self.initial_data["status"] != current:
            raise serializers.ValidationError(
                {"status": "Change the status with POST /api/complaints/{id}/transition/."}
            )
        return attrs

    def get_status_page_url(self, item: FeedbackItem) -> str:
        return status_page_url(item)

    @extend_schema_field(ClockReadingSerializer(many=True))
    def get_clocks(self, item: FeedbackItem) -> list[dict]:
        now = self.context["now"]
        readings = [
            {
                **asdict(clock_reading(clock, now)),
                "target_seconds": clock.target_seconds,
                "calendar_time_zone": clock.policy.calendar.time_zone,
            }
            for clock in item.clocks.all()
        ]
        return ClockReadingSerializer(readings, many=True).data


class ItemDetailSerializer(ItemSerializer):
    messages = MessageSerializer(many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    history = serializers.SerializerMethodField(help_text="Changes and messages, in the order they happened.")

    class Meta(ItemSerializer.Meta):
        fields = [*ItemSerializer.Meta.fields, "messages", "attachments", "history"]

    @extend_schema_field(HistoryEntrySerializer(many=True))
    def get_history(self, item: FeedbackItem) -> list[dict]:
        return HistoryEntrySerializer(selectors.item_history(item), many=True).data


class TransitionSerializer(serializers.Serializer):
    # A string, checked by the service against the workflow (a 400 naming `status` either way).
    status = serializers.CharField(max_length=12, help_text="The status to move to.")
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Why; required to resolve (the resolution) and to wait on the customer (what is asked).",
    )


class MessageInputSerializer(serializers.Serializer):
    # Blank is the service's to refuse, with its own message naming `body`.
    body = serializers.CharField(allow_blank=True, max_length=20000, trim_whitespace=False)


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=f"At most {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB.")
    name = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Default: the file's name."
    )

    def validate_file(self, file):
        if file.size > MAX_ATTACHMENT_BYTES:
            raise serializers.ValidationError(
                f"The file is {file.size / (1024 * 1024):.1f} MB; attachments are limited to "
                f"{MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB."
            )
        return file


class ReviewCountsSerializer(serializers.Serializer):
    reviews = serializers.IntegerField(help_text="Public reviews among the listed items.")
    negative = serializers.IntegerField(help_text="Rated 2 or lower.")
    negative_answered = serializers.IntegerField(help_text="Negative, with a public answer recorded.")
    negative_unanswered = serializers.IntegerField()


# --- SLA settings ------------------------------------------------------------------------------


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "description", "active"]


class WorkingHoursSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkingHours
        fields = ["weekday", "opens_at", "closes_at"]


class HolidaySerializer(serializers.ModelSerializer):
    class Meta:
        model = Holiday
        fields = ["date", "name", "closed_from", "closed_until"]


class CalendarSerializer(serializers.ModelSerializer):
    working_hours = WorkingHoursSerializer(
        many=True, required=False, help_text="Every open interval of the week; replaces them all."
    )
    holidays = HolidaySerializer(
        many=True, required=False, help_text="Closed days or part days; replaces them all."
    )

    class Meta:
        model = BusinessCalendar
        fields = [
            "id",
            "name",
            "time_zone",
            "always_open",
            "country",
            "working_hours",
            "holidays",
            "updated_at",
        ]
        read_only_fields = ["country", "updated_at"]  # country: set by fill-holidays


class FillHolidaysSerializer(serializers.Serializer):
    country = serializers.CharField(max_length=8, help_text='ISO 3166 code, e.g. "RU".')
    years = serializers.ListField(
        child=serializers.IntegerField(min_value=1950, max_value=2100), min_length=1, max_length=20
    )
    subdivision = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text='A region, e.g. "NY" of "US".'
    )


class FillHolidaysResultSerializer(serializers.Serializer):
    added = serializers.IntegerField(help_text="Holidays new to the calendar (known dates are kept).")
    calendar = CalendarSerializer()


def values_of(choices) -> str:
    return ", ".join(value for value, _ in choices)


def condition_list(choices, what: str) -> serializers.ListField:
    # Plain strings, checked by SlaPolicy.clean (a 400 naming the field): as choice fields they
    # would be second enums named like the items' fields in the schema.
    return serializers.ListField(
        child=serializers.CharField(), required=False, help_text=f"{what}, any of: {values_of(choices)}."
    )


class SlaPolicySerializer(serializers.ModelSerializer):
    priorities = condition_list(Priority.choices, "Priorities")
    kinds = condition_list(ItemKind.choices, "Kinds")
    channels = condition_list(Channel.choices, "Channels")
    service_classes = condition_list(ServiceClass.choices, "Customers' service classes")
    categories = serializers.PrimaryKeyRelatedField(
        many=True,
        required=False,
        queryset=Category.objects.all(),
        help_text="Category ids; replaces the list.",
    )
    client_types = serializers.PrimaryKeyRelatedField(
        many=True,
        required=False,
        queryset=ClientType.objects.all(),
        help_text="Client type ids; replaces the list.",
    )
    summary = serializers.SerializerMethodField()

    class Meta:
        model = SlaPolicy
        fields = [
            "id",
            "name",
            "position",
            "active",
            "calendar",
            "priorities",
            "kinds",
            "channels",
            "service_classes",
            "categories",
            "client_types",
            "first_response_minutes",
            "next_response_minutes",
            "resolution_minutes",
            "warn_at_percent",
            "lead",
            "escalate_to_priority",
            "escalate_to_assignee",
            "summary",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]

    def get_summary(self, policy: SlaPolicy) -> str:
        return sla_summary(policy)
