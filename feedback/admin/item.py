"""Feedback items in the admin: the support desk's list, the short form to log one, and the item's
page with its SLA clocks, the reply box, the workflow, the conversation, attachments and history.

Status, clocks and history are the services' to move (item_form.py calls them); this page only
shows them. A role without change permission gets the same page read-only."""

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from ..models import (
    TRANSITIONS,
    Channel,
    ClockState,
    FeedbackItem,
    ItemKind,
    SlaClock,
    Target,
)
from .attachments import AttachmentInline, attachment_response
from .common import at, item_zone, person, staff_users, status_page_url
from .item_filters import AssigneeFilter, OpenFilter, ReviewFilter, SlaFilter
from .item_form import ACT_FIELDS, ItemForm
from .item_panel import item_panel

WHO = ["customer", ("author_name", "author_contact"), "touchpoint"]
WHAT = ["subject", "description", "priority", "category", "assignee"]
REVIEW_FIELDS = ["review_source", "review_url", "review_rating", "public_answer"]
REVIEW = (
    "Public review",
    {
        "classes": ["cx-review"],
        "description": "Where the review was published, its link and stars, and the answer the "
        "company published under it.",
        "fields": REVIEW_FIELDS,
    },
)
LANGUAGE = (
    "The customer's language and time zone",
    {
        "classes": ["collapse"],
        "description": "Their status page is shown in these. The language is the customer's own unless "
        "you change it.",
        "fields": ["language", "time_zone"],
    },
)
ADD_FIELDSETS = [
    (None, {"fields": ["kind", "channel"]}),
    (
        "Who",
        {
            "description": "Find the customer by name, e-mail or phone; for someone we do not know, give "
            "their name and how to reach them instead.",
            "fields": WHO,
        },
    ),
    ("What", {"fields": WHAT}),
    REVIEW,
    LANGUAGE,
]
RECORD = (
    "Record",
    {
        "classes": ["collapse"],
        "fields": [
            "created_at",
            "created_by",
            "sla_policy",
            "first_response_at",
            "resolved_at",
            "closed_at",
            "reopened_count",
            "public_answered_at",
        ],
    },
)
DETAIL_FIELDSETS = [
    ("Details", {"fields": ["kind", "channel", *WHO, *WHAT]}),
    REVIEW,
    LANGUAGE,
    RECORD,
]
ANSWER = (
    "Reply or note",
    {"classes": ["cx-act"], "fields": ["message_kind", "message_body"]},
)
WORKFLOW = (
    "Workflow",
    {"classes": ["cx-act"], "fields": ["transition_to", "transition_note"]},
)


@admin.register(FeedbackItem)
class FeedbackItemAdmin(admin.ModelAdmin):
    form = ItemForm
    # What an agent triages by comes first; on a narrow screen the rest scrolls.
    list_display = [
        "ref",
        "subject",
        "status_shown",
        "resolution",
        "priority",
        "who",
        "assigned",
        "kind",
        "channel",
        "created",
    ]
    list_display_links = ["ref", "subject"]
    list_filter = [
        OpenFilter,
        "status",
        SlaFilter,
        AssigneeFilter,
        "kind",
        "priority",
        "channel",
        "category",
        ReviewFilter,
        "sla_policy",
        "created_at",
    ]
    list_select_related = ["customer", "assignee", "sla_policy__calendar"]
    search_fields = [
        "subject",
        "description",
        "author_name",
        "author_contact",
        "customer__name",
        "customer__email",
        "customer__phone",
    ]
    autocomplete_fields = ["customer"]
    inlines = [AttachmentInline]
    change_form_template = "admin/feedback/feedbackitem/change_form.html"
    change_list_template = "admin/feedback/feedbackitem/change_list.html"

    def get_queryset(self, request):
        # The list's SLA columns in the query that lists the items (no query per row).
        now = timezone.now()
        resolution = SlaClock.objects.filter(item=OuterRef("pk"), target=Target.RESOLUTION)
        late = Q(breached_at__isnull=False) | Q(state=ClockState.RUNNING, due_at__lte=now)
        return (
            super()
            .get_queryset(request)
            .annotate(
                resolution_due=Subquery(resolution.values("due_at")[:1]),
                resolution_state=Subquery(resolution.values("state")[:1]),
                sla_breached=Exists(SlaClock.objects.filter(late, item=OuterRef("pk"))),
            )
        )

    def get_search_results(self, request, queryset, search_term):
        # "#12" or "12" finds item 12 as well: the number is what the customer quotes on the phone.
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        number = search_term.strip().lstrip("#")
        if number.isdigit():
            results = results | queryset.filter(pk=int(number))
        return results, may_have_duplicates

    # --- list columns ------------------------------------------------------------------------------

    @admin.display(description="#", ordering="pk")
    def ref(self, obj):
        return f"#{obj.pk}"

    @admin.display(description="Status", ordering="status")
    def status_shown(self, obj):
        return format_html(
            '<span class="cx-badge cx-{}">{}</span>', obj.status.replace("_", "-"), obj.get_status_display()
        )

    @admin.display(description="Assignee", ordering="assignee__first_name")
    def assigned(self, obj):
        return person(obj.assignee) or "–"

    @admin.display(description="Customer", ordering="customer__name")
    def who(self, obj):
        if obj.customer:
            return obj.customer.name
        return obj.author_name or obj.author_contact or "Unknown author"

    @admin.display(description="Resolution due", ordering="resolution_due")
    def resolution(self, obj):
        badge = mark_safe('<span class="cx-badge cx-breached">Breached</span> ') if obj.sla_breached else ""  # noqa: S308 - a constant
        state = obj.resolution_state
        if state == ClockState.RUNNING:
            text = at(obj.resolution_due, obj.sla_policy.calendar.time_zone, style="short")
        elif state == ClockState.PAUSED:
            text = "Paused"
        elif state == ClockState.MET:
            text = "Resolved"
        elif state == ClockState.STOPPED:
            text = "Stopped"
        else:
            text = "No SLA"
        return format_html('{}<span class="cx-nowrap">{}</span>', badge, text)

    @admin.display(description="Logged", ordering="created_at")
    def created(self, obj):
        # In the zone the due times are in, so "logged 17:30, due 12:30" reads as one clock.
        return format_html(
            '<span class="cx-nowrap">{}</span>', at(obj.created_at, item_zone(obj), style="short")
        )

    # --- the form ----------------------------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return ADD_FIELDSETS
        details = DETAIL_FIELDSETS
        if not self.has_change_permission(request, obj):
            return details if obj.kind == ItemKind.REVIEW else [f for f in details if f is not REVIEW]
        acts = []
        if request.user.has_perm("feedback.add_itemmessage"):
            acts.append(ANSWER)
        if TRANSITIONS[obj.status]:
            acts.append(WORKFLOW)
        return [*acts, *details]

    def get_readonly_fields(self, request, obj=None):
        return RECORD[1]["fields"] if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user = request.user  # a class made for this request by modelform_factory
        # Declared fields are always on a form; only those laid out for this user may be posted.
        form.acts = set(flatten_fieldsets(self.get_fieldsets(request, obj))) & set(ACT_FIELDS)
        return form

    def get_changeform_initial_data(self, request):
        # Logged in the admin, an item is most often a call taken by the agent logging it.
        return {
            "channel": Channel.PHONE,
            "assignee": request.user.pk,
            **super().get_changeform_initial_data(request),
        }

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "review_url":
            kwargs["assume_scheme"] = "https"  # review sites are served over https; Django 6's default
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "assignee":
            kwargs["queryset"] = staff_users()
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "assignee":
            field.label_from_instance = person
        return field

    def get_inline_instances(self, request, obj=None):
        return super().get_inline_instances(request, obj) if obj is not None else []  # once logged

    def save_model(self, request, obj, form, change):
        request._cx_done = form.done  # saved by the services while the form validated (see ItemForm)

    def save_formset(self, request, form, formset, change):
        for attachment in formset.save(commit=False):
            attachment.uploaded_by = request.user
            attachment.save()
        for attachment in formset.deleted_objects:
            attachment.delete()

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        form = context["adminform"].form
        if request.method == "POST" and form.savepoint:
            # Shown again with errors (say an attachment too big): undo what the services did.
            transaction.savepoint_rollback(form.savepoint)
            form.savepoint = None
            if form.done:
                messages.warning(request, "Nothing was saved: correct the errors below and save again.")
        if obj is not None and obj.pk:
            context.update(item_panel(obj.pk))
        context["can_act"] = obj is not None and self.has_change_permission(request, obj)
        acts = [
            name
            for name, options in self.get_fieldsets(request, obj)
            if "cx-act" in options.get("classes", ())
        ]
        context["last_act"] = acts[-1] if acts else None  # its "Save and apply" button goes after it
        return super().render_change_form(request, context, add, change, form_url, obj)

    def response_add(self, request, obj, post_url_continue=None):
        if "_addanother" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        link = status_page_url(obj)
        messages.success(
            request,
            format_html(
                "Logged {} {}. Give the customer the link to their status page: "
                '<a href="{}" target="_blank" rel="noopener">{}</a>',
                f"#{obj.pk}",
                obj.subject,
                link,
                link,
            ),
        )
        return HttpResponseRedirect(reverse("admin:feedback_feedbackitem_change", args=[obj.pk]))

    def response_change(self, request, obj):
        done = getattr(request, "_cx_done", [])
        if not done or "_addanother" in request.POST:
            return super().response_change(request, obj)
        messages.success(request, f"#{obj.pk}: {' '.join(done)}")
        # The agent stays on the item to see its clocks move.
        return HttpResponseRedirect(reverse("admin:feedback_feedbackitem_change", args=[obj.pk]))

    # --- attachments: served by the admin, to those who may see the item ---------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:item_id>/attachments/<int:pk>/",
                view(self.attachment_view),
                name="feedback_feedbackitem_attachment",
            ),
            *super().get_urls(),
        ]

    def attachment_view(self, request, item_id, pk):
        return attachment_response(request, self, item_id, pk)
