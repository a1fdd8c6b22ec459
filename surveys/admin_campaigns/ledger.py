"""What campaigns leave behind, read-only in the admin: the invitation ledger, the responses with
their answers, the customers who opted out; and the global contact policy (one row)."""

from django.contrib import admin
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from cxplatform.roles import ADMIN

from ..models import (
    Answer,
    ContactPolicy,
    HeldBackReason,
    Invitation,
    InvitationStatus,
    Response,
    SurveyOptOut,
)
from ..services.mail import survey_url

SHORT_REASONS = {
    HeldBackReason.QUARANTINED: "Quarantined",
    HeldBackReason.NO_CONSENT: "No consent",
    HeldBackReason.NO_EMAIL: "No e-mail",
    HeldBackReason.UNSUBSCRIBED: "Unsubscribed",
}
# The ledger's steps, each with the moment it happened.
LEDGER_STEPS = [
    ("queued_at", "Queued"),
    ("dispatched_at", "Handed to a sending task"),
    ("claimed_at", "Claimed by a worker (sending)"),
    ("sent_at", "Sent"),
    ("opened_at", "Opened the survey"),
    ("answered_at", "Answered"),
    ("held_back_at", "Held back"),
    ("failed_at", "Failed"),
    ("bounced_at", "Bounced"),
    ("unsubscribed_at", "Unsubscribed"),
    ("expired_at", "Expired unanswered"),
    ("cancelled_at", "Cancelled (campaign stopped)"),
]


def is_admin(user) -> bool:
    """Only the Admin role deletes ledger rows and answers: they are the record of what happened."""
    if not hasattr(user, "_cx_is_admin"):
        user._cx_is_admin = user.is_superuser or user.groups.filter(name=ADMIN).exists()
    return user._cx_is_admin


def changelist_url(model, **params) -> str:
    url = reverse(f"admin:surveys_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def short(moment) -> str:
    if not moment:
        return "–"
    return format_html(
        '<span style="white-space: nowrap">{}</span>', f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the services only: viewable by every role, deletable by the Admin role alone."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return is_admin(request.user) and super().has_delete_permission(request, obj)


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["customer", "campaign", "status", "reason", "sent", "opened", "answered", "reminders"]
    list_filter = ["campaign", "status", "held_back_reason"]
    list_select_related = ["customer", "campaign"]
    search_fields = ["customer__name", "customer__email"]
    show_full_result_count = False  # the ledger is the biggest table here; skip the second COUNT(*)
    readonly_fields = ["ledger", "survey_link", "message_id", "response_link"]
    fieldsets = [
        (None, {"fields": ["campaign", "customer", "wave", "trigger_event", "language"]}),
        (
            "Where it is",
            {"fields": ["status", "held_back_reason", "send_after", "expires_at", "response_link"]},
        ),
        ("Ledger", {"fields": ["ledger"]}),
        (
            "Sending",
            {"fields": ["attempts", "last_error", "message_id", "reminders_sent", "next_reminder_at"]},
        ),
    ]

    @admin.display(description="Held back or deferred", ordering="held_back_reason")
    def reason(self, obj):
        if not obj.held_back_reason:
            return "–"
        reason = SHORT_REASONS.get(obj.held_back_reason, obj.held_back_reason)
        if obj.status == InvitationStatus.HELD_BACK:
            return reason
        return (
            f"Deferred ({reason.lower()})"
            if obj.status == InvitationStatus.QUEUED
            else f"Was deferred ({reason.lower()})"
        )

    @admin.display(description="Sent", ordering="sent_at")
    def sent(self, obj):
        return short(obj.sent_at)

    @admin.display(description="Opened", ordering="opened_at")
    def opened(self, obj):
        return short(obj.opened_at)

    @admin.display(description="Answered", ordering="answered_at")
    def answered(self, obj):
        return short(obj.answered_at)

    @admin.display(description="Reminders", ordering="reminders_sent")
    def reminders(self, obj):
        return obj.reminders_sent

    def get_fieldsets(self, request, obj=None):
        # The link opens the survey as this customer, so only those who may change invitations see it.
        if request.user.has_perm("surveys.change_invitation"):
            return [*self.fieldsets, ("The customer's survey link", {"fields": ["survey_link"]})]
        return self.fieldsets

    @admin.display(description="Timeline")
    def ledger(self, obj):
        steps = sorted(
            ((getattr(obj, name), label) for name, label in LEDGER_STEPS if getattr(obj, name)),
            key=lambda step: step[0],
        )
        if obj.status == InvitationStatus.QUEUED and obj.send_after > timezone.now():
            reason = f" ({obj.get_held_back_reason_display().lower()})" if obj.held_back_reason else ""
            steps.append((obj.send_after, f"Deferred: to be sent then{reason}"))
        if obj.held_back_reason and obj.status == InvitationStatus.HELD_BACK:
            steps = [
                (m, f"{label}: {obj.get_held_back_reason_display()}" if label == "Held back" else label)
                for m, label in steps
            ]
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td></tr>", ((when(m), label) for m, label in steps)
        )
        reminders = f"{obj.reminders_sent} reminder(s) sent." if obj.reminders_sent else "No reminder sent."
        return format_html("<table><tbody>{}</tbody></table><p>{}</p>", rows, reminders)

    @admin.display(description="Survey link")
    def survey_link(self, obj):
        url = survey_url(obj)
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a><br>'
            "<small>Personal: whoever has it can answer as this customer. Do not forward it.</small>",
            url,
            url,
        )

    @admin.display(description="Response")
    def response_link(self, obj):
        response = Response.objects.filter(invitation=obj).only("pk", "completed_at").first()
        if response is None:
            return "None yet."
        url = reverse("admin:surveys_response_change", args=[response.pk])
        state = "complete" if response.completed_at else "partial (not submitted)"
        return format_html('<a href="{}">Response {}</a>, {}', url, response.pk, state)


class AnswerInline(admin.TabularInline):
    model = Answer
    fields = ["question_text", "score", "chosen", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("question", "response")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Question")
    def question_text(self, obj):
        return obj.question.text_in(obj.response.language)

    @admin.display(description="Choices")
    def chosen(self, obj):
        labels = {c["value"]: c["label"] for c in obj.question.choices or []}
        return ", ".join(
            (labels.get(v) or {}).get(obj.response.language) or next(iter((labels.get(v) or {v: v}).values()))
            for v in obj.choices
        )


class CompletedFilter(admin.SimpleListFilter):
    title = "completed"
    parameter_name = "completed"

    def lookups(self, request, model_admin):
        return [("yes", "Submitted"), ("no", "Partial (not submitted)")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(completed_at__isnull=self.value() == "no")
        return queryset


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "campaign", "customer", "language", "score", "started_at", "completed_at"]
    list_filter = ["campaign", CompletedFilter, "language"]
    list_select_related = ["campaign", "customer", "survey"]
    search_fields = ["customer__name", "customer__email"]
    date_hierarchy = "started_at"
    fields = [
        "campaign",
        "survey",
        "invitation",
        "customer",
        "language",
        "started_at",
        "updated_at",
        "completed_at",
    ]
    inlines = [AnswerInline]
    change_form_template = "admin/surveys/response/change_form.html"

    def get_queryset(self, request):
        scores = (
            Answer.objects.filter(score__isnull=False)
            .select_related("question")
            .order_by("question__position")
        )
        return super().get_queryset(request).prefetch_related(Prefetch("answers", scores, to_attr="scored"))

    @admin.display(description="Score")
    def score(self, obj):
        scored = getattr(obj, "scored", None)
        return f"{scored[0].question.kind.upper()} {scored[0].score}" if scored else "–"


@admin.register(ContactPolicy)
class ContactPolicyAdmin(admin.ModelAdmin):
    """One row: the list goes straight to it."""

    fields = ["quarantine_days", "updated_at"]
    readonly_fields = ["updated_at"]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return redirect("admin:surveys_contactpolicy_change", ContactPolicy.current().pk)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SurveyOptOut)
class SurveyOptOutAdmin(admin.ModelAdmin):
    list_display = ["customer", "email", "unsubscribed_at", "campaign"]
    actions = ["resubscribe"]
    list_select_related = ["customer", "invitation__campaign"]
    search_fields = ["customer__name", "customer__email"]
    fieldsets = [
        (
            None,
            {
                "description": "Deleting this re-subscribes the customer to survey emails: do it only "
                "when the customer asks.",
                "fields": ["customer", "invitation", "created_at"],
            },
        )
    ]

    @admin.display(description="E-mail", ordering="customer__email")
    def email(self, obj):
        return obj.customer.email

    @admin.display(description="Unsubscribed at", ordering="created_at")
    def unsubscribed_at(self, obj):
        return short(obj.created_at)

    @admin.action(
        description="Re-subscribe the selected customers (only at their request)", permissions=["delete"]
    )
    def resubscribe(self, request, queryset):
        return delete_selected(self, request, queryset)  # Django's confirmation page, then the delete

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # offered as "Re-subscribe" instead
        return actions

    @admin.display(description="Unsubscribed from")
    def campaign(self, obj):
        return obj.invitation.campaign if obj.invitation else "–"

    def has_add_permission(self, request):
        return False  # customers unsubscribe themselves, through the link in every email

    def has_change_permission(self, request, obj=None):
        return False
