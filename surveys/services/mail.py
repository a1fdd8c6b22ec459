"""The invitation and reminder emails."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from ..models import Invitation
from ..texts import text


def survey_url(invitation: Invitation) -> str:
    return settings.SITE_URL + reverse("survey-page", args=[invitation.token])


def unsubscribe_url(invitation: Invitation) -> str:
    return settings.SITE_URL + reverse("survey-unsubscribe", args=[invitation.token])


def message_id(invitation: Invitation, reminder: int = 0) -> str:
    """Stable per invitation (and per reminder): a resend after a crash carries the same id, so
    mail servers and the customer's client recognise it as the same message."""
    base = invitation.message_id
    return base if not reminder else base.replace("@", f".reminder{reminder}@", 1)


def invitation_email(invitation: Invitation, *, reminder: int = 0, connection=None) -> EmailMultiAlternatives:
    """The email for an invitation (reminder=0) or its n-th reminder, in the customer's language.

    Expects invitation.customer and invitation.campaign loaded (the sending chunk selects them).
    """
    language = invitation.language
    campaign = invitation.campaign
    customer = invitation.customer
    subject = (campaign.email_subject or {}).get(language) or text(
        language, "reminder_subject" if reminder else "subject"
    )
    if reminder and (campaign.email_subject or {}).get(language):
        subject = f"{text(language, 'reminder_subject').split(':')[0]}: {subject}"
    context = {
        "t": {key: text(language, key) for key in ("intro", "reminder_intro", "cta", "unsubscribe")},
        "greeting": text(language, "greeting", name=customer.name),
        "reminder": reminder,
        "survey_url": survey_url(invitation),
        "unsubscribe_url": unsubscribe_url(invitation),
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
    email = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("surveys/email/invitation.txt", context),
        to=[customer.email],
        headers=headers,
        connection=connection,
    )
    email.attach_alternative(render_to_string("surveys/email/invitation.html", context), "text/html")
    return email
