"""Business calendars in the admin: working hours and holidays on one page, overlapping or inverted
hours refused as a form error, and a page to fill in a country's public holidays.

Saving a calendar hands its open items to a task that re-targets their clocks (the change is
recorded on each item); what was counted before stays as it was."""

from collections import defaultdict
from datetime import date

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminTimeWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from .. import services
from ..business_time import to_minutes
from ..holiday_sources import supported_countries
from ..models import BusinessCalendar, Holiday, WorkingHours


class WorkingHoursFormSet(BaseInlineFormSet):
    """All of a calendar's intervals checked together: an overlap is between two rows."""

    def clean(self):
        super().clean()
        week: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if data.get("DELETE") or None in (
                data.get("weekday"),
                data.get("opens_at"),
                data.get("closes_at"),
            ):
                continue
            week[data["weekday"]].append(
                (to_minutes(data["opens_at"]), to_minutes(data["closes_at"], end=True))
            )
        try:
            services.working_hours_check(dict(week))
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["working_hours"]) from exc


HOURS_AND_MINUTES = {models.TimeField: {"widget": AdminTimeWidget(format="%H:%M")}}  # no seconds


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    formfield_overrides = HOURS_AND_MINUTES
    formset = WorkingHoursFormSet
    fields = ["weekday", "opens_at", "closes_at"]
    extra = 1
    verbose_name_plural = (
        "Working hours (several intervals a day make a lunch break; 00:00 closes at midnight)"
    )


class HolidayInline(admin.TabularInline):
    model = Holiday
    formfield_overrides = HOURS_AND_MINUTES
    fields = ["date", "name", "closed_from", "closed_until"]
    extra = 0
    verbose_name_plural = "Holidays (leave both times empty for the whole day)"


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "hours", "holidays_ahead", "country", "always_open"]
    search_fields = ["name"]
    fields = ["name", "time_zone", "always_open", "country", "updated_at"]
    readonly_fields = ["country", "updated_at"]
    inlines = [WorkingHoursInline, HolidayInline]
    change_form_template = "admin/feedback/businesscalendar/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("working_hours", "holidays")

    @admin.display(description="Working hours")
    def hours(self, obj):
        if obj.always_open:
            return "24/7"
        days: dict[int, list[str]] = defaultdict(list)
        for hours in obj.working_hours.all():
            days[hours.weekday].append(f"{hours.opens_at:%H:%M}-{hours.closes_at:%H:%M}")
        names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        return "; ".join(f"{names[day]} {', '.join(spans)}" for day, spans in sorted(days.items())) or "None"

    @admin.display(description="Holidays ahead")
    def holidays_ahead(self, obj):
        today = date.today()
        return sum(1 for holiday in obj.holidays.all() if holiday.date >= today)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.settings_changed(calendar_id=form.instance.pk)

    def response_change(self, request, obj):
        if obj.policies.exists():
            messages.info(request, "Open items under this calendar are being re-targeted to the new hours.")
        return super().response_change(request, obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_fill"] = obj is not None and self._may_fill(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- filling in public holidays --------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/fill-holidays/",
                view(self.fill_holidays_view),
                name="feedback_businesscalendar_fill_holidays",
            ),
            *super().get_urls(),
        ]

    def _may_fill(self, request, calendar) -> bool:
        return self.has_change_permission(request, calendar) and request.user.has_perm("feedback.add_holiday")

    def fill_holidays_view(self, request, pk):
        calendar = BusinessCalendar.objects.filter(pk=pk).first()
        if calendar is None:
            raise Http404("No such calendar.")
        if not self._may_fill(request, calendar):
            raise PermissionDenied
        form = FillHolidaysForm(request.POST or None, initial={"country": calendar.country})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                added = services.calendar_fill_holidays(
                    calendar=calendar,
                    country=data["country"],
                    years=data["years"],
                    subdivision=data["subdivision"] or None,
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                years = ", ".join(str(year) for year in data["years"])
                country = dict(supported_countries()).get(data["country"], data["country"])
                text = (
                    f"Added {added} public holiday(s) of {country} for {years} to “{calendar}”; open items "
                    "under it are being re-targeted."
                    if added
                    else f"“{calendar}” already had every public holiday of {country} for {years}."
                )
                messages.success(request, text)
                return redirect("admin:feedback_businesscalendar_change", calendar.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "calendar": calendar,
            "form": form,
            "title": f"Fill in public holidays of “{calendar}”",
            "change_url": reverse("admin:feedback_businesscalendar_change", args=[calendar.pk]),
        }
        return TemplateResponse(request, "admin/feedback/businesscalendar/fill_holidays.html", context)


def year_choices() -> list[tuple[int, int]]:
    this_year = date.today().year
    return [(year, year) for year in range(this_year - 1, this_year + 4)]


class FillHolidaysForm(forms.Form):
    country = forms.ChoiceField(choices=lambda: [("", "---------"), *supported_countries()])
    years = forms.TypedMultipleChoiceField(
        choices=year_choices, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    subdivision = forms.CharField(
        required=False,
        max_length=50,
        help_text="Optional: a region with holidays of its own, by code or name (e.g. BY or Bavaria).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["years"].initial = [year for year, _ in year_choices()[1:3]]  # this year and next

    def add_service_errors(self, exc: ValidationError) -> None:
        # The service names `country` for an unknown subdivision too; show it where it was typed.
        for text in exc.message_dict.get("country", exc.messages):
            field = (
                "subdivision" if "subdivision" in text and self.cleaned_data.get("subdivision") else "country"
            )
            self.add_error(field, text)


def calendar_link(calendar: BusinessCalendar) -> str:
    url = reverse("admin:feedback_businesscalendar_change", args=[calendar.pk])
    return format_html('<a href="{}">{}</a>', url, calendar)
