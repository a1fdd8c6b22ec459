"""CSV import and export endpoints, mixed into the customer and event viewsets:
POST <list>/import/ (multipart `file`, optional `dry_run`) and GET <list>/export/ (the list's filters).
"""

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotAcceptable, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from .csv_io import CSV_FORMATS, MAX_FILE_BYTES, CsvFileInvalid, CsvFormat, csv_text


def csv_download(rows, *, name: str) -> StreamingHttpResponse:
    """Stream rows as a CSV attachment named like customers-2026-11-23.csv."""
    response = StreamingHttpResponse(csv_text(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.localdate():%Y-%m-%d}.csv"'
    return response


class CsvUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=f"A CSV file with a header row, at most {MAX_FILE_BYTES} bytes.")
    dry_run = serializers.BooleanField(
        default=False, help_text="Check and report without storing anything (a preview)."
    )


_error = inline_serializer(
    "CsvRowError",
    {
        "line": serializers.IntegerField(),
        "field": serializers.CharField(),
        "message": serializers.CharField(),
    },
)
_report_fields = {
    "rejected": serializers.IntegerField(help_text="Rows skipped for their errors."),
    "total_rows": serializers.IntegerField(),
    "dry_run": serializers.BooleanField(),
    "errors": _error.__class__(many=True, help_text="Line 1 is the header; the first customer is line 2."),
    "errors_truncated": serializers.BooleanField(help_text="Only the first 1,000 errors are listed."),
}
CUSTOMER_REPORT = inline_serializer(
    "CustomerCsvImportReport",
    {
        "created": serializers.IntegerField(),
        "updated": serializers.IntegerField(),
        "unchanged": serializers.IntegerField(),
        **_report_fields,
    },
)
EVENT_REPORT = inline_serializer(
    "EventCsvImportReport",
    {
        "created": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(help_text="Rows whose external_id is stored already."),
        **_report_fields,
    },
)
FILE_UNREADABLE = OpenApiResponse(
    description="The file cannot be read as a whole; the message is under `file`."
)
CSV_BODY = {(200, "text/csv"): OpenApiResponse(response=OpenApiTypes.BINARY, description="The CSV file.")}


class _CsvOrJson(DefaultContentNegotiation):
    """Errors are JSON; a client asking for text/csv gets the CSV rather than a 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type


class _CsvMixin:
    # Import writes; customers need add and change because a file updates known customers. Merged
    # into the viewset's own action_permissions on subclassing (see __init_subclass__).
    csv_action_permissions: dict[str, tuple[str, ...]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Merged here rather than left to each viewset: a viewset that forgot would fall back to
        # POST's "add" alone, letting an add-only role overwrite customers by file.
        cls.action_permissions = {**cls.csv_action_permissions, **getattr(cls, "action_permissions", {})}

    def _csv_format(self) -> CsvFormat:
        return CSV_FORMATS[self.get_queryset().model]

    def _csv_import(self, request) -> Response:
        upload = CsvUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        try:
            report = self._csv_format().import_csv(
                file=upload.validated_data["file"], dry_run=upload.validated_data["dry_run"], by=request.user
            )
        except CsvFileInvalid as exc:
            raise ValidationError({"file": [str(exc)]}) from exc
        return Response(report.as_dict())

    def _csv_export(self, request) -> StreamingHttpResponse:
        csv_format = self._csv_format()
        return csv_download(
            csv_format.export_rows(self.filter_queryset(self.get_queryset())), name=csv_format.name
        )


class CustomerCsvMixin(_CsvMixin):
    csv_action_permissions = {"import_csv": ("add", "change"), "export_csv": ("view",)}

    @extend_schema(
        request={"multipart/form-data": CsvUploadSerializer},
        responses={200: CUSTOMER_REPORT, 400: FILE_UNREADABLE},
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_csv(self, request):
        """Create or update customers from a CSV file, matched on external_id; good rows are stored,
        bad ones reported by line and field. A row the same as the stored customer is not written."""
        return self._csv_import(request)

    @extend_schema(responses=CSV_BODY, filters=True)
    @action(detail=False, methods=["get"], url_path="export", content_negotiation_class=_CsvOrJson)
    def export_csv(self, request):
        """The customers the list's filters select, as CSV that imports back unchanged."""
        return self._csv_export(request)


class EventCsvMixin(_CsvMixin):
    csv_action_permissions = {"import_csv": ("add",), "export_csv": ("view",)}

    @extend_schema(
        request={"multipart/form-data": CsvUploadSerializer},
        responses={200: EVENT_REPORT, 400: FILE_UNREADABLE},
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_csv(self, request):
        """Add events from a CSV file; good rows are stored, bad ones reported by line and field.
        A row whose external_id is stored already counts as a duplicate and is not added again."""
        return self._csv_import(request)

    @extend_schema(responses=CSV_BODY, filters=True)
    @action(detail=False, methods=["get"], url_path="export", content_negotiation_class=_CsvOrJson)
    def export_csv(self, request):
        """The events the list's filters select, as CSV."""
        return self._csv_export(request)
