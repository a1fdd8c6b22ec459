"""Writes of the surveys app."""

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import QUESTION_FIELDS, Question, Survey
from ..templates_library import TEMPLATES

SURVEY_FIELDS = ("name", "description", "status")


@transaction.atomic
def survey_save(*, survey: Survey | None = None, data: dict, questions: list[dict] | None = None) -> Survey:
    """Save a survey and, when given, its whole list of questions in order (all or nothing).

    Questions can be rewritten only while the survey is a draft: once it is live, answers refer
    to them, so changing them would rewrite what customers answered. Copy the survey instead.
    """
    survey = survey or Survey()
    was_draft = survey.pk is None or Survey.objects.get(pk=survey.pk).status == Survey.Status.DRAFT
    for name in SURVEY_FIELDS:
        if name in data:
            setattr(survey, name, data[name])
    survey.full_clean()
    if questions is not None and not was_draft:
        raise ValidationError(
            {"questions": "The questions of a live survey are fixed; copy the survey to change them."}
        )
    survey.save()
    if questions is not None:
        _replace_questions(survey, questions)
    if survey.status != Survey.Status.DRAFT and not survey.questions.exists():
        raise ValidationError({"status": "A survey needs at least one question before it goes live."})
    return survey


def _replace_questions(survey: Survey, questions: list[dict]) -> None:
    built, errors = [], []
    for position, fields in enumerate(questions):
        question = Question(survey=survey, position=position)
        for name in QUESTION_FIELDS:
            if name in fields:
                setattr(question, name, fields[name])
        try:
            question.full_clean(exclude=["survey", "position"])
        except ValidationError as exc:
            errors += [
                f"Question {position + 1}, {field}: {message}"
                for field, messages in exc.message_dict.items()
                for message in messages
            ]
        built.append(question)
    if not built:
        errors.append("A survey needs at least one question.")
    if errors:
        raise ValidationError({"questions": errors})
    survey.questions.all().delete()
    Question.objects.bulk_create(built)


def survey_from_template(*, template: str, name: str) -> Survey:
    """A draft survey from a ready-made template (nps, csat, ces), ready to adjust and launch."""
    if template not in TEMPLATES:
        raise ValidationError({"template": f"Unknown template; one of {', '.join(TEMPLATES)}."})
    spec = TEMPLATES[template]
    return survey_save(
        data={"name": name, "description": spec["description"]},
        questions=[dict(question) for question in spec["questions"]],
    )
