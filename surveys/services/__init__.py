"""Writes of the surveys app (DESIGN.md: keyword-only, atomic, validate then save)."""

from .campaigns import (
    CAMPAIGN_FIELDS,
    campaign_delete,
    campaign_launch,
    campaign_run,
    campaign_save,
    campaign_scan_events,
    campaign_stop,
    invitations_build,
)
from .responses import (
    SaveResult,
    SurveyClosed,
    invitation_mark_bounced,
    invitation_open,
    invitation_state,
    invitation_unsubscribe,
    response_save,
)
from .sending import (
    invitations_dispatch,
    invitations_remind,
    invitations_send,
    reminders_dispatch,
    survey_sweep,
)
from .surveys import SURVEY_FIELDS, survey_from_template, survey_save

__all__ = [
    "CAMPAIGN_FIELDS",
    "SURVEY_FIELDS",
    "SaveResult",
    "SurveyClosed",
    "campaign_delete",
    "campaign_launch",
    "campaign_run",
    "campaign_save",
    "campaign_scan_events",
    "campaign_stop",
    "invitation_mark_bounced",
    "invitation_open",
    "invitation_state",
    "invitation_unsubscribe",
    "invitations_build",
    "invitations_dispatch",
    "invitations_remind",
    "invitations_send",
    "reminders_dispatch",
    "response_save",
    "survey_from_template",
    "survey_save",
    "survey_sweep",
]
