"""The campaign form: stages and classes as ticks, the subject as one box per language, and saving
through services.campaign_save so the service's refusals show on the form."""

from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from customers.models import LifecycleStage, ServiceClass

from .. import services
from ..models import Campaign
from ..services.campaigns import AUDIENCE_LISTS

SUBJECT_FIELDS = [f"email_subject_{code}" for code, _ in settings.LANGUAGES]
EDITABLE = [*(name for name in services.CAMPAIGN_FIELDS if name != "email_subject"), *AUDIENCE_LISTS]
FIELD_LABELS = {"audience": "Audience", "status": "Status", "survey": "Survey", "kind": "Kind"}


def error_text(exc: ValidationError) -> str:
    if not hasattr(exc, "error_dict"):
        return " ".join(exc.messages)
    return " ".join(
        f"{FIELD_LABELS.get(name, name.replace('_', ' ').capitalize())}: {' '.join(texts)}"
        for name, texts in exc.message_dict.items()
    )


class CampaignForm(forms.ModelForm):
    """Stages and service classes as ticks, the subject as one box per language.

    The form saves through services.campaign_save while it validates (inside the admin view's
    transaction, in a savepoint), so whatever the service refuses is shown next to its field
    instead of failing after validation; the admin's save_model then has nothing left to do."""

    lifecycle_stages = forms.MultipleChoiceField(
        choices=LifecycleStage.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Customers in any of the ticked stages (none ticked: the stage does not matter).",
    )
    service_classes = forms.MultipleChoiceField(
        choices=ServiceClass.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Customers of any of the ticked classes (none ticked: the class does not matter).",
    )
    user = None  # the requesting user, set by CampaignAdmin.get_form

    class Meta:
        model = Campaign
        fields = EDITABLE

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for code, subject in (self.instance.email_subject or {}).items():
            self.initial.setdefault(f"email_subject_{code}", subject)
        if "segments" in self.fields:
            self.fields["segments"].label_from_instance = lambda s: f"{s.name} ({s.member_count} customers)"

    def _post_clean(self):
        if self.errors:
            super()._post_clean()  # the model's own checks as well, so every problem shows at once
            return
        data = {name: self.cleaned_data[name] for name in EDITABLE if name in self.fields}
        if SUBJECT_FIELDS[0] in self.fields:
            subjects = {
                code: self.cleaned_data.get(f"email_subject_{code}", "") for code, _ in settings.LANGUAGES
            }
            data["email_subject"] = {code: text.strip() for code, text in subjects.items() if text.strip()}
        try:
            with transaction.atomic():
                self.instance = services.campaign_save(
                    campaign=self.instance if self.instance.pk else None, data=data, by=self.user
                )
        except ValidationError as exc:
            self._update_errors(exc)

    def _update_errors(self, errors):
        # Errors on `email_subject` go to the first language's box; errors on fields the form does
        # not show (read-only once launched, the status) go on top, naming the field.
        if not hasattr(errors, "error_dict"):
            return super()._update_errors(errors)
        placed: dict[str, list[str]] = {}
        for name, texts in errors.message_dict.items():
            target = SUBJECT_FIELDS[0] if name == "email_subject" else name
            if target not in self.fields and target != NON_FIELD_ERRORS:
                label = FIELD_LABELS.get(name, name.replace("_", " ").capitalize())
                target, texts = NON_FIELD_ERRORS, [f"{label}: {text}" for text in texts]
            placed.setdefault(target, []).extend(texts)
        super()._update_errors(ValidationError(placed))


for _code, _language in settings.LANGUAGES:
    # Declared on the class: the admin lays out only declared fields (as the survey builder does).
    CampaignForm.declared_fields[f"email_subject_{_code}"] = CampaignForm.base_fields[
        f"email_subject_{_code}"
    ] = forms.CharField(
        label=f"Subject ({_language})",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"size": 70}),
    )
