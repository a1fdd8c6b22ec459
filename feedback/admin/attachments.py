"""Attachments on an item's page: uploaded there (with a size limit), and served by the admin to
those who may see the item, since customers' files are not public media."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from ..models import Attachment
from .common import person

ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024  # as the API's upload limit: e-mail-sized, not archives


class AttachmentForm(forms.ModelForm):
    """An upload: the file's name and size are taken from it. Attachments are never edited: one
    sent by mistake is deleted (by a role that may) and the right one added."""

    upload = forms.FileField(label="File", required=True)

    class Meta:
        fields: list[str] = []

    def clean_upload(self):
        upload = self.cleaned_data["upload"]
        if upload.size > ATTACHMENT_MAX_BYTES:
            limit = ATTACHMENT_MAX_BYTES // (1024 * 1024)
            raise ValidationError(
                f"{upload.name} is {upload.size / 1048576:.1f} MB; the limit is {limit} MB."
            )
        self.instance.file = upload
        self.instance.name = upload.name[:200]
        self.instance.size = upload.size
        return upload


class AttachmentInline(admin.TabularInline):
    model = Attachment
    form = AttachmentForm
    fields = ["upload", "download", "size_shown", "uploader", "uploaded"]
    readonly_fields = ["download", "size_shown", "uploader", "uploaded"]
    extra = 1
    verbose_name_plural = "Attachments"

    def has_change_permission(self, request, obj=None):
        return False  # a wrong file is deleted (by a role that may) and the right one added

    @admin.display(description="Attachment")
    def download(self, obj):
        if not obj.pk:
            return ""
        url = reverse("admin:feedback_feedbackitem_attachment", args=[obj.item_id, obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.name)

    @admin.display(description="Size")
    def size_shown(self, obj):
        return f"{obj.size / 1024:.0f} KB" if obj.pk else ""

    @admin.display(description="Uploaded by")
    def uploader(self, obj):
        return person(obj.uploaded_by) if obj.pk else ""

    @admin.display(description="Uploaded at")
    def uploaded(self, obj):
        return f"{timezone.localtime(obj.uploaded_at):%Y-%m-%d %H:%M}" if obj.pk else ""

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("uploaded_by")


def attachment_response(request, item_admin, item_id: int, pk: int) -> FileResponse:
    attachment = Attachment.objects.select_related("item").filter(pk=pk, item_id=item_id).first()
    if attachment is None:
        raise Http404("No such attachment.")
    may_see = item_admin.has_view_permission(request, attachment.item)
    if not (may_see and request.user.has_perm("feedback.view_attachment")):
        raise PermissionDenied
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("The file is missing from storage.") from exc
    return FileResponse(handle, as_attachment=True, filename=attachment.name)
