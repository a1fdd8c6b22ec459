"""The item form: logging an item, and on its page changing it, answering it and moving it along
its workflow, all through the services so that what they refuse shows next to its field.

The form calls the services while it validates (as the campaign form does), inside the admin
view's transaction. It first takes a savepoint, so that if something else on the page turns out
invalid afterwards (an attachment too big), FeedbackItemAdmin rolls the item back to it: a page
shown again with errors has changed nothing, and saving it again does not reply twice."""

import zoneinfo

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from .. import services
from ..models import TRANSITIONS, Category, FeedbackItem, ItemMessage, ItemStatus
from .common import place_errors

# What each next status means for the clocks, said where the agent picks it.
TRANSITION_HINTS = {
    ItemStatus.IN_PROGRESS: "someone is working on it",
    ItemStatus.WAITING: "the SLA clocks pause until the customer replies; say what they are asked for",
    ItemStatus.RESOLVED: "needs a resolution note, which the customer sees on their status page",
    ItemStatus.CLOSED: "final: nothing more happens on it",
    ItemStatus.REOPENED: "the resolution clock runs again where it stood",
}
MESSAGE_KINDS = [
    (ItemMessage.Kind.REPLY, "Reply to the customer (it is the response the SLA counts)"),
    (ItemMessage.Kind.NOTE, "Internal note (for colleagues only; moves no clock)"),
    (ItemMessage.Kind.CUSTOMER, "Log what the customer wrote or said (a waiting item runs again)"),
]
# The services name these; the form shows them under its own names.
ERROR_TARGETS = {"status": "transition_to", "note": "transition_note", "body": "message_body"}
ACT_FIELDS = ("message_kind", "message_body", "transition_to", "transition_note")


def time_zone_choices() -> list[tuple[str, str]]:
    return [("", "The SLA calendar's zone"), *((z, z) for z in sorted(zoneinfo.available_timezones()))]


class ItemForm(forms.ModelForm):
    """Logging an item (add page) or working it (change page): details, a reply or note, a move."""

    # Links to reviews are typed without a scheme as often as with one: read them as https.
    review_url = forms.URLField(max_length=500, required=False, assume_scheme="https", label="Review URL")
    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        required=False,
        label="Customer's time zone",
        help_text="For their status page; empty: the SLA calendar's zone.",
    )
    message_kind = forms.ChoiceField(
        choices=MESSAGE_KINDS,
        initial=ItemMessage.Kind.REPLY,
        required=False,
        widget=forms.RadioSelect,
        label="What",
    )
    message_body = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 80}), label="Text"
    )
    transition_to = forms.ChoiceField(
        required=False, widget=forms.RadioSelect, label="Move it to", choices=[("", "Leave it as it is")]
    )
    transition_note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        label="Note",
        help_text="Kept in the history with your name. Needed for waiting on the customer (what they "
        "are asked for) and for resolving (how it was resolved: the customer sees it).",
    )
    user = None  # the requesting user, set by FeedbackItemAdmin.get_form
    acts: set[str] = set()  # which of ACT_FIELDS this user is shown (the rest are dropped)
    savepoint = None  # taken before the services ran; see the module's note
    done: list[str]

    class Meta:
        model = FeedbackItem
        fields = list(services.ITEM_FIELDS)
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4, "cols": 80}),
            "public_answer": forms.Textarea(attrs={"rows": 3, "cols": 80}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.done = []
        for name in ACT_FIELDS:
            if name not in self.acts:
                del self.fields[name]
        item = self.instance
        if "transition_to" in self.fields and item.pk:
            self.fields["transition_to"].choices = [
                ("", f"Leave it {ItemStatus(item.status).label.lower()}"),
                *(
                    (to, f"{ItemStatus(to).label} ({TRANSITION_HINTS[to]})")
                    for to in TRANSITIONS[item.status]
                ),
            ]
        if "message_kind" in self.fields and item.status == ItemStatus.CLOSED:
            # A closed item is as it was reported on: colleagues may still note things on it.
            self.fields["message_kind"].choices = [MESSAGE_KINDS[1]]
            self.fields["message_kind"].initial = ItemMessage.Kind.NOTE
        if "category" in self.fields:
            # Inactive categories are not offered, but an item already in one keeps it.
            self.fields["category"].queryset = Category.objects.filter(
                Q(active=True) | Q(pk=item.category_id)
            )

    def clean_review_rating(self):
        rating = self.cleaned_data.get("review_rating")
        if rating is not None and not 1 <= rating <= 5:
            raise ValidationError("Give 1 to 5 stars.")
        return rating

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("transition_note", "").strip() and not cleaned.get("transition_to"):
            self.add_error(
                "transition_to",
                "Pick the status the note goes with, or write it as an internal note instead.",
            )
        return cleaned

    def _post_clean(self):
        if self.errors:
            super()._post_clean()  # the model's own checks as well, so every problem shows at once
            return
        self.savepoint = transaction.savepoint()
        try:
            with transaction.atomic():
                if self.instance.pk is None:
                    self.instance = services.item_create(data=self._details(new=True), by=self.user)
                else:
                    self._work(self.instance.pk)
        except ValidationError as exc:
            self.done = []
            self._update_errors(place_errors(self, exc, ERROR_TARGETS))

    def _details(self, *, new: bool) -> dict:
        names = [name for name in services.ITEM_FIELDS if name in self.fields]
        if not new:
            names = [name for name in names if name in self.changed_data]  # only what the agent changed
        elif "language" not in self.changed_data:
            names = [name for name in names if name != "language"]  # the customer's own, by default
        return {name: self.cleaned_data[name] for name in names}

    def _work(self, item_id: int) -> None:
        """Details first, then the message, then the move: a reply and "waiting" in one go is the
        common case, and a reply to a new item already moves it to in progress."""
        if details := self._details(new=False):
            services.item_update(item_id=item_id, data=details, by=self.user)
            self.done.append("Details saved.")
        body = self.cleaned_data.get("message_body", "")
        if body.strip():
            kind = self.cleaned_data.get("message_kind") or self.fields["message_kind"].initial
            if kind == ItemMessage.Kind.REPLY:
                services.item_reply(item_id=item_id, body=body, by=self.user)
                self.done.append("Reply recorded; it is e-mailed to the customer.")
            elif kind == ItemMessage.Kind.NOTE:
                services.item_note(item_id=item_id, body=body, by=self.user)
                self.done.append("Internal note added.")
            else:
                services.item_customer_message(item_id=item_id, body=body, by=self.user)
                self.done.append("The customer's message is logged.")
        to = self.cleaned_data.get("transition_to")
        current = FeedbackItem.objects.values_list("status", flat=True).get(pk=item_id)
        if to and to != current:  # the reply may have moved it there already
            note = self.cleaned_data.get("transition_note", "")
            services.item_transition(item_id=item_id, to=to, by=self.user, note=note)
            self.done.append(f"Now {ItemStatus(to).label.lower()}.")
        self.instance = FeedbackItem.objects.select_related("sla_policy__calendar").get(pk=item_id)
