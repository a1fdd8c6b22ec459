"""Demo surveys for `make run`: one of each template, the NPS one live."""

from . import services
from .models import Survey

DEMO_SURVEYS = [
    ("nps", "Relationship NPS", Survey.Status.ACTIVE),
    ("csat", "CSAT after support", Survey.Status.DRAFT),
    ("ces", "CES of returns", Survey.Status.DRAFT),
]


def load() -> str:
    if Survey.objects.exists():
        return "Demo surveys are already there."
    for template, name, status in DEMO_SURVEYS:
        survey = services.survey_from_template(template=template, name=name)
        services.survey_save(survey=survey, data={"status": status})
    return f"Loaded {len(DEMO_SURVEYS)} demo surveys."
