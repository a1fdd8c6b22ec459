"""Surveys: an ordered list of questions, each knowing its scale and judging its own answers."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from customers.models import Touchpoint

LANGUAGE_CODES = tuple(code for code, _ in settings.LANGUAGES)


class QuestionKind(models.TextChoices):
    NPS = "nps", "NPS (0-10, likely to recommend)"
    CSAT = "csat", "CSAT (1-5, satisfaction)"
    CES = "ces", "CES (effort; scale and direction set per question)"
    RATING = "rating", "Rating (a numeric scale)"
    SINGLE_CHOICE = "single_choice", "Single choice"
    MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
    TEXT = "text", "Free text"


class ScaleDirection(models.TextChoices):
    HIGHER_IS_BETTER = "higher_is_better", "Higher is better"
    LOWER_IS_BETTER = "lower_is_better", "Lower is better"


# The scales the metrics' formulas assume (DOMAIN.md); these kinds cannot be re-scaled.
FIXED_SCALES = {
    QuestionKind.NPS: (0, 10, ScaleDirection.HIGHER_IS_BETTER),
    QuestionKind.CSAT: (1, 5, ScaleDirection.HIGHER_IS_BETTER),
}
SCALED_KINDS = (QuestionKind.NPS, QuestionKind.CSAT, QuestionKind.CES, QuestionKind.RATING)
CHOICE_KINDS = (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE)
MAX_TEXT_ANSWER = 5000


class Survey(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, help_text="For staff; customers do not see it.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


def _translations(value, name: str, *, required: bool) -> dict:
    """Check a {language: text} object; return errors as {name: message} or {}."""
    if value in (None, {}) and not required:
        return {}
    if not isinstance(value, dict) or not value:
        example = '{"en": "...", "ru": "..."}'
        return {name: f"Give the text per language, e.g. {example}; languages: {', '.join(LANGUAGE_CODES)}."}
    unknown = [code for code in value if code not in LANGUAGE_CODES]
    if unknown:
        return {name: f"Unknown language {', '.join(unknown)}; use {', '.join(LANGUAGE_CODES)}."}
    if not all(isinstance(text, str) and text.strip() for text in value.values()):
        return {name: "Every language needs a non-empty text."}
    return {}


# What a CX lead sets on a question (the API, the admin and the service all take these).
QUESTION_FIELDS = (
    "kind",
    "text",
    "required",
    "touchpoint",
    "scale_min",
    "scale_max",
    "scale_direction",
    "low_label",
    "high_label",
    "choices",
)


class Question(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=QuestionKind.choices)
    text = models.JSONField(
        help_text='Per language, e.g. {"en": "How likely...", "ru": "Насколько вероятно..."}'
    )
    required = models.BooleanField(default=True)
    touchpoint = models.ForeignKey(
        Touchpoint,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="questions",
        help_text="Ties the answers to a touchpoint (e.g. CSAT of the call centre) for breakdowns.",
    )
    scale_min = models.SmallIntegerField(null=True, blank=True)
    scale_max = models.SmallIntegerField(null=True, blank=True)
    scale_direction = models.CharField(max_length=20, choices=ScaleDirection.choices, blank=True)
    low_label = models.JSONField(
        default=dict, blank=True, help_text="Per language: what the lowest score means."
    )
    high_label = models.JSONField(
        default=dict, blank=True, help_text="Per language: what the highest score means."
    )
    choices = models.JSONField(
        default=list,
        blank=True,
        help_text='For choice questions: [{"value": "price", "label": {"en": "Price", "ru": "Цена"}}, ...]',
    )

    class Meta:
        ordering = ["survey", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "position"], name="unique_question_position")
        ]

    def __str__(self):
        return self.text_in(settings.LANGUAGE_CODE)

    def text_in(self, language: str) -> str:
        """The question in the customer's language, falling back to the platform's, then any."""
        texts = self.text or {}
        return texts.get(language) or texts.get(settings.LANGUAGE_CODE) or next(iter(texts.values()), "")

    def clean(self):
        errors = {}
        errors |= _translations(self.text, "text", required=True)
        errors |= _translations(self.low_label, "low_label", required=False)
        errors |= _translations(self.high_label, "high_label", required=False)
        if self.kind in FIXED_SCALES:
            low, high, direction = FIXED_SCALES[self.kind]
            given = (self.scale_min, self.scale_max)
            if given != (None, None) and given != (low, high):
                errors["scale_max"] = f"A {self.kind.upper()} question is always {low}-{high}."
            self.scale_min, self.scale_max, self.scale_direction = low, high, direction
        elif self.kind in SCALED_KINDS:
            if self.scale_min is None or self.scale_max is None:
                errors["scale_max"] = "Set the scale, e.g. 1 to 5 (CES effort) or 1 to 7 (CES agreement)."
            elif not 0 <= self.scale_min < self.scale_max <= 10:
                errors["scale_max"] = "The scale runs from a lower to a higher whole number within 0-10."
            if self.kind == QuestionKind.CES and not self.scale_direction:
                # The field reads CES both ways (1-5 effort, 1-7 agreement): never guess.
                errors["scale_direction"] = "Say whether a higher CES score is better or worse."
            self.scale_direction = self.scale_direction or ScaleDirection.HIGHER_IS_BETTER
        else:
            if self.scale_min is not None or self.scale_max is not None:
                errors["scale_max"] = "Only scored questions (NPS, CSAT, CES, rating) have a scale."
            self.scale_direction = ""
        if self.kind in CHOICE_KINDS:
            errors |= self._choice_errors()
        elif self.choices:
            errors["choices"] = "Only choice questions have choices."
        if errors:
            raise ValidationError(errors)

    def _choice_errors(self) -> dict:
        if not isinstance(self.choices, list) or len(self.choices) < 2:
            return {"choices": 'Offer at least two choices: [{"value": "a", "label": {"en": "A"}}, ...].'}
        values = []
        for i, choice in enumerate(self.choices):
            if (
                not isinstance(choice, dict)
                or not isinstance(choice.get("value"), str)
                or not choice["value"]
            ):
                return {"choices": f"Choice {i + 1} needs a text value."}
            if problem := _translations(choice.get("label"), "label", required=True):
                return {"choices": f"Choice {i + 1}: {problem['label']}"}
            values.append(choice["value"])
        if len(set(values)) != len(values):
            return {"choices": "Two choices share a value."}
        return {}

    def validate_answer(self, value):
        """The answer normalised (int for scores, list for multiple choice, str otherwise), or a
        ValidationError whose message a customer can read next to the question."""
        if value in (None, "", []):
            if self.required:
                raise ValidationError("Please answer this question.", code="required")
            return None
        if self.kind in SCALED_KINDS:
            try:
                score = int(value)
            except (TypeError, ValueError):
                raise ValidationError("Choose a score.", code="invalid") from None
            if (
                isinstance(value, bool)
                or str(score) != str(value).strip()
                or not self.scale_min <= score <= self.scale_max
            ):
                raise ValidationError(
                    f"Choose a score from {self.scale_min} to {self.scale_max}.", code="out_of_scale"
                )
            return score
        offered = [choice["value"] for choice in self.choices]
        if self.kind == QuestionKind.SINGLE_CHOICE:
            if value not in offered:
                raise ValidationError("Choose one of the options offered.", code="invalid_choice")
            return value
        if self.kind == QuestionKind.MULTIPLE_CHOICE:
            picked = value if isinstance(value, list) else [value]
            if not all(v in offered for v in picked):
                raise ValidationError("Choose among the options offered.", code="invalid_choice")
            return [v for v in offered if v in picked]  # in the survey's order, once each
        if not isinstance(value, str):
            raise ValidationError("Write your answer as text.", code="invalid")
        if len(value) > MAX_TEXT_ANSWER:
            raise ValidationError(f"Please keep it under {MAX_TEXT_ANSWER} characters.", code="too_long")
        return value.strip()
