"""Replies reach the customer: each reply is e-mailed once, with the link to their status page.

Sent by a task after the reply's commit (DESIGN.md: side effects on commit). The message row is
claimed (emailed_at) before the e-mail goes, so a task run twice sends it once; an item whose
author left no e-mail address (a phone call from someone unknown) is answered the way it came."""

from django.conf import settings
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone

from ..models import ItemMessage
from ..texts import text


def status_page_url(item) -> str:
    return settings.SITE_URL + reverse("feedback-status", args=[item.status_token])


def reply_address(item) -> str:
    if item.customer_id and item.customer.email:
        return item.customer.email
    return item.author_contact if "@" in item.author_contact else ""


def reply_email_send(*, message_id: int) -> bool:
    """E-mail a reply to the item's customer; False if it went already or there is no address."""
    message = ItemMessage.objects.select_related("item__customer").filter(pk=message_id).first()
    if message is None or message.kind != ItemMessage.Kind.REPLY:
        return False
    item = message.item
    address = reply_address(item)
    if not address:
        return False
    claimed = ItemMessage.objects.filter(pk=message.pk, emailed_at__isnull=True).update(
        emailed_at=timezone.now(), emailed_to=address[:200]
    )
    if not claimed:
        return False
    language = item.language
    host = settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"
    EmailMessage(
        subject=text(language, "reply_subject", subject=item.subject, number=item.pk),
        body=f"{message.body}\n\n{text(language, 'reply_follow', url=status_page_url(item))}\n",
        to=[address],
        headers={
            "Message-ID": f"<feedback-reply-{message.pk}.{item.pk}@{host}>",
            "Auto-Submitted": "auto-replied",
        },
    ).send()
    return True
