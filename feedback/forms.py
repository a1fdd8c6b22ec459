"""The public web feedback form: what a customer may send, and the traps that keep bots out.

Two traps besides the per-IP rate limit in views: a honeypot field people never see (bots fill
every field), and a signed timestamp of when the form was shown (a person takes more than a few
seconds to write a message; a script posts at once). The timestamp is signed with SECRET_KEY, so a
bot cannot forge an older one, and it expires, so one fetched form cannot be replayed forever.
"""

import re
import time
import zoneinfo
from functools import lru_cache

from django import forms
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from .models import Channel, ItemKind
from .texts import text

FORM_KINDS = (ItemKind.COMPLAINT, ItemKind.REQUEST, ItemKind.SUGGESTION, ItemKind.PRAISE)
MAX_MESSAGE = 5000  # a page of text; longer is pasted junk more often than a customer's story
STAMP_SALT = "feedback.web-form.shown-at"
# Overridable in settings (tests, or a site that sees faster people or slower bots).
MIN_FILL_SECONDS = 3
MAX_FORM_AGE_SECONDS = 24 * 3600
TRAP_FIELD = "homepage"  # the honeypot's name: plausible to a bot, never autofilled by browsers
TRAP_ERRORS = ("too_fast", "trap", "expired")  # why a post was refused as a bot's


def form_stamp(at: float | None = None) -> str:
    """The signed moment the form was shown (`at` is for tests: a form shown earlier)."""
    return signing.dumps({"at": time.time() if at is None else at}, salt=STAMP_SALT, compress=True)


def stamp_age(stamp: str) -> float | None:
    """Seconds since the form was shown, or None if the stamp is missing, forged or too old."""
    try:
        shown_at = float(signing.loads(stamp, salt=STAMP_SALT)["at"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    age = time.time() - shown_at
    max_age = getattr(settings, "FEEDBACK_FORM_MAX_AGE_SECONDS", MAX_FORM_AGE_SECONDS)
    return age if age <= max_age else None


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def known_time_zone(name: str) -> str:
    """The browser's zone if zoneinfo knows it, else "" (the status page then uses the calendar's)."""
    name = (name or "").strip()
    return name if name in _zone_names() else ""


PHONE_CHARACTERS = re.compile(r"^\+?[\d\s().-]+$")


def contact_kind(value: str) -> str | None:
    """'email' or 'phone' for what a customer typed to be answered on, None if it is neither."""
    if "@" in value:
        try:
            validate_email(value)
        except ValidationError:
            return None
        return "email"
    digits = sum(character.isdigit() for character in value)
    if PHONE_CHARACTERS.match(value) and 7 <= digits <= 15:  # 15: the longest number E.164 allows
        return "phone"
    return None


class WebFeedbackForm(forms.Form):
    """Labels and messages come from texts.py in the page's language; the template draws the
    fields itself (as the survey page does) for its accessible markup."""

    kind = forms.ChoiceField(choices=[(kind.value, kind.label) for kind in FORM_KINDS])
    name = forms.CharField(max_length=200)
    contact = forms.CharField(max_length=200)
    subject = forms.CharField(max_length=200)
    message = forms.CharField(max_length=MAX_MESSAGE)
    language = forms.ChoiceField(choices=[("", "")] + list(settings.LANGUAGES), required=False)
    time_zone = forms.CharField(required=False)
    stamp = forms.CharField(required=False)
    homepage = forms.CharField(required=False)  # TRAP_FIELD

    def __init__(self, *args, language: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.page_language = language
        for name, field in self.fields.items():
            is_kind = name == "kind"
            field.error_messages["required"] = text(language, "err_kind" if is_kind else "err_required")
            field.error_messages["invalid_choice"] = text(language, "err_kind" if is_kind else "err_language")
            if getattr(field, "max_length", None):
                field.error_messages["max_length"] = text(language, "err_too_long", limit=field.max_length)

    def clean_contact(self) -> str:
        contact = self.cleaned_data["contact"]
        if contact_kind(contact) is None:
            raise ValidationError(text(self.page_language, "err_contact"), code="invalid")
        return contact

    def clean_time_zone(self) -> str:
        # Filled by the page's script, never by the person: a zone we do not know is dropped
        # rather than shown as an error nobody could fix.
        return known_time_zone(self.cleaned_data["time_zone"])

    def clean(self):
        cleaned = super().clean()
        if cleaned.get(TRAP_FIELD):
            raise ValidationError(text(self.page_language, "err_trap"), code="trap")
        age = stamp_age(cleaned.get("stamp", ""))
        if age is None:
            raise ValidationError(text(self.page_language, "err_expired"), code="expired")
        if age < getattr(settings, "FEEDBACK_FORM_MIN_SECONDS", MIN_FILL_SECONDS):
            raise ValidationError(text(self.page_language, "err_too_fast"), code="too_fast")
        return cleaned

    @property
    def caught_a_bot(self) -> bool:
        return any(error.code in TRAP_ERRORS for error in self.non_field_errors().as_data())

    def stamp_to_keep(self) -> str:
        """The stamp for the form shown again: the first one while it holds (a person who fixes a
        typo has spent their time already), a fresh one once it was refused."""
        stamp = self.data.get("stamp", "")
        return stamp if stamp and stamp_age(stamp) is not None and not self.caught_a_bot else form_stamp()

    def item_data(self, customer) -> dict:
        """What services.item_create takes: the known customer, or the author as they wrote."""
        data = self.cleaned_data
        item = {
            "kind": data["kind"],
            "channel": Channel.WEB_FORM,
            "subject": data["subject"],
            "description": data["message"],
            # The language asked for, else the one the customer is reading this form in.
            "language": data["language"] or self.page_language,
            "time_zone": data["time_zone"],
        }
        if customer is not None:
            item["customer"] = customer
        else:
            item["author_name"] = data["name"]
            item["author_contact"] = data["contact"]
        return item

    def add_service_errors(self, error: ValidationError) -> None:
        """A refusal from services.item_create (the form checks what it checks, so this is rare),
        put on the field the customer typed it in, in their language."""
        where = {"description": "message", "customer": "contact", "author_contact": "contact"}
        where |= {"author_name": "name", "subject": "subject", "kind": "kind", "language": "language"}
        names = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
        for name in names:
            self.add_error(where.get(name), text(self.page_language, "err_not_saved"))
