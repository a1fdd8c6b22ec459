"""What the feedback admin pages share: times in a calendar's zone, durations, the people an item
can be given to, and the customer's status-page link."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.urls import reverse
from django.utils import timezone

from ..models import FeedbackItem


def item_zone(item: FeedbackItem) -> str:
    """The zone an item's times are shown in: its SLA calendar's, as its due times are reckoned there."""
    policy = item.sla_policy
    return policy.calendar.time_zone if policy else timezone.get_current_timezone_name()


def at(moment: datetime | None, zone: str, *, style: str = "long") -> str:
    """A moment as staff read it in a calendar's zone: "Mon 30 Nov 2026, 12:30 MSK" (long),
    "Mon 30 Nov, 12:30 MSK" (short, for lists) or "2026-11-30 12:30" (stamp, for logs)."""
    if moment is None:
        return "–"
    local = moment.astimezone(ZoneInfo(zone))
    if style == "stamp":
        return f"{local:%Y-%m-%d %H:%M}"
    return (
        f"{local:%a %d %b %Y, %H:%M} {local.tzname()}"
        if style == "long"
        else (f"{local:%a %d %b, %H:%M} {local.tzname()}")
    )


def duration(seconds: float, *, days: bool = False) -> str:
    """Business time in hours and minutes ("27 h 5 min": business days have no fixed length);
    wall-clock time (a pause) with days when asked."""
    minutes = int(seconds // 60)
    if minutes == 0:
        return "0 min" if seconds <= 0 else "< 1 min"
    d, rest = divmod(minutes, 1440) if days else (0, minutes)
    h, m = divmod(rest, 60)
    parts = [f"{d} d" if d else "", f"{h} h" if h else "", f"{m} min" if m else ""]
    return " ".join(part for part in parts if part)


def status_page_url(item: FeedbackItem) -> str:
    return settings.SITE_URL + reverse("feedback-status", args=[item.status_token])


def staff_users():
    """Who an item (or an SLA breach) can be given to: active staff. A plain list, not an
    autocomplete: only the Admin role may view users, and the other roles must still pick one."""
    return get_user_model().objects.filter(is_active=True, is_staff=True).order_by("first_name", "username")


def person(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


def place_errors(form, errors: ValidationError, targets: dict[str, str]) -> ValidationError:
    """A service's errors moved onto the form's own fields: renamed by `targets`, and those naming
    a field the form does not show put on top, naming it."""
    if not hasattr(errors, "error_dict"):
        return errors
    placed: dict[str, list[str]] = {}
    for name, texts in errors.message_dict.items():
        target = targets.get(name, name)
        if target not in form.fields and target != NON_FIELD_ERRORS:
            label = name.replace("_", " ").capitalize()
            target, texts = NON_FIELD_ERRORS, [f"{label}: {text}" for text in texts]
        placed.setdefault(target, []).extend(texts)
    return ValidationError(placed)
