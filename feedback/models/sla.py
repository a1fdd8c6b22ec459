"""What a CX lead sets up: categories, business calendars and SLA policies."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from customers.models import ClientType, ServiceClass
from cxplatform.validation import choice_list_errors

from .choices import Channel, ItemKind, Priority


class Category(models.Model):
    """What an item is about (delivery, billing, staff ...); the list is a CX lead's to keep."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True, help_text="Inactive categories are kept but not offered.")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


def time_zone_names() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class BusinessCalendar(models.Model):
    """When the clock of an SLA target runs: working hours per weekday in a time zone, minus holidays.

    A calendar with "always open" is 24/7 and ignores its hours and holidays."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default=settings.TIME_ZONE, choices=time_zone_names)
    always_open = models.BooleanField(default=False, help_text="24/7: the clock always runs.")
    country = models.CharField(
        max_length=8, blank=True, help_text="Country whose public holidays were filled in (ISO code), if any."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class WorkingHours(models.Model):
    """One open interval of a weekday; several make a day with a lunch break."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens_at = models.TimeField()
    closes_at = models.TimeField(help_text="00:00 means midnight at the end of the day.")

    class Meta:
        ordering = ["calendar", "weekday", "opens_at"]
        verbose_name_plural = "working hours"

    def __str__(self):
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"

    @property
    def minutes(self) -> tuple[int, int]:
        """The interval in minutes of the local day; a closing time of 00:00 is the day's end."""
        end = self.closes_at.hour * 60 + self.closes_at.minute
        return self.opens_at.hour * 60 + self.opens_at.minute, end or 1440


class Holiday(models.Model):
    """A day (or part of one) the calendar is closed."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=200, blank=True)
    closed_from = models.TimeField(
        null=True, blank=True, help_text="Empty with 'closed until': the whole day."
    )
    closed_until = models.TimeField(null=True, blank=True, help_text="00:00 means the end of the day.")

    class Meta:
        ordering = ["calendar", "date", "closed_from"]

    def __str__(self):
        return f"{self.date} {self.name}".strip()

    @property
    def minutes(self) -> tuple[int, int]:
        if self.closed_from is None and self.closed_until is None:
            return 0, 1440
        start = (self.closed_from.hour * 60 + self.closed_from.minute) if self.closed_from else 0
        end = (self.closed_until.hour * 60 + self.closed_until.minute) if self.closed_until else 1440
        return start, end or 1440

    def clean(self):
        start, end = self.minutes
        if end <= start:
            raise ValidationError({"closed_until": "Must be after 'closed from'."})


class SlaPolicy(models.Model):
    """Targets for answering and resolving items, in business minutes of a calendar.

    The first active policy, in order, whose every condition matches an item is the item's; a
    condition left empty matches anything, so a policy without conditions is the fallback."""

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField(default=100, help_text="Policies are tried in this order.")
    active = models.BooleanField(default=True)
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="policies")

    # --- conditions: within one any value matches; all non-empty ones must match
    priorities = models.JSONField(
        default=list, blank=True, help_text=f"Any of: {', '.join(Priority.values)}."
    )
    kinds = models.JSONField(default=list, blank=True, help_text=f"Any of: {', '.join(ItemKind.values)}.")
    channels = models.JSONField(default=list, blank=True, help_text=f"Any of: {', '.join(Channel.values)}.")
    service_classes = models.JSONField(
        default=list, blank=True, help_text=f"Any of: {', '.join(ServiceClass.values)}."
    )
    categories = models.ManyToManyField(Category, blank=True, related_name="policies")
    client_types = models.ManyToManyField(ClientType, blank=True, related_name="sla_policies")

    # --- targets, in business minutes
    first_response_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    next_response_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Optional: answer again within this long after each customer reply.",
    )
    resolution_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])

    # --- warnings and escalation
    warn_at_percent = models.PositiveSmallIntegerField(
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="Warn the assignee when this share of a target is used.",
    )
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The lead told of every breach under this policy, with the assignee.",
    )
    escalate_to_priority = models.CharField(
        max_length=10,
        choices=Priority.choices,
        blank=True,
        help_text="On a breach, raise the priority to this.",
    )
    escalate_to_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="On a breach, reassign the item to this person.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self):
        return self.name

    def clean(self):
        errors = choice_list_errors(
            self,
            {"priorities": Priority, "kinds": ItemKind, "channels": Channel, "service_classes": ServiceClass},
        )
        if (
            self.first_response_minutes
            and self.resolution_minutes
            and self.first_response_minutes > self.resolution_minutes
        ):
            errors["first_response_minutes"] = "The first response cannot be due after the resolution."
        if errors:
            raise ValidationError(errors)
