"""Campaigns in the admin: the list with its counts, the form laid out by concern, and on the change
page the dry run, launch and stop, and the live funnel (polling its own funnel.json)."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from customers.models import LifecycleStage, ServiceClass

from .. import selectors, services
from ..models import (
    Campaign,
    ContactPolicy,
    HeldBackReason,
    Invitation,
    InvitationStatus,
    Response,
)
from ..services.campaigns import FIXED_WHEN_LIVE
from .form import SUBJECT_FIELDS, CampaignForm, error_text
from .ledger import changelist_url, is_admin


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = [
        "name",
        "survey",
        "how",
        "status",
        "launched",
        "invited",
        "answered",
    ]
    list_filter = ["status", "kind", "channel", "survey"]
    list_select_related = ["survey"]
    search_fields = ["name", "survey__name"]
    autocomplete_fields = ["customers"]
    change_form_template = "admin/surveys/campaign/change_form.html"
    run_fields = ["status", "launched_at", "next_run_at", "runs", "finished_at", "created_by", "created_at"]
    fieldsets = [
        ("What", {"fields": ["name", "survey", "kind", "channel"]}),
        (
            "Audience",
            {
                "description": "Within a criterion any value matches; across criteria all must. The "
                "customers listed are invited in addition. Only customers who consent to surveys on "
                "the channel are ever invited.",
                "fields": [
                    "everyone",
                    "segments",
                    "client_types",
                    "lifecycle_stages",
                    "service_classes",
                    "customers",
                ],
            },
        ),
        (
            "When",
            {"fields": ["send_at", "repeat_every_days", "trigger_event_kind", "trigger_delay_minutes"]},
        ),
        ("Contact policy", {"fields": ["global_policy", "quarantine_days", "defer_held_back"]}),
        ("Reminders and expiry", {"fields": ["reminder_count", "reminder_every_days", "expires_after_days"]}),
        (
            "E-mail subject",
            {
                "description": "Empty: a standard subject in the customer's language.",
                "fields": SUBJECT_FIELDS,
            },
        ),
        ("Run", {"fields": run_fields}),
    ]

    def get_queryset(self, request):
        # The list's counts in the one query that lists the campaigns (no query per row).
        not_held = [s for s in InvitationStatus.values if s != InvitationStatus.HELD_BACK]
        not_bounced = [s for s in InvitationStatus.values if s != InvitationStatus.BOUNCED]
        return (
            super()
            .get_queryset(request)
            .annotate(
                invited_count=Count("invitations", filter=Q(invitations__status__in=not_held)),
                delivered_count=Count(
                    "invitations",
                    filter=Q(invitations__sent_at__isnull=False, invitations__status__in=not_bounced),
                ),
                answered_count=Count("invitations", filter=Q(invitations__answered_at__isnull=False)),
                # A scalar subquery: a second join would multiply the invitation counts.
                completed_count=Coalesce(
                    Subquery(
                        Response.objects.filter(campaign=OuterRef("pk"), completed_at__isnull=False)
                        .order_by()
                        .values("campaign")
                        .annotate(n=Count("pk"))
                        .values("n")
                    ),
                    0,
                ),
            )
        )

    @admin.display(description="Kind", ordering="kind")
    def how(self, obj):
        return f"{kind_text(obj)}, {'link' if obj.channel == Campaign.Channel.LINK else 'e-mail'}"

    @admin.display(description="Launched", ordering="launched_at")
    def launched(self, obj):
        if not obj.launched_at:
            return "–"
        return format_html(
            '<span style="white-space: nowrap">{}</span>', f"{timezone.localtime(obj.launched_at):%Y-%m-%d}"
        )

    @admin.display(description="Invited", ordering="invited_count")
    def invited(self, obj):
        if obj.channel == Campaign.Channel.LINK:
            return "–"  # anyone with the link
        url = changelist_url(Invitation, campaign__id__exact=obj.pk)
        return format_html('<a href="{}">{}</a>', url, obj.invited_count)

    @admin.display(description="Answered", ordering="answered_count")
    def answered(self, obj):
        if obj.channel == Campaign.Channel.LINK:
            return obj.completed_count  # anonymous answers: no invitations to make a rate of
        rate = f"{obj.answered_count / obj.delivered_count:.0%}" if obj.delivered_count else "–"
        return format_html('{} <span style="white-space: nowrap">({})</span>', obj.answered_count, rate)

    @admin.display(description="Global rule")
    def global_policy(self, obj):
        policy = ContactPolicy.current()
        url = reverse("admin:surveys_contactpolicy_change", args=[policy.pk])
        return format_html(
            '{}, <a href="{}">set in the contact policy</a>; this campaign may add its own.', policy, url
        )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.fieldsets[:-1]  # no run yet
        if self.has_change_permission(request, obj):
            return self.fieldsets
        # Read-only: the ticks and the per-language boxes shown as text (not raw JSON, not empty).
        shown = {"lifecycle_stages": "stages", "service_classes": "classes", SUBJECT_FIELDS[0]: "subjects"}
        hidden = set(SUBJECT_FIELDS[1:])
        return [
            (title, {**options, "fields": [shown.get(f, f) for f in options["fields"] if f not in hidden]})
            for title, options in self.fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        fixed = list(FIXED_WHEN_LIVE) if obj is not None and obj.status != Campaign.Status.DRAFT else []
        return [*self.run_fields, "global_policy", "stages", "classes", "subjects", *fixed]

    @admin.display(description="Lifecycle stages")
    def stages(self, obj):
        return ", ".join(LifecycleStage(v).label for v in obj.lifecycle_stages) or "Any stage"

    @admin.display(description="Service classes")
    def classes(self, obj):
        return ", ".join(ServiceClass(v).label for v in obj.service_classes) or "Any class"

    @admin.display(description="Subject")
    def subjects(self, obj):
        languages = dict(settings.LANGUAGES)
        subjects = format_html_join(
            "",
            "<div>{}: {}</div>",
            ((languages.get(code, code), text) for code, text in obj.email_subject.items()),
        )
        return subjects or "The standard subject, in the customer's language."

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.user = request.user  # a class made for this request by modelform_factory
        return form

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name in ("segments", "client_types"):
            kwargs["widget"] = forms.CheckboxSelectMultiple
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in ("segments", "client_types") and field is not None:
            field.widget.can_add_related = False  # made on their own pages, not in passing here
        return field

    def save_model(self, request, obj, form, change):
        pass  # saved by services.campaign_save while the form validated (see CampaignForm)

    def save_related(self, request, form, formsets, change):
        pass  # the audience lists were set by that same service call

    def has_change_permission(self, request, obj=None):
        # A finished campaign is kept as it ran (the service refuses changes): its page is read-only.
        if obj is not None and obj.status == Campaign.Status.FINISHED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Deleting a campaign deletes its ledger and answers: drafts only, unless by the Admin role.
        if obj is not None and obj.status != Campaign.Status.DRAFT and not is_admin(request.user):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not is_admin(request.user):
            actions.pop("delete_selected", None)  # it would not stop at drafts
        return actions

    # --- the campaign's own pages: launch, stop, the funnel as JSON --------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/launch/", view(self.launch_view), name="surveys_campaign_launch"),
            path("<int:pk>/stop/", view(self.stop_view), name="surveys_campaign_stop"),
            path("<int:pk>/funnel.json", view(self.funnel_view), name="surveys_campaign_funnel"),
            *super().get_urls(),
        ]

    def _campaign(self, request, pk, *, change: bool) -> Campaign:
        campaign = Campaign.objects.select_related("survey").filter(pk=pk).first()
        if campaign is None:
            raise Http404("No such campaign.")
        allowed = (
            super().has_change_permission(request) if change else self.has_view_permission(request, campaign)
        )
        if not allowed:
            raise PermissionDenied
        return campaign

    def change_view(self, request, object_id, form_url="", extra_context=None):
        campaign = Campaign.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if campaign is not None and self.has_view_permission(request, campaign):
            extra_context = {**(extra_context or {}), **self._panel(request, campaign)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _panel(self, request, campaign: Campaign) -> dict:
        now = timezone.now()
        email = campaign.channel == Campaign.Channel.EMAIL
        next_wave = campaign.is_live and campaign.kind == Campaign.Kind.RECURRING
        show_dry_run = email and (campaign.status == Campaign.Status.DRAFT or next_wave)
        return {
            "campaign": campaign,
            "kind": kind_text(campaign),
            "can_act": super().has_change_permission(request),
            "dry_run": dry_run_context(selectors.campaign_dry_run(campaign, now)) if show_dry_run else None,
            "funnel": funnel_context(campaign, now) if campaign.status != Campaign.Status.DRAFT else None,
            "public_link": settings.SITE_URL + reverse("survey-page", args=[campaign.link_token])
            if not email
            else "",
            "invitations_url": changelist_url(Invitation, campaign__id__exact=campaign.pk),
            "responses_url": changelist_url(Response, campaign__id__exact=campaign.pk),
        }

    def launch_view(self, request, pk):
        campaign = self._campaign(request, pk, change=True)
        if request.method != "POST":
            return self._confirm(request, campaign, "launch")
        try:
            campaign = services.campaign_launch(campaign=campaign)
        except ValidationError as exc:
            messages.error(request, f"“{campaign}” was not launched. {error_text(exc)}")
        else:
            messages.success(request, launched_message(campaign))
        return redirect("admin:surveys_campaign_change", campaign.pk)

    def stop_view(self, request, pk):
        campaign = self._campaign(request, pk, change=True)
        if not campaign.is_live:
            messages.error(
                request, f"“{campaign}” is {campaign.get_status_display().lower()}: nothing to stop."
            )
        elif request.method != "POST":
            return self._confirm(request, campaign, "stop")
        else:
            services.campaign_stop(campaign=campaign)
            messages.success(
                request,
                f"“{campaign}” is stopped: nothing more is sent; what was sent can still be answered.",
            )
        return redirect("admin:surveys_campaign_change", campaign.pk)

    def _confirm(self, request, campaign: Campaign, action: str):
        dry_run = None
        if action == "launch" and campaign.channel == Campaign.Channel.EMAIL:
            dry_run = dry_run_context(selectors.campaign_dry_run(campaign, timezone.now()))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "campaign": campaign,
            "action": action,
            "title": f"{action.capitalize()} “{campaign}”?",
            "dry_run": dry_run,
        }
        return TemplateResponse(request, "admin/surveys/campaign/confirm.html", context)

    def funnel_view(self, request, pk):
        return JsonResponse(funnel_context(self._campaign(request, pk, change=False), timezone.now()))


FUNNEL_STEPS = [
    ("invited", "Invited"),
    ("delivered", "Delivered"),
    ("opened", "Opened"),
    ("answered", "Answered"),
]


def funnel_context(campaign: Campaign, now) -> dict:
    """selectors.campaign_funnel shaped for the page and its poll (the same keys in both)."""
    funnel = selectors.campaign_funnel(campaign, now)
    invited = funnel["funnel"]["invited"]
    rate = funnel["response_rate"]
    return {
        "status": campaign.status,
        "status_display": campaign.get_status_display(),
        "live": campaign.is_live,
        "steps": [
            {
                "key": key,
                "label": label,
                "count": funnel["funnel"][key],
                "percent": round(100 * funnel["funnel"][key] / invited) if invited else 0,
            }
            for key, label in FUNNEL_STEPS
        ],
        "statuses": [
            {"key": key, "label": label, "count": funnel["by_status"][key]}
            for key, label in InvitationStatus.choices
        ],
        "held_back": [
            {"key": key, "label": label, "count": funnel["held_back"][key]}
            for key, label in HeldBackReason.choices
        ],
        # Due now and not yet out (the deferred wait for their date), or a run due but not built yet:
        # while either holds, the page polls fast.
        "to_send": funnel["by_status"][InvitationStatus.QUEUED]
        - funnel["deferred"]
        + funnel["by_status"][InvitationStatus.SENDING],
        "building": bool(campaign.next_run_at and campaign.next_run_at <= now),
        "next_run": timezone.localtime(campaign.next_run_at).strftime("%Y-%m-%d %H:%M")
        if campaign.next_run_at
        else "",
        "runs": campaign.runs,
        "deferred": funnel["deferred"],
        "reminded": funnel["reminded"],
        "responses": funnel["responses"],
        "response_rate": rate,
        "response_rate_display": f"{rate:.1%}" if rate is not None else "–",
    }


def dry_run_context(dry_run: dict) -> dict:
    return {
        **dry_run,
        "held_back": [
            {"key": key, "label": label, "count": dry_run["held_back"][key]}
            for key, label in HeldBackReason.choices
        ],
    }


def kind_text(campaign: Campaign) -> str:
    if campaign.kind == Campaign.Kind.RECURRING:
        return f"Recurring, every {campaign.repeat_every_days} days"
    if campaign.kind == Campaign.Kind.EVENT_TRIGGERED:
        return f"On each “{campaign.get_trigger_event_kind_display()}” event"
    return "One-off"


def launched_message(campaign: Campaign) -> str:
    if campaign.channel == Campaign.Channel.LINK:
        return f"“{campaign}” is live: share its link (below); anyone with it can answer once per browser."
    if campaign.status == Campaign.Status.SCHEDULED:
        when = timezone.localtime(campaign.next_run_at).strftime("%Y-%m-%d %H:%M")
        return f"“{campaign}” is scheduled: its invitations go out at {when}."
    if campaign.kind == Campaign.Kind.EVENT_TRIGGERED:
        return f"“{campaign}” is running: each “{campaign.get_trigger_event_kind_display()}” event sends it."
    return f"“{campaign}” is launched: its invitations are being sent; the funnel below shows the progress."
