"""The CX lead's survey builder."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone

from . import services
from .models import QUESTION_FIELDS, Question, Survey
from .templates_library import TEMPLATES


class QuestionForm(forms.ModelForm):
    """The question's text as one box per language instead of raw JSON."""

    class Meta:
        model = Question
        fields = [name for name in QUESTION_FIELDS if name != "text"]  # text: one box per language
        widgets = {
            "low_label": forms.Textarea(attrs={"rows": 1, "cols": 70}),
            "high_label": forms.Textarea(attrs={"rows": 1, "cols": 70}),
            "choices": forms.Textarea(attrs={"rows": 3, "cols": 70}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for code, text in (self.instance.text or {}).items():
            self.initial.setdefault(f"text_{code}", text)

    def _update_errors(self, errors):
        # The model reports problems with `text`, which this form shows as one box per language.
        if hasattr(errors, "error_dict") and "text" in errors.error_dict:
            messages = errors.error_dict.pop("text")
            box = f"text_{settings.LANGUAGE_CODE}"
            if box not in self.errors:
                errors.error_dict[box] = messages
        super()._update_errors(errors)

    def clean(self):
        cleaned = super().clean()
        texts = {code: cleaned.get(f"text_{code}", "").strip() for code, _ in settings.LANGUAGES}
        self.instance.text = {code: text for code, text in texts.items() if text}
        if not self.instance.text and not cleaned.get("DELETE"):
            # Checked here: Django cannot show the model's error on `text`, which the form splits.
            self.add_error(f"text_{settings.LANGUAGE_CODE}", "Write the question in at least one language.")
        return cleaned


# One box per language, declared on the class: the admin lays out only declared fields.
TEXT_FIELDS = [f"text_{code}" for code, _ in settings.LANGUAGES]
for _code, _language in settings.LANGUAGES:
    QuestionForm.declared_fields[f"text_{_code}"] = QuestionForm.base_fields[f"text_{_code}"] = (
        forms.CharField(
            label=f"Text ({_language})", required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 70})
        )
    )


class QuestionInline(admin.StackedInline):
    model = Question
    form = QuestionForm
    fields = [*TEXT_FIELDS, *QuestionForm.Meta.fields]
    extra = 0
    ordering = ["position"]

    def _editable(self, obj) -> bool:
        # A live survey's questions are what customers answered: fixed (copy the survey to change).
        return obj is None or obj.status == Survey.Status.DRAFT

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "question_count", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name", "description"]
    inlines = [QuestionInline]
    change_list_template = "admin/surveys/survey/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("questions")

    @admin.display(description="Questions")
    def question_count(self, obj):
        return len(obj.questions.all())

    def save_formset(self, request, form, formset, change):
        # Positions follow the order shown; new questions go last.
        questions = formset.save(commit=False)
        for obj in formset.deleted_objects:
            obj.delete()
        positions = form.instance.questions.values_list("position", flat=True)
        next_position = max(positions, default=-1) + 1
        for question in questions:
            if question.pk is None:
                question.position = next_position
                next_position += 1
            question.save()

    def get_urls(self):
        return [
            path(
                "from-template/<str:template>/",
                self.admin_site.admin_view(self.from_template_view),
                name="surveys_survey_from_template",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "survey_templates": sorted(TEMPLATES)}
        return super().changelist_view(request, extra_context)

    def from_template_view(self, request, template):
        if request.method != "POST":
            return redirect("admin:surveys_survey_changelist")
        if not self.has_add_permission(request):
            raise PermissionDenied
        name = f"{template.upper()} survey {timezone.localtime():%Y-%m-%d %H:%M}"
        try:
            survey = services.survey_from_template(template=template, name=name)
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            return redirect("admin:surveys_survey_changelist")
        messages.success(request, f"Created the draft “{survey.name}”: rename it and adjust the questions.")
        return redirect(reverse("admin:surveys_survey_change", args=[survey.pk]))


from . import admin_campaigns  # noqa: F401,E402
