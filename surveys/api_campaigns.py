"""REST endpoints for campaigns, the invitation ledger and responses (DESIGN.md's API section).

Permissions are the role groups' model permissions (cxplatform.permissions.RolePermissions):
- reading anything, the funnel and the dry run need `view`: a dry run changes nothing, so Support
  and Executives may check a campaign's reach too;
- launch and stop need `change_campaign`; an invitation's bounce needs `change_invitation`;
- an invitation's token (and its survey link) is a credential: it opens the customer's survey,
  answers in their name and unsubscribes them. Only users who may change invitations (CX lead,
  Admin) see it, e.g. to help a customer whose email went astray; for others it is null.
"""

from django.db.models import Prefetch, ProtectedError
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.response import Response as ApiResponse

from customers.models import ClientType, Customer, Segment
from cxplatform.api import router

from . import selectors, services
from .filters import CampaignFilter, InvitationFilter, ResponseFilter
from .models import Answer, Campaign, Invitation, Response
from .serializers import (
    BounceSerializer,
    CampaignSerializer,
    DryRunSerializer,
    FunnelSerializer,
    InvitationSerializer,
    ResponseSerializer,
)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def ids_only(lookup: str, model) -> Prefetch:
    # The representation lists ids; loading whole customers for an explicit audience would be waste.
    return Prefetch(lookup, queryset=model.objects.only("pk").order_by("pk"))


class CampaignViewSet(viewsets.ModelViewSet):
    """Survey campaigns. Create and edit a draft freely; once launched its survey, kind and channel
    are fixed, and a finished campaign is kept as it ran. Only a campaign never launched can be
    deleted (its ledger would go with it); stop a launched one instead."""

    queryset = Campaign.objects.select_related("survey").prefetch_related(
        ids_only("segments", Segment), ids_only("client_types", ClientType), ids_only("customers", Customer)
    )
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "launched_at", "finished_at", "status"]
    action_permissions = {
        "launch": ("change",),
        "stop": ("change",),
        "dry_run": ("view",),
        "funnel": ("view",),
    }

    def perform_create(self, serializer):
        campaign = services.campaign_save(data=serializer.validated_data, by=self.request.user)
        serializer.instance = self._fresh(campaign)

    def perform_update(self, serializer):
        campaign = services.campaign_save(
            campaign=serializer.instance, data=serializer.validated_data, by=self.request.user
        )
        serializer.instance = self._fresh(campaign)

    def _fresh(self, campaign: Campaign) -> Campaign:
        """The campaign as stored now, with its lists prefetched (a service may have changed it)."""
        return self.get_queryset().get(pk=campaign.pk)

    @extend_schema(
        responses={
            204: OpenApiResponse(description="Deleted."),
            409: OpenApiResponse(description="The campaign was launched: stop it instead."),
        }
    )
    def destroy(self, request, *args, **kwargs):
        try:
            services.campaign_delete(campaign=self.get_object())
        except ProtectedError as exc:
            raise Conflict(exc.args[0]) from None
        return ApiResponse(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def launch(self, request, pk=None):
        """Start the campaign: now, at its `send_at`, on its schedule, or on its events. Refused
        (400 naming the field) for an empty audience, a draft survey, or a campaign launched before."""
        campaign = services.campaign_launch(campaign=self.get_object())
        return ApiResponse(self.get_serializer(self._fresh(campaign)).data)

    @extend_schema(request=None, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        """Finish the campaign: nothing more is sent (queued invitations are cancelled, reminders
        stop); what was sent can still be answered. Stopping a finished campaign changes nothing."""
        campaign = services.campaign_stop(campaign=self.get_object())
        return ApiResponse(self.get_serializer(self._fresh(campaign)).data)

    @extend_schema(request=None, responses={200: DryRunSerializer})
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request, pk=None):
        """What a launch would do now: how many would be sent, deferred, and held back by reason.
        Changes nothing (needs only the view permission)."""
        result = selectors.campaign_dry_run(self.get_object(), timezone.now())
        return ApiResponse(DryRunSerializer(result).data)

    @extend_schema(responses={200: FunnelSerializer})
    @action(detail=True, methods=["get"])
    def funnel(self, request, pk=None):
        """Where every invitation is now, the cumulative funnel and the response rate (two queries;
        poll it while a campaign sends)."""
        campaign = self.get_object()
        result = selectors.campaign_funnel(campaign, timezone.now())
        # The status tells a poller when to stop: a one-off campaign is finished once all is sent.
        return ApiResponse(FunnelSerializer({**result, "status": campaign.status}).data)


class InvitationViewSet(viewsets.ReadOnlyModelViewSet):
    """The invitation ledger: one row per customer asked, each step timestamped. Written by the
    sending machinery; through the API only a bounce can be reported."""

    # Of the customer only the name is shown: no need to load their attributes with every row.
    queryset = Invitation.objects.select_related("customer").only(
        *(f.name for f in Invitation._meta.concrete_fields), "customer__name"
    )
    serializer_class = InvitationSerializer
    filterset_class = InvitationFilter
    search_fields = ["customer__name", "customer__email", "customer__external_id"]
    ordering_fields = ["queued_at", "sent_at", "opened_at", "answered_at", "send_after", "id"]
    action_permissions = {"bounce": ("change",)}

    def get_serializer_context(self):
        context = super().get_serializer_context()
        user = self.request.user if self.request else None
        context["show_tokens"] = bool(user and user.has_perm("surveys.change_invitation"))
        return context

    @extend_schema(request=BounceSerializer, responses={200: InvitationSerializer})
    @action(detail=True, methods=["post"])
    def bounce(self, request, pk=None):
        """Record a bounce reported after sending (a provider's webhook): no reminders follow, and
        the invitation no longer counts as delivered. 400 if it was never sent."""
        params = BounceSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        invitation = services.invitation_mark_bounced(
            invitation=self.get_object(), reason=params.validated_data.get("reason", "")
        )
        return ApiResponse(self.get_serializer(self.get_queryset().get(pk=invitation.pk)).data)


class ResponseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Survey responses with their answers; partial ones (the customer left midway) included,
    `completed` tells them apart."""

    queryset = Response.objects.prefetch_related(
        Prefetch("answers", queryset=Answer.objects.select_related("question"))
    )
    serializer_class = ResponseSerializer
    filterset_class = ResponseFilter
    # Finds the comments that mention something ("delivery"), or a customer's responses.
    search_fields = ["answers__text", "customer__name", "customer__email"]
    ordering_fields = ["started_at", "completed_at", "id"]


router.register("campaigns", CampaignViewSet)
router.register("invitations", InvitationViewSet)
router.register("responses", ResponseViewSet)
