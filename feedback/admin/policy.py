"""SLA policies and categories in the admin: what a CX lead sets up.

A policy's conditions are ticks (stored as JSON lists); its targets are business minutes of its
calendar. Saving a policy hands its open items to a task that re-targets their clocks."""

from django import forms
from django.contrib import admin
from django.db.models import Count, Q

from customers.models import ServiceClass

from .. import services
from ..models import OPEN_STATUSES, Category, Channel, ItemKind, Priority, SlaPolicy
from .calendar import calendar_link
from .common import duration, person, staff_users

CONDITIONS = {
    "priorities": ("Priorities", Priority),
    "kinds": ("Kinds", ItemKind),
    "channels": ("Channels", Channel),
    "service_classes": ("Customers' service classes", ServiceClass),
}


def _ticks(label: str, choices) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label,
        choices=choices.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Items of any ticked value match; none ticked: any value matches.",
    )


class PolicyForm(forms.ModelForm):
    priorities = _ticks(*CONDITIONS["priorities"])
    kinds = _ticks(*CONDITIONS["kinds"])
    channels = _ticks(*CONDITIONS["channels"])
    service_classes = _ticks(*CONDITIONS["service_classes"])

    class Meta:
        model = SlaPolicy
        fields = [
            "name",
            "position",
            "active",
            "calendar",
            *CONDITIONS,
            "categories",
            "client_types",
            "first_response_minutes",
            "next_response_minutes",
            "resolution_minutes",
            "warn_at_percent",
            "lead",
            "escalate_to_priority",
            "escalate_to_assignee",
        ]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    form = PolicyForm
    list_display = ["position", "name", "active", "applies_to", "targets", "calendar_shown", "items_open"]
    list_display_links = ["name"]
    list_filter = ["active", "calendar"]
    list_select_related = ["calendar"]
    search_fields = ["name"]
    ordering = ["position", "id"]
    fieldsets = [
        (
            None,
            {
                "description": "Each new item gets the first active policy, in order of position, whose "
                "every condition it matches. A policy with no condition is the fallback: give it the "
                "largest position.",
                "fields": ["name", "position", "active", "calendar"],
            },
        ),
        (
            "Conditions",
            {"fields": [*CONDITIONS, "categories", "client_types"]},
        ),
        (
            "Targets, in business minutes of the calendar",
            {
                "description": "60 is one business hour; 480 a working day of eight hours.",
                "fields": ["first_response_minutes", "next_response_minutes", "resolution_minutes"],
            },
        ),
        (
            "Warnings and escalation",
            {
                "fields": [
                    "warn_at_percent",
                    "lead",
                    "escalate_to_priority",
                    "escalate_to_assignee",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("categories", "client_types")
            .annotate(open_count=Count("items", filter=Q(items__status__in=OPEN_STATUSES)))
        )

    @admin.display(description="Applies to")
    def applies_to(self, obj):
        parts = [
            f"{label.lower()}: {', '.join(enum(v).label for v in getattr(obj, name))}"
            for name, (label, enum) in CONDITIONS.items()
            if getattr(obj, name)
        ]
        if categories := [c.name for c in obj.categories.all()]:
            parts.append(f"categories: {', '.join(categories)}")
        if client_types := [c.name for c in obj.client_types.all()]:
            parts.append(f"client types: {', '.join(client_types)}")
        return "; ".join(parts) or "Everything (fallback)"

    @admin.display(description="Targets")
    def targets(self, obj):
        parts = [f"first response {duration(obj.first_response_minutes * 60)}"]
        if obj.next_response_minutes:
            parts.append(f"next {duration(obj.next_response_minutes * 60)}")
        parts.append(f"resolution {duration(obj.resolution_minutes * 60)}")
        return ", ".join(parts)

    @admin.display(description="Calendar", ordering="calendar__name")
    def calendar_shown(self, obj):
        return calendar_link(obj.calendar)

    @admin.display(description="Open items", ordering="open_count")
    def items_open(self, obj):
        return obj.open_count

    def get_fieldsets(self, request, obj=None):
        if obj is None or self.has_change_permission(request, obj):
            return self.fieldsets
        # Read-only: the ticks shown as words, not raw JSON.
        shown = {name: f"{name}_shown" for name in CONDITIONS}
        return [
            (title, {**options, "fields": [shown.get(f, f) for f in options["fields"]]})
            for title, options in self.fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        return [f"{name}_shown" for name in CONDITIONS]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs["widget"] = forms.CheckboxSelectMultiple
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in ("lead", "escalate_to_assignee"):
            kwargs["queryset"] = staff_users()
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name in ("lead", "escalate_to_assignee"):
            field.label_from_instance = person
        return field

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in ("categories", "client_types") and field is not None:
            field.widget.can_add_related = False  # made on their own pages, not in passing here
        return field

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.settings_changed(policy_id=form.instance.pk)


def _shown(name: str):
    label, enum = CONDITIONS[name]

    @admin.display(description=label)
    def shown(self, obj):
        return ", ".join(enum(v).label for v in getattr(obj, name)) or "Any"

    return shown


for _name in CONDITIONS:
    setattr(SlaPolicyAdmin, f"{_name}_shown", _shown(_name))


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "active", "items_count", "description"]
    list_filter = ["active"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "active"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(item_count=Count("items"))

    @admin.display(description="Items", ordering="item_count")
    def items_count(self, obj):
        return obj.item_count
