"""The feedback app's vocabularies, and the workflow an item moves through."""

from django.db import models


class ItemKind(models.TextChoices):
    COMPLAINT = "complaint", "Complaint"
    REQUEST = "request", "Request (question)"
    SUGGESTION = "suggestion", "Suggestion"
    PRAISE = "praise", "Praise"
    REVIEW = "review", "Public review"


class Channel(models.TextChoices):
    PHONE = "phone", "Phone / hotline"
    EMAIL = "email", "E-mail"
    WEB_FORM = "web_form", "Web form"
    CHAT_BOT = "chat_bot", "Chat-bot"
    SOCIAL = "social", "Social network"
    IN_PERSON = "in_person", "In person"
    REVIEW_SITE = "review_site", "Review site"


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


PRIORITY_RANK = {value: rank for rank, value in enumerate(Priority.values)}


class ItemStatus(models.TextChoices):
    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING = "waiting", "Waiting on customer"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    REOPENED = "reopened", "Reopened"


# Where an item may go from each status. Closed is final: a customer who comes back after that
# starts a new item (as Zendesk does), so closed items stay as they were reported on.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    ItemStatus.NEW: (ItemStatus.IN_PROGRESS, ItemStatus.WAITING, ItemStatus.RESOLVED),
    ItemStatus.IN_PROGRESS: (ItemStatus.WAITING, ItemStatus.RESOLVED),
    ItemStatus.WAITING: (ItemStatus.IN_PROGRESS, ItemStatus.RESOLVED),
    ItemStatus.RESOLVED: (ItemStatus.CLOSED, ItemStatus.REOPENED),
    ItemStatus.REOPENED: (ItemStatus.IN_PROGRESS, ItemStatus.WAITING, ItemStatus.RESOLVED),
    ItemStatus.CLOSED: (),
}
# Items whose clocks can still run; the rest are done with.
OPEN_STATUSES = (ItemStatus.NEW, ItemStatus.IN_PROGRESS, ItemStatus.WAITING, ItemStatus.REOPENED)


class Target(models.TextChoices):
    FIRST_RESPONSE = "first_response", "First response"
    NEXT_RESPONSE = "next_response", "Next response"
    RESOLUTION = "resolution", "Resolution"
