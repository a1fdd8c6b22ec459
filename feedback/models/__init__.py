"""The feedback app's models: items and their history, SLA settings, and the clocks."""

from .choices import (
    OPEN_STATUSES,
    PRIORITY_RANK,
    TRANSITIONS,
    Channel,
    ItemKind,
    ItemStatus,
    Priority,
    Target,
)
from .clock import ClockSegment, ClockState, SegmentKind, SlaClock, SlaNotification
from .item import NEGATIVE_REVIEW_RATING, Attachment, FeedbackItem, ItemChange, ItemMessage
from .sla import BusinessCalendar, Category, Holiday, SlaPolicy, Weekday, WorkingHours

__all__ = [
    "NEGATIVE_REVIEW_RATING",
    "OPEN_STATUSES",
    "PRIORITY_RANK",
    "TRANSITIONS",
    "Attachment",
    "BusinessCalendar",
    "Category",
    "Channel",
    "ClockSegment",
    "ClockState",
    "FeedbackItem",
    "Holiday",
    "ItemChange",
    "ItemKind",
    "ItemMessage",
    "ItemStatus",
    "Priority",
    "SegmentKind",
    "SlaClock",
    "SlaNotification",
    "SlaPolicy",
    "Target",
    "Weekday",
    "WorkingHours",
]
