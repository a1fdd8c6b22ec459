"""The staff UI for customers: what a support agent or CX lead opens without training."""

import json

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.forms.fields import InvalidJSONInput
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from . import selectors, services
from .admin_csv import CsvImportExportAdminMixin
from .models import ClientType, Customer, Event, LifecycleStageChange, Segment, Touchpoint

TIMELINE_LENGTH = 50
HISTORY_LENGTH = 20


def _event_details(event: Event) -> str:
    if event.kind == "stage_changed":
        return f"{event.data.get('from') or 'entered'} → {event.data.get('to')}"
    return ", ".join(f"{k}: {v}" for k, v in event.data.items())


def _changelist_url(model, **params) -> str:
    url = reverse(f"admin:customers_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


@admin.register(ClientType)
class ClientTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "customers", "is_builtin"]
    search_fields = ["name", "slug", "guidance"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["is_builtin"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(customer_count=Count("customers"))

    @admin.display(description="Customers", ordering="customer_count")
    def customers(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            _changelist_url(Customer, client_type__id__exact=obj.pk),
            obj.customer_count,
        )

    def has_delete_permission(self, request, obj=None):
        # The five types of the method are part of how staff are trained; edit their guidance instead.
        return super().has_delete_permission(request, obj) and not (obj and obj.is_builtin)

    def save_model(self, request, obj, form, change):
        services.client_type_save(client_type=obj, data=form.cleaned_data)


@admin.register(Touchpoint)
class TouchpointAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "journey_stage", "is_active"]
    list_filter = ["kind", "journey_stage", "is_active"]
    search_fields = ["name", "description"]

    def save_model(self, request, obj, form, change):
        services.touchpoint_save(touchpoint=obj, data=form.cleaned_data)


class SegmentFilter(admin.SimpleListFilter):
    title = "segment"
    parameter_name = "segment"

    def lookups(self, request, model_admin):
        return [(s.pk, f"{s.name} ({s.member_count})") for s in Segment.objects.only("name", "member_count")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(memberships__segment_id=self.value())
        return queryset


class StageChangeInline(admin.TabularInline):
    model = LifecycleStageChange
    fields = ["changed_at", "from_stage", "to_stage", "changed_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "Lifecycle stage history"

    def has_add_permission(self, request, obj=None):
        return False  # recorded by the service when the stage changes, never by hand


@admin.register(Customer)
class CustomerAdmin(CsvImportExportAdminMixin, admin.ModelAdmin):
    list_display = ["name", "email", "phone", "client_type", "lifecycle_stage", "service_class"]
    list_filter = ["lifecycle_stage", "client_type", "service_class", "survey_consent", SegmentFilter]
    list_select_related = ["client_type"]
    search_fields = ["name", "email", "phone", "external_id", "company"]
    readonly_fields = [
        "handling_guidance",
        "lifecycle_stage_changed_at",
        "created_at",
        "updated_at",
        "timeline",
    ]
    inlines = [StageChangeInline]
    fieldsets = [
        (None, {"fields": ["name", "email", "phone", "company", "external_id", "language"]}),
        (
            "How to handle this customer",
            {"fields": ["client_type", "handling_guidance", "service_class"]},
        ),
        ("Lifecycle", {"fields": ["lifecycle_stage", "lifecycle_stage_changed_at"]}),
        ("Surveys", {"fields": ["survey_consent", "survey_consent_channel"]}),
        ("More", {"fields": ["attributes", "created_at", "updated_at"], "classes": ["collapse"]}),
        ("Timeline", {"fields": ["timeline"]}),
    ]

    @admin.display(description="Guidance for staff")
    def handling_guidance(self, obj):
        return obj.client_type.guidance if obj and obj.client_type else "No client type set yet."

    @admin.display(description=f"Latest {TIMELINE_LENGTH} events")
    def timeline(self, obj):
        if not obj or not obj.pk:
            return "Events appear here once the customer is saved."
        events = selectors.customer_timeline(customer_id=obj.pk)[:TIMELINE_LENGTH]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    e.occurred_at.strftime("%Y-%m-%d %H:%M"),
                    e.get_kind_display(),
                    e.touchpoint or "",
                    e.amount if e.amount is not None else "",
                    _event_details(e),
                )
                for e in events
            ),
        )
        if not rows:
            return "No events yet."
        return format_html(
            "<table><thead><tr><th>When</th><th>What</th><th>Where</th><th>Amount</th><th>Details</th></tr>"
            '</thead><tbody>{}</tbody></table><p><a href="{}">All events of this customer</a></p>',
            rows,
            _changelist_url(Event, customer__id__exact=obj.pk),
        )

    def save_model(self, request, obj, form, change):
        if change:
            services.customer_update(customer=obj, data=form.cleaned_data, by=request.user)
        else:
            services.customer_create(customer=obj, data=form.cleaned_data, by=request.user)


@admin.register(Event)
class EventAdmin(CsvImportExportAdminMixin, admin.ModelAdmin):
    list_display = ["occurred_at", "customer", "kind", "touchpoint", "amount"]
    list_filter = ["kind", "touchpoint", "occurred_at"]
    list_select_related = ["customer", "touchpoint"]
    search_fields = ["customer__name", "customer__email", "customer__external_id", "external_id"]
    date_hierarchy = "occurred_at"
    autocomplete_fields = ["customer"]
    readonly_fields = ["recorded_at"]
    show_full_result_count = False  # the stream is the biggest table; skip the second COUNT(*)

    def save_model(self, request, obj, form, change):
        # The form has validated the event (and its external_id's uniqueness) already.
        services.event_save(event=obj)


class PrettyJSONField(forms.JSONField):
    """Shows stored JSON indented, so a CX lead can read and edit nested rules."""

    def prepare_value(self, value):
        if isinstance(value, InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class SegmentForm(forms.ModelForm):
    rules = PrettyJSONField(
        widget=forms.Textarea(
            attrs={"rows": 18, "cols": 80, "spellcheck": "false", "class": "vLargeTextField"}
        ),
        # A constant string of our own, so marking it safe is safe.
        help_text=mark_safe(  # noqa: S308
            'A group is {"match": "all" or "any", "rules": [...]}; groups nest. Each rule is '
            '{"field", "op", "value"} plus what its field needs:<br>'
            "<b>recency_days</b> (days since last purchase; lt, lte, gt, gte) · "
            "<b>purchase_count</b>, <b>purchase_amount</b> (optional window_days; "
            "eq, ne, lt, lte, gt, gte) · "
            "<b>event_count</b> (kind, optional touchpoint id and window_days) · "
            "<b>client_type</b> (slugs), <b>lifecycle_stage</b>, <b>service_class</b> (eq, ne, in, not_in) · "
            "<b>attribute</b> (key; eq, ne, in, not_in, exists, gt, gte, lt, lte)."
        ),
    )

    class Meta:
        model = Segment
        fields = ["name", "description", "rules", "is_active"]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentForm
    list_display = ["name", "member_count", "members_link", "refreshed_at", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "description"]
    readonly_fields = ["member_count", "members_link", "refreshed_at", "size_history"]
    fields = [
        "name",
        "description",
        "rules",
        "is_active",
        "member_count",
        "members_link",
        "refreshed_at",
        "size_history",
    ]
    actions = ["refresh_now"]
    change_form_template = "admin/customers/segment/change_form.html"

    @admin.display(description="Members")
    def members_link(self, obj):
        if not obj or not obj.pk:
            return "-"
        return format_html(
            '<a href="{}">See the {} customers</a>',
            _changelist_url(Customer, segment=obj.pk),
            obj.member_count,
        )

    @admin.display(description=f"Size after the last {HISTORY_LENGTH} refreshes")
    def size_history(self, obj):
        if not obj or not obj.pk:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>+{}</td><td>-{}</td></tr>",
            (
                (s.computed_at.strftime("%Y-%m-%d %H:%M"), s.member_count, s.added, s.removed)
                for s in selectors.segment_history(segment=obj)[:HISTORY_LENGTH]
            ),
        )
        if not rows:
            return "Not refreshed yet."
        return format_html(
            "<table><thead><tr><th>When</th><th>Members</th><th>Joined</th><th>Left</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    def save_model(self, request, obj, form, change):
        services.segment_save(segment=obj, data=form.cleaned_data)
        if not change or {"rules", "is_active"} & set(form.changed_data):
            messages.info(request, "Membership is being recomputed; refresh this page in a moment.")

    @admin.action(description="Refresh membership now", permissions=["change"])
    def refresh_now(self, request, queryset):
        for segment in queryset:
            services.segment_request_refresh(segment=segment)
        messages.success(request, f"Refreshing {queryset.count()} segment(s) in the background.")
