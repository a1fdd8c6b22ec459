"""A feedback item (complaint, request, suggestion, praise, review) and its history."""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from customers.models import Customer, Event, Touchpoint

from .choices import Channel, ItemKind, ItemStatus, Priority
from .sla import Category, SlaPolicy

NEGATIVE_REVIEW_RATING = 2  # a review rated this or lower counts as negative (1-5 stars)


def new_status_token() -> str:
    """The request-status page's key: unguessable, and shown only to the customer."""
    return secrets.token_urlsafe(24)


class FeedbackItem(models.Model):
    """What a customer told the company through a channel, worked to resolution within its SLA."""

    kind = models.CharField(max_length=12, choices=ItemKind.choices, default=ItemKind.COMPLAINT)
    status = models.CharField(
        max_length=12, choices=ItemStatus.choices, default=ItemStatus.NEW, editable=False
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    channel = models.CharField(max_length=12, choices=Channel.choices)
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="feedback_items"
    )
    # An author the company does not know (a web form, a review): who they said they were.
    author_name = models.CharField(max_length=200, blank=True)
    author_contact = models.CharField(max_length=200, blank=True, help_text="E-mail or phone to answer on.")
    touchpoint = models.ForeignKey(
        Touchpoint, on_delete=models.PROTECT, null=True, blank=True, related_name="feedback_items"
    )
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="items"
    )
    subject = models.CharField(max_length=200)
    description = models.TextField()
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="feedback_items",
    )
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)
    time_zone = models.CharField(
        max_length=64, blank=True, help_text="The customer's, for the status page (empty: the calendar's)."
    )

    # --- a public review
    review_source = models.CharField(max_length=100, blank=True, help_text="Review site or social network.")
    review_url = models.URLField(max_length=500, blank=True)
    review_rating = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)], help_text="1-5 stars."
    )
    public_answer = models.TextField(blank=True, help_text="The answer published under the review.")
    public_answered_at = models.DateTimeField(null=True, blank=True)

    # --- SLA and the moments the reports are made of
    sla_policy = models.ForeignKey(
        SlaPolicy, on_delete=models.PROTECT, null=True, blank=True, related_name="items", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    updated_at = models.DateTimeField(auto_now=True)
    first_response_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    reopened_count = models.PositiveSmallIntegerField(default=0, editable=False)
    resolution_note = models.TextField(blank=True, editable=False)

    status_token = models.CharField(max_length=64, unique=True, default=new_status_token, editable=False)
    # The customer event this item follows up (a detractor's survey answer): once per event.
    origin_event = models.OneToOneField(
        Event, on_delete=models.SET_NULL, null=True, blank=True, related_name="follow_up_item", editable=False
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(
                fields=["kind", "review_rating"], condition=Q(kind=ItemKind.REVIEW), name="review_rating"
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.subject}"

    @property
    def is_negative_review(self) -> bool:
        return self.kind == ItemKind.REVIEW and (self.review_rating or 5) <= NEGATIVE_REVIEW_RATING

    def clean(self):
        errors = {}
        if (
            not self.customer_id
            and not (self.author_name or self.author_contact)
            and self.kind != ItemKind.REVIEW
        ):
            errors["customer"] = "Say who the customer is, or give the author's name or contact."
        if self.kind != ItemKind.REVIEW and (self.review_source or self.review_url or self.review_rating):
            errors["review_source"] = "Only public reviews have a source, link and rating."
        if self.kind == ItemKind.REVIEW and not self.review_source:
            errors["review_source"] = "Say where the review was published."
        if errors:
            raise ValidationError(errors)


class ItemChange(models.Model):
    """One change to an item (its status, priority, assignee, SLA targets), who made it and why."""

    class Field(models.TextChoices):
        STATUS = "status", "Status"
        PRIORITY = "priority", "Priority"
        ASSIGNEE = "assignee", "Assignee"
        SLA = "sla", "SLA targets"
        CLOCK = "clock", "SLA clock"

    item = models.ForeignKey(FeedbackItem, on_delete=models.CASCADE, related_name="changes")
    field = models.CharField(max_length=12, choices=Field.choices)
    old_value = models.CharField(max_length=200, blank=True)
    new_value = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["item", "changed_at"])]

    def __str__(self):
        return f"{self.field}: {self.old_value} → {self.new_value}"


class ItemMessage(models.Model):
    """The conversation on an item, in order: internal notes, replies to the customer, and what
    the customer wrote back."""

    class Kind(models.TextChoices):
        NOTE = "note", "Internal note"
        REPLY = "reply", "Reply to the customer"
        CUSTOMER = "customer", "Message from the customer"

    item = models.ForeignKey(FeedbackItem, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    body = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # A reply is e-mailed to the customer once (services.replies); where and when it went.
    emailed_to = models.CharField(max_length=200, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["item", "created_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} on #{self.item_id}"


def attachment_path(instance: "Attachment", filename: str) -> str:
    return f"feedback/{instance.item_id}/{secrets.token_hex(8)}/{filename}"


class Attachment(models.Model):
    item = models.ForeignKey(FeedbackItem, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path)
    name = models.CharField(max_length=200)
    size = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self):
        return self.name
