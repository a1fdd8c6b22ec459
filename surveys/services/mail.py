"""The invitation and reminder emails.

A sending chunk writes up to SURVEY_SEND_CHUNK emails that differ only in a few values, so
InvitationEmails does once per chunk what does not change from one email to the next: the compiled
templates, each language's words and subject, the prefix and suffix of the links, the subject's
encoded header. And as Django would write each of them with email.generator, write_message()
writes the same bytes in a quarter of the time; send() hands them to the chunk's open SMTP
session without the backend parsing both addresses again. (Measured per email before: ~2.4 ms to
render and write, ~0.3 ms of it again in the SMTP backend; now ~0.8 ms in all.)
"""

import re
import secrets
import sys
from email.policy import Compat32
from email.utils import formatdate
from functools import lru_cache

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import forbid_multi_line_headers, sanitize_address
from django.template import Context
from django.template.loader import get_template
from django.urls import reverse

from ..models import Invitation
from ..texts import text

WORDS = ("intro", "reminder_intro", "cta", "unsubscribe")
ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
DOT_ATOM_ADDRESS = re.compile(rf"{ATEXT}(?:\.{ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
WORD_BREAK = re.compile(r"[\s;,]")  # where compat32 may fold a header value
URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")  # what new_token() makes; reverse() quotes none of it


def survey_url(invitation: Invitation) -> str:
    return settings.SITE_URL + reverse("survey-page", args=[invitation.token])


def unsubscribe_url(invitation: Invitation) -> str:
    return settings.SITE_URL + reverse("survey-unsubscribe", args=[invitation.token])


def message_id(invitation: Invitation, reminder: int = 0) -> str:
    """Stable per invitation (and per reminder): a resend after a crash carries the same id, so
    mail servers and the customer's client recognise it as the same message."""
    base = invitation.message_id
    return base if not reminder else base.replace("@", f".reminder{reminder}@", 1)


def send(email: EmailMultiAlternatives, connection) -> None:
    """email.send(), over one of Django's SMTP connections open for a chunk, without Django's
    SMTP backend parsing the sender's and the recipient's address again for every email
    (sanitize_address, the dearest step left in writing an invitation). Any other backend (the
    file backend, the test outbox), or a connection not open: email.send()."""
    smtp = connection.connection if isinstance(connection, SMTPBackend) else None
    if smtp is None or not email.recipients():
        email.send()
        return
    # As EmailBackend._send() does it, but for the parsing of what needs none.
    sender = _envelope_address(email.from_email)
    recipients = [_envelope_address(address) for address in email.recipients()]
    smtp.sendmail(sender, recipients, email.message().as_bytes(linesep="\r\n"))


def _envelope_address(address: str) -> str:
    """sanitize_address(address), which returns a plain dot-atom address unchanged."""
    if DOT_ATOM_ADDRESS.fullmatch(address):
        return address
    return _sanitized(address)


@lru_cache(maxsize=16)  # the sender: the same for every email
def _sanitized(address: str) -> str:
    return sanitize_address(address, settings.DEFAULT_CHARSET)


def invitation_email(invitation: Invitation, *, reminder: int = 0, connection=None) -> EmailMultiAlternatives:
    """The email for an invitation (reminder=0) or its n-th reminder, in the customer's language.
    To write many, keep one InvitationEmails."""
    return InvitationEmails().email(invitation, reminder=reminder, connection=connection)


class InvitationEmails:
    """Writes the emails of one sending chunk (or one reminder chunk)."""

    def __init__(self):
        # The compiled templates themselves: get_template() per email costs a loader look-up, and
        # rendering through the backend a context built twice.
        self.text = get_template("surveys/email/invitation.txt").template
        self.html = get_template("surveys/email/invitation.html").template
        self._words: dict[str, dict[str, str]] = {}
        self._subjects: dict[tuple[int, str, int], str] = {}
        self._links = {name: _link_parts(name) for name in ("survey-page", "survey-unsubscribe")}

    def email(self, invitation: Invitation, *, reminder: int = 0, connection=None) -> EmailMultiAlternatives:
        """The email for an invitation (reminder=0) or its n-th reminder, in the customer's language.

        Expects invitation.customer and invitation.campaign loaded (the sending chunk selects them).
        """
        language = invitation.language
        context = {
            "t": self._words_of(language),
            "greeting": text(language, "greeting", name=invitation.customer.name),
            "reminder": reminder,
            "survey_url": self._link("survey-page", invitation),
            "unsubscribe_url": self._link("survey-unsubscribe", invitation),
            "link_note": text(language, "link_note", date=invitation.expires_at.date().isoformat())
            if invitation.expires_at
            else "",
            "language": language,
        }
        headers = {
            "Message-ID": message_id(invitation, reminder),
            # One-click unsubscribe (RFC 8058): mail clients show their own button for it.
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        }
        if reminder:
            headers["In-Reply-To"] = headers["References"] = message_id(invitation)
        email = _Email(
            subject=self._subject(invitation, reminder),
            body=self.text.render(Context(context)),
            to=[invitation.customer.email],
            headers=headers,
            connection=connection,
        )
        email.attach_alternative(self.html.render(Context(context)), "text/html")
        return email

    def _words_of(self, language: str) -> dict[str, str]:
        if language not in self._words:
            self._words[language] = {key: text(language, key) for key in WORDS}
        return self._words[language]

    def _subject(self, invitation: Invitation, reminder: int) -> str:
        key = (invitation.campaign_id, invitation.language, reminder)
        if key not in self._subjects:
            self._subjects[key] = email_subject(invitation, reminder)
        return self._subjects[key]

    def _link(self, name: str, invitation: Invitation) -> str:
        token = invitation.token
        if not URL_SAFE.fullmatch(token):
            return settings.SITE_URL + reverse(name, args=[token])
        before, after = self._links[name]
        return f"{before}{token}{after}"


def email_subject(invitation: Invitation, reminder: int = 0) -> str:
    language, own = invitation.language, (invitation.campaign.email_subject or {}).get(invitation.language)
    if not own:
        return text(language, "reminder_subject" if reminder else "subject")
    if reminder:
        return f"{text(language, 'reminder_subject').split(':')[0]}: {own}"
    return own


def _link_parts(name: str) -> tuple[str, str]:
    """The link around its token, e.g. ("https://cx.example.com/s/", "/"): reverse() once per chunk."""
    before, _, after = (settings.SITE_URL + reverse(name, args=["__token__"])).rpartition("__token__")
    return before, after


class _QuickFold(Compat32):
    """compat32 (the policy of Django's messages), minus its cost for the common headers: it builds
    and encodes a Header object for every header of every email, yet a printable ASCII value that
    fits on the line comes out as it went in, and a single word that does not fit after the name
    goes whole to the next line. Anything else goes through compat32 itself."""

    def fold_binary(self, name, value):
        limit = self.max_line_length or 0
        if isinstance(value, str) and value.isascii() and value.isprintable():
            if len(name) + 2 + len(value) <= limit:
                return f"{name}: {value}{self.linesep}".encode("ascii")
            if len(value) < limit and not WORD_BREAK.search(value):
                return f"{name}: {self.linesep} {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


QUICK_FOLD = _QuickFold(linesep="\r\n")
LONG_LINE = 998  # RFC 5322; Django quoted-printable-encodes a body with a longer line
NEWLINE = re.compile(r"\r\n|\r|\n")  # what email.generator normalises to the line separator


class _Email(EmailMultiAlternatives):
    """An invitation email, written to bytes by write_message() rather than by email.generator."""

    def message(self):
        data = write_message(self)
        if data is None:
            message = super().message()
            message.policy = QUICK_FOLD.clone(linesep="\n")
            return message
        return _Written(self, data)


class _Written:
    """What _Email.message() returns: the bytes write_message() wrote, for as_bytes() (all that the
    SMTP and file backends use), and for anything else the Message Django would have built."""

    def __init__(self, email: EmailMultiAlternatives, data: bytes):
        self._email, self._data = email, data

    def as_bytes(self, unixfrom=False, linesep="\n") -> bytes:
        if unixfrom:
            return self._django().as_bytes(unixfrom=unixfrom, linesep=linesep)
        return self._data if linesep == "\r\n" else self._data.replace(b"\r\n", linesep.encode())

    def __getattr__(self, name):
        return getattr(self._django(), name)

    def _django(self):
        if "_message" not in self.__dict__:
            self._message = EmailMultiAlternatives.message(self._email)
        return self._message


def write_message(email: EmailMultiAlternatives) -> bytes | None:
    """The bytes Django's message().as_bytes(linesep="\\r\\n") gives for an invitation email (but
    for the boundary's random number and the Date): ~0.3 ms instead of ~1.2 ms. Headers go through
    Django's own checks and compat32's folding, as there; the two text parts are utf-8 in 7bit or
    8bit, as Django writes any body without a line over 998 bytes. None for anything else
    (attachments, cc, long lines, ...): Django writes those. tests/surveys/test_sending.py holds
    the two writers to the same bytes."""
    if (
        email.cc
        or email.reply_to
        or email.attachments
        or email.encoding
        or settings.DEFAULT_CHARSET.lower() != "utf-8"
        or len(email.alternatives) != 1
        or email.alternatives[0].mimetype != "text/html"
        or {"from", "to", "cc", "reply-to", "date"} & {name.lower() for name in email.extra_headers}
        or "message-id" not in {name.lower() for name in email.extra_headers}
    ):
        return None
    parts = [_text_part(email.body, "plain"), _text_part(email.alternatives[0].content, "html")]
    if None in parts:
        return None
    boundary = _boundary(parts)
    headers = [
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'.encode("ascii"),
        b"MIME-Version: 1.0\r\n",
        _same_header("Subject", str(email.subject)),
        _same_header("From", str(email.from_email)),
        _header("To", ", ".join(str(address) for address in email.to)),
        _header("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME)),
        *(_header(name, value) for name, value in email.extra_headers.items()),
    ]
    separator = f"--{boundary}".encode("ascii")
    return b"".join(
        [
            *headers,
            b"\r\n",
            separator,
            b"\r\n",
            parts[0],
            b"\r\n",
            separator,
            b"\r\n",
            parts[1],
            b"\r\n",
            separator,
            b"--\r\n",
        ]
    )


def _header(name: str, value) -> bytes:
    # What SafeMIMEMultipart.__setitem__ and the generator do to a header, with quick folding.
    return QUICK_FOLD.fold_binary(*forbid_multi_line_headers(name, value, "utf-8"))


# The subject (encoded and folded: the dearest header) and the sender are the same for a whole chunk.
_same_header = lru_cache(maxsize=256)(_header)


def _text_part(content: str, subtype: str) -> bytes | None:
    body = NEWLINE.sub("\r\n", content).encode("utf-8")
    if any(len(line) > LONG_LINE for line in body.split(b"\r\n")):
        return None
    encoding = "7bit" if body.isascii() else "8bit"
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode("ascii") + body


def _boundary(parts: list[bytes]) -> str:
    # As email.generator makes them (15 "=", 19 random digits, "=="), and never a line of a part.
    while True:
        boundary = f"==============={secrets.randbelow(sys.maxsize):019d}=="
        if not any(f"--{boundary}".encode("ascii") in part for part in parts):
            return boundary
