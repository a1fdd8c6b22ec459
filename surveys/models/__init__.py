"""The surveys app's models: surveys and questions, campaigns, and the invitation ledger."""

from .campaign import Campaign, ContactPolicy, NewToken, new_token
from .ledger import (
    OPEN_STATUSES,
    PENDING_STATUSES,
    Answer,
    HeldBackReason,
    Invitation,
    InvitationStatus,
    Response,
    SurveyOptOut,
)
from .survey import (
    CHOICE_KINDS,
    FIXED_SCALES,
    LANGUAGE_CODES,
    MAX_TEXT_ANSWER,
    QUESTION_FIELDS,
    SCALED_KINDS,
    Question,
    QuestionKind,
    ScaleDirection,
    Survey,
)

__all__ = [
    "CHOICE_KINDS",
    "FIXED_SCALES",
    "LANGUAGE_CODES",
    "MAX_TEXT_ANSWER",
    "OPEN_STATUSES",
    "PENDING_STATUSES",
    "QUESTION_FIELDS",
    "SCALED_KINDS",
    "Answer",
    "Campaign",
    "ContactPolicy",
    "HeldBackReason",
    "Invitation",
    "InvitationStatus",
    "NewToken",
    "Question",
    "QuestionKind",
    "Response",
    "ScaleDirection",
    "Survey",
    "SurveyOptOut",
    "new_token",
]
