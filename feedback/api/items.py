"""/api/complaints/: feedback items of every kind, their workflow, conversation and attachments.

Permissions are the role groups' model permissions (cxplatform.permissions.RolePermissions) on
FeedbackItem: moving an item or writing on it needs `change_feedbackitem`. An action that adds a
row of another model needs that model's `add` permission too (`extra_permissions`): a note or
reply adds an ItemMessage, an upload an Attachment; a download needs `view_attachment`.
"""

from django.http import FileResponse, Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from cxplatform.api import router
from cxplatform.permissions import RolePermissions

from .. import selectors, services
from ..filters import ItemFilter
from ..models import FeedbackItem
from ..serializers import (
    AttachmentUploadSerializer,
    ItemDetailSerializer,
    ItemSerializer,
    MessageInputSerializer,
    ReviewCountsSerializer,
    TransitionSerializer,
)
from ..services import attachment_add


class ExtraModelPermissions(BasePermission):
    """The permissions a view's action needs beyond those on its own model (RolePermissions)."""

    def has_permission(self, request, view):
        needed = getattr(view, "extra_permissions", {}).get(getattr(view, "action", None), ())
        return request.user.has_perms(needed)


MESSAGE = ("feedback.add_itemmessage",)


class ComplaintViewSet(viewsets.ModelViewSet):
    """Complaints, requests, suggestions, praise and public reviews: filter by `kind`. Each comes
    with its SLA clocks; one item also with its conversation, attachments and history in order."""

    queryset = selectors.item_list()
    serializer_class = ItemDetailSerializer
    filterset_class = ItemFilter
    search_fields = ["subject"]
    ordering_fields = ["created_at", "updated_at", "priority_rank", "resolved_at", "first_response_at"]
    permission_classes = [RolePermissions, ExtraModelPermissions]
    action_permissions = {
        "transition": ("change",),
        "reply": ("change",),
        "note": ("change",),
        "customer_message": ("change",),
        "attachments": ("change",),
        "attachment": ("view",),
        "review_counts": ("view",),
    }
    extra_permissions = {
        "reply": MESSAGE,
        "note": MESSAGE,
        "customer_message": MESSAGE,
        "attachments": ("feedback.add_attachment",),
        "attachment": ("feedback.view_attachment",),
    }

    def get_queryset(self):
        return selectors.item_list() if self.action == "list" else selectors.item_detail()

    def get_serializer_class(self):
        return ItemSerializer if self.action == "list" else ItemDetailSerializer

    def get_serializer_context(self):
        # One moment for the whole response: every clock of every row is read as of it.
        return {**super().get_serializer_context(), "now": timezone.now()}

    def _item_id(self) -> int:
        # Permission and existence only: the service loads the item under its row lock.
        item = get_object_or_404(FeedbackItem.objects.only("pk"), pk=self.kwargs["pk"])
        self.check_object_permissions(self.request, item)
        return item.pk

    def _item(self, item_id: int, status_code=status.HTTP_200_OK) -> Response:
        item = selectors.item_detail().get(pk=item_id)
        return Response(self.get_serializer(item).data, status=status_code)

    def perform_create(self, serializer):
        item = services.item_create(data=serializer.validated_data, by=self.request.user)
        serializer.instance = selectors.item_detail().get(pk=item.pk)

    def perform_update(self, serializer):
        item = services.item_update(
            item_id=serializer.instance.pk, data=serializer.validated_data, by=self.request.user
        )
        serializer.instance = selectors.item_detail().get(pk=item.pk)

    @extend_schema(request=TransitionSerializer, responses={200: ItemDetailSerializer})
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        """Move the item along its workflow: new -> in_progress -> waiting -> resolved -> closed,
        and reopened. A refused move is a 400 naming `status`; resolving and waiting need a `note`
        (waiting pauses the clocks, the customer's reply resumes them)."""
        params = TransitionSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        item_id = self._item_id()
        services.item_transition(
            item_id=item_id,
            to=params.validated_data["status"],
            note=params.validated_data["note"],
            by=request.user,
        )
        return self._item(item_id)

    def _message(self, request, write, **kwargs) -> Response:
        params = MessageInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        item_id = self._item_id()
        write(item_id=item_id, body=params.validated_data["body"], **kwargs)
        return self._item(item_id, status.HTTP_201_CREATED)

    @extend_schema(request=MessageInputSerializer, responses={201: ItemDetailSerializer})
    @action(detail=True, methods=["post"])
    def reply(self, request, pk=None):
        """Reply to the customer: it meets the first (and next) response target, and a new or
        reopened item goes in progress."""
        return self._message(request, services.item_reply, by=request.user)

    @extend_schema(request=MessageInputSerializer, responses={201: ItemDetailSerializer})
    @action(detail=True, methods=["post"])
    def note(self, request, pk=None):
        """An internal note for colleagues: it answers nobody and moves no clock."""
        return self._message(request, services.item_note, by=request.user)

    @extend_schema(request=MessageInputSerializer, responses={201: ItemDetailSerializer})
    @action(detail=True, methods=["post"], url_path="customer-message")
    def customer_message(self, request, pk=None):
        """Log what the customer wrote back (by phone, e-mail ...): an item waiting on them runs
        again, and a next response falls due if the policy sets one."""
        return self._message(request, services.item_customer_message, by=request.user)

    @extend_schema(
        request={"multipart/form-data": AttachmentUploadSerializer}, responses={201: ItemDetailSerializer}
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def attachments(self, request, pk=None):
        """Attach a file (multipart, field `file`, at most 10 MB)."""
        params = AttachmentUploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        item_id = self._item_id()
        attachment_add(item_id=item_id, by=request.user, **params.validated_data)
        return self._item(item_id, status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The file."),
            404: OpenApiResponse(description="No such attachment on this item."),
        },
        filters=False,
    )
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>[0-9]+)")
    def attachment(self, request, pk=None, attachment_id=None):
        """Download one attachment of the item."""
        item_id = self._item_id()
        attachment = FeedbackItem(pk=item_id).attachments.filter(pk=attachment_id).first()
        if attachment is None:
            raise Http404
        try:
            handle = attachment.file.open("rb")
        except FileNotFoundError:
            raise Http404 from None
        return FileResponse(handle, as_attachment=True, filename=attachment.name)

    @extend_schema(responses={200: ReviewCountsSerializer})
    @action(detail=False, methods=["get"], url_path="review-counts")
    def review_counts(self, request):
        """Public reviews among the items the filters select (e.g. `created_after`), how many are
        negative, and how many of those have a public answer."""
        items = self.filter_queryset(selectors.item_list())
        return Response(ReviewCountsSerializer(selectors.review_counts(items)).data)


router.register("complaints", ComplaintViewSet, basename="complaint")
