"""Writes of the feedback app (DESIGN.md: keyword-only, atomic, validate then save)."""

from .clocks import ClockReading, clock_reading, clock_rebuild
from .items import (
    ITEM_FIELDS,
    attachment_add,
    item_create,
    item_customer_message,
    item_note,
    item_reply,
    item_transition,
    item_update,
    items_create,
)
from .policies import (
    calendar_fill_holidays,
    calendar_save,
    items_retarget,
    policy_for,
    policy_save,
    settings_changed,
    sla_summary,
    working_hours_check,
)
from .replies import reply_email_send, status_page_url
from .sweep import notices_dispatch, notices_send, sla_sweep

__all__ = [
    "attachment_add",
    "calendar_save",
    "policy_save",
    "reply_email_send",
    "status_page_url",
    "ITEM_FIELDS",
    "ClockReading",
    "calendar_fill_holidays",
    "clock_reading",
    "clock_rebuild",
    "item_create",
    "item_customer_message",
    "item_note",
    "item_reply",
    "item_transition",
    "item_update",
    "items_create",
    "items_retarget",
    "notices_dispatch",
    "notices_send",
    "policy_for",
    "settings_changed",
    "sla_summary",
    "sla_sweep",
    "working_hours_check",
]
