"""CSV import and export in the admin, for the Customer and Event admins.

Import is two steps: upload, see a dry-run preview (counts and every bad row by line and field),
then confirm. Between the steps the upload waits in a file under var/csv-imports/ named by a
random token that only the uploader's session knows.
"""

import secrets
import time
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR, IncorrectLookupParameters
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .api_csv import csv_download
from .csv_io import CSV_FORMATS, MAX_FILE_BYTES, CsvFileInvalid, CsvFormat, ImportReport

SESSION_KEY = "csv_imports"
PENDING_MAX_AGE = 24 * 3600  # an upload never confirmed is deleted after a day


class CsvUploadForm(forms.Form):
    file = forms.FileField(label="CSV file")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it into smaller files."
            )
        return upload


def _pending_dir() -> Path:
    folder = Path(getattr(settings, "CSV_IMPORT_DIR", Path(settings.VAR_DIR) / "csv-imports"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _forget_stale_uploads(folder: Path) -> None:
    cutoff = time.time() - PENDING_MAX_AGE
    for stale in folder.glob("*.csv"):
        if stale.stat().st_mtime < cutoff:
            stale.unlink(missing_ok=True)


class CsvImportExportAdminMixin:
    """Put before admin.ModelAdmin; CSV_FORMATS says which import and export the model uses."""

    change_list_template = "admin/customers/change_list_csv.html"
    csv_import_template = "admin/customers/csv_import.html"

    def _csv_format(self) -> CsvFormat:
        return CSV_FORMATS[self.model]

    def has_csv_import_permission(self, request) -> bool:
        opts = self.opts
        return request.user.has_perms(
            [
                f"{opts.app_label}.{get_permission_codename(action, opts)}"
                for action in self._csv_format().import_permissions
            ]
        )

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            # Ahead of the model admin's own patterns, whose <path:object_id>/ would take them.
            path("import/", self.admin_site.admin_view(self.csv_import_view), name=f"{name}_import_csv"),
            path("export/", self.admin_site.admin_view(self.csv_export_view), name=f"{name}_export_csv"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {"csv_can_import": self.has_csv_import_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra_context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Added here, not in `actions`, so the model admin's own list of actions needs no mention of it.
        if self.actions is not None and IS_POPUP_VAR not in request.GET and self.has_view_permission(request):
            export = CsvImportExportAdminMixin.export_selected_csv
            actions["export_selected_csv"] = (export, "export_selected_csv", export.short_description)
        return actions

    @admin.action(description="Export selected to CSV")
    def export_selected_csv(self, request, queryset):
        return csv_download(self._csv_format().export_rows(queryset), name=self._csv_format().name)

    def csv_export_view(self, request):
        """Everything the change list shows with its current filters and search, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            return redirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
        return csv_download(self._csv_format().export_rows(queryset), name=self._csv_format().name)

    def csv_import_view(self, request):
        if not self.has_csv_import_permission(request):
            raise PermissionDenied
        if request.method == "POST" and "token" in request.POST:
            return self._csv_confirm(request, request.POST["token"])
        form = CsvUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            content = form.cleaned_data["file"].read()
            try:
                report = self._csv_format().import_csv(file=content, dry_run=True, by=request.user)
            except CsvFileInvalid as exc:
                form.add_error("file", str(exc))
            else:
                token = self._csv_keep(request, content)
                return self._csv_render(request, form=None, report=report, token=token)
        return self._csv_render(request, form=form, report=None, token=None)

    def _csv_keep(self, request, content: bytes) -> str:
        folder = _pending_dir()
        _forget_stale_uploads(folder)
        token = secrets.token_urlsafe(24)
        (folder / f"{token}.csv").write_bytes(content)
        pending = request.session.get(SESSION_KEY, {})
        pending[token] = self.opts.label_lower
        request.session[SESSION_KEY] = pending
        return token

    def _csv_confirm(self, request, token: str):
        pending = request.session.get(SESSION_KEY, {})
        # Only a token this session was given names a file, so no path comes from the request.
        stored = _pending_dir() / f"{token}.csv" if pending.get(token) == self.opts.label_lower else None
        if stored is None or not stored.exists():
            messages.error(request, "That upload has expired or was imported already; upload the file again.")
            return HttpResponseRedirect(request.path)
        try:
            report = self._csv_format().import_csv(file=stored.read_bytes(), by=request.user)
        except CsvFileInvalid as exc:  # cannot happen to a file that passed the preview, but be exact
            messages.error(request, str(exc))
            return HttpResponseRedirect(request.path)
        finally:
            stored.unlink(missing_ok=True)
            pending.pop(token, None)
            request.session[SESSION_KEY] = pending
        done = ", ".join(f"{report.as_dict()[name]} {name}" for name in report.counted)
        messages.success(request, f"Imported: {done}; {report.rejected} row(s) skipped for errors.")
        return self._csv_render(request, form=None, report=report, token=None)

    def _csv_render(self, request, *, form, report: ImportReport | None, token: str | None):
        opts = self.opts
        counts = []
        if report is not None:
            labels = {
                "created": "to create" if report.dry_run else "created",
                "updated": "to update" if report.dry_run else "updated",
                "unchanged": "unchanged",
                "duplicates": "already stored (skipped)",
            }
            counts = [(labels[name], getattr(report, name)) for name in report.counted]
            counts += [
                ("rows with errors (skipped)", report.rejected),
                ("rows in the file", report.total_rows),
            ]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Import {opts.verbose_name_plural} from CSV",
            "opts": opts,
            "app_label": opts.app_label,
            "has_view_permission": self.has_view_permission(request),
            "form": form,
            "report": report,
            "counts": counts,
            "token": token,
            "can_confirm": report is not None and report.dry_run and report.total_rows > report.rejected,
            "columns": self._csv_format().columns,
        }
        return TemplateResponse(request, self.csv_import_template, context)
