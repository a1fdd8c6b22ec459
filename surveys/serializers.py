"""Serializers of the campaign, invitation and response endpoints (surveys/api_campaigns.py)."""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from customers.models import ClientType, Customer, EventKind, LifecycleStage, Segment, ServiceClass

from .models import Answer, Campaign, HeldBackReason, Invitation, InvitationStatus, Response
from .services.campaigns import AUDIENCE_LISTS, CAMPAIGN_FIELDS

ID_LOOKUP_CHUNK = 5000  # keeps `pk IN (...)` under SQLite's bound-parameter limit


class IdListField(serializers.ListField):
    """A list of ids of existing rows, checked in one query per few thousand ids.

    DRF's PrimaryKeyRelatedField(many=True) looks each id up on its own: an explicit audience of
    2,000 customers would be 2,000 queries. Returns the ids; the service's `.set()` takes them.
    """

    child = serializers.IntegerField(min_value=1)

    def __init__(self, *, model, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        ids = list(dict.fromkeys(super().to_internal_value(data)))
        found = set()
        for start in range(0, len(ids), ID_LOOKUP_CHUNK):
            chunk = ids[start : start + ID_LOOKUP_CHUNK]
            found.update(self.model.objects.filter(pk__in=chunk).values_list("pk", flat=True))
        if missing := [pk for pk in ids if pk not in found]:
            shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
            raise serializers.ValidationError(f"Unknown {self.model._meta.verbose_name} id(s): {shown}.")
        return ids

    def to_representation(self, value):
        return [obj.pk for obj in value.all()]  # the viewset prefetches the ids


def values_of(choices) -> str:
    return ", ".join(value for value, _ in choices)


def choice_list(choices, what: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(
            choices=choices,
            error_messages={"invalid_choice": f'Unknown {what} "{{input}}"; use {values_of(choices)}.'},
        ),
        required=False,
        help_text=f"Any of: {values_of(choices)}.",
    )


class CampaignSerializer(serializers.ModelSerializer):
    survey_name = serializers.CharField(source="survey.name", read_only=True)
    segments = IdListField(model=Segment, required=False, help_text="Segment ids; replaces the list.")
    client_types = IdListField(
        model=ClientType, required=False, help_text="Client type ids; replaces the list."
    )
    customers = IdListField(
        model=Customer, required=False, help_text="Customer ids invited on top of the criteria."
    )
    lifecycle_stages = choice_list(LifecycleStage.choices, "lifecycle stage")
    # ServiceClass and EventKind are enums of the customers API already (Customer.service_class,
    # Event.kind). Declared as enums here too, drf-spectacular warns about one choice set under two
    # names and `check --deploy` fails, until SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] names them
    # ("ServiceClassEnum", "EventKindEnum"). Until then: plain strings, checked by Campaign.clean and
    # the model field's choices (a 400 naming the field either way).
    service_classes = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text=f"Any of: {values_of(ServiceClass.choices)}.",
    )
    trigger_event_kind = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        help_text=f"Event-triggered campaigns: one of {values_of(EventKind.choices)}.",
    )
    email_subject = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text='Per language, e.g. {"en": "Two minutes for us?"}; empty: the standard subject.',
    )
    public_link = serializers.SerializerMethodField(
        help_text="The anonymous survey link to share (link campaigns only)."
    )

    class Meta:
        model = Campaign
        # What a CX lead sets is the service's list (one place to add a field), then the run state.
        fields = [
            "id",
            *CAMPAIGN_FIELDS,
            *AUDIENCE_LISTS,
            "survey_name",
            "status",
            "public_link",
            "created_by",
            "created_at",
            "launched_at",
            "finished_at",
            "next_run_at",
            "runs",
        ]
        read_only_fields = ["created_at"]  # the rest of the run state is editable=False on the model

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_public_link(self, campaign: Campaign) -> str | None:
        if campaign.channel != Campaign.Channel.LINK:
            return None
        return settings.SITE_URL + reverse("survey-page", args=[campaign.link_token])


def counts_serializer(name: str, keys: list[str], doc: str) -> type[serializers.Serializer]:
    """A serializer with one count per key, so the schema names every status or reason. A key
    missing from the selector's dict counts 0 (a link campaign's dry run has no reasons at all)."""
    fields = {key: serializers.IntegerField(read_only=True, default=0) for key in keys}
    return type(name, (serializers.Serializer,), {**fields, "__doc__": doc})


HeldBackCountsSerializer = counts_serializer(
    "HeldBackCountsSerializer", HeldBackReason.values, "How many are held back, by reason."
)
StatusCountsSerializer = counts_serializer(
    "StatusCountsSerializer", InvitationStatus.values, "How many invitations are in each status now."
)


class DryRunSerializer(serializers.Serializer):
    """What launching now would do. Link campaigns have no audience: the counts are null."""

    audience = serializers.IntegerField(allow_null=True, help_text="Customers the criteria match.")
    would_send = serializers.IntegerField(allow_null=True, help_text="Invited at once.")
    deferred = serializers.IntegerField(help_text="Quarantined now; invited on the first allowed date.")
    held_back = HeldBackCountsSerializer()
    held_back_total = serializers.IntegerField()


class FunnelStepsSerializer(serializers.Serializer):
    invited = serializers.IntegerField(help_text="Invitations not held back.")
    delivered = serializers.IntegerField(help_text="Sent and not bounced.")
    opened = serializers.IntegerField()
    answered = serializers.IntegerField()


class ResponseCountsSerializer(serializers.Serializer):
    complete = serializers.IntegerField()
    partial = serializers.IntegerField(help_text="Started and left midway (kept).")


class FunnelSerializer(serializers.Serializer):
    """The campaign's ledger now; cheap enough to poll while it sends."""

    # A string, not a second enum of Campaign.Status (drf-spectacular would warn about the collision).
    status = serializers.CharField(help_text=f"The campaign's status: {values_of(Campaign.Status.choices)}.")
    invitations = serializers.IntegerField()
    by_status = StatusCountsSerializer()
    held_back = HeldBackCountsSerializer()
    deferred = serializers.IntegerField(help_text="Queued for a later date (quarantine, trigger delay).")
    funnel = FunnelStepsSerializer()
    reminded = serializers.IntegerField(help_text="Invitations that got at least one reminder.")
    responses = ResponseCountsSerializer()
    response_rate = serializers.FloatField(
        allow_null=True, help_text="Answered / delivered, 0-1; null until something is delivered."
    )


class InvitationSerializer(serializers.ModelSerializer):
    """One line of the ledger. `token` and `survey_link` open the customer's own survey page, so
    they are shown only to users who may change invitations (CX lead, Admin); null for others."""

    customer_name = serializers.CharField(source="customer.name", read_only=True)
    token = serializers.SerializerMethodField()
    survey_link = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = [
            "id",
            "campaign",
            "customer",
            "customer_name",
            "wave",
            "trigger_event",
            "language",
            "status",
            "held_back_reason",
            "send_after",
            "attempts",
            "last_error",
            "reminders_sent",
            "next_reminder_at",
            "expires_at",
            "queued_at",
            "dispatched_at",
            "claimed_at",
            "sent_at",
            "opened_at",
            "answered_at",
            "held_back_at",
            "failed_at",
            "bounced_at",
            "unsubscribed_at",
            "expired_at",
            "cancelled_at",
            "token",
            "survey_link",
        ]
        read_only_fields = fields

    def _shows_token(self) -> bool:
        return bool(self.context.get("show_tokens"))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_token(self, invitation: Invitation) -> str | None:
        return invitation.token if self._shows_token() else None

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_survey_link(self, invitation: Invitation) -> str | None:
        if not self._shows_token():
            return None
        return settings.SITE_URL + reverse("survey-page", args=[invitation.token])


class BounceSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="What the provider reported."
    )


class AnswerSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="question.kind", read_only=True)

    class Meta:
        model = Answer
        fields = ["question", "kind", "score", "choices", "text"]
        read_only_fields = fields


class ResponseSerializer(serializers.ModelSerializer):
    completed = serializers.SerializerMethodField(help_text="Submitted with every required answer.")
    answers = AnswerSerializer(many=True, read_only=True)

    class Meta:
        model = Response
        fields = [
            "id",
            "campaign",
            "survey",
            "invitation",
            "customer",
            "language",
            "started_at",
            "updated_at",
            "completed_at",
            "completed",
            "answers",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_completed(self, response: Response) -> bool:
        return response.completed_at is not None
