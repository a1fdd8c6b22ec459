"""REST endpoints of the feedback app, registered on cxplatform.api.router:
/api/complaints/ (items of every kind and their workflow), /api/sla-policies/, /api/calendars/
and /api/feedback-categories/ (a CX lead's settings)."""

from . import items, sla_settings  # noqa: F401  (each registers its endpoints)
