import json

import pytest
from django.core.exceptions import ValidationError

from surveys.models import Question, QuestionKind, Survey
from surveys.services import survey_from_template
from tests.factories import TouchpointFactory
from tests.querycount import assert_page_size_does_not_change_query_count

pytestmark = pytest.mark.django_db

NPS = {"kind": "nps", "text": {"en": "Recommend us?", "ru": "Порекомендуете нас?"}}


def question(**fields) -> Question:
    q = Question(survey=Survey(name="s"), **{"text": {"en": "Q"}, **fields})
    q.full_clean(exclude=["survey"])
    return q


@pytest.mark.parametrize(
    ("fields", "answer", "expected"),
    [
        ({"kind": "nps"}, 10, 10),
        ({"kind": "nps"}, "0", 0),
        ({"kind": "csat"}, 5, 5),
        ({"kind": "ces", "scale_min": 1, "scale_max": 7, "scale_direction": "higher_is_better"}, 7, 7),
        ({"kind": "rating", "scale_min": 1, "scale_max": 10}, 3, 3),
        (
            {
                "kind": "single_choice",
                "choices": [{"value": "a", "label": {"en": "A"}}, {"value": "b", "label": {"en": "B"}}],
            },
            "b",
            "b",
        ),
        (
            {
                "kind": "multiple_choice",
                "choices": [{"value": "a", "label": {"en": "A"}}, {"value": "b", "label": {"en": "B"}}],
            },
            ["b", "a", "b"],
            ["a", "b"],
        ),
        ({"kind": "text"}, "  Quick and polite.  ", "Quick and polite."),
        ({"kind": "text", "required": False}, "", None),
    ],
)
def test_each_kind_accepts_answers_on_its_scale(fields, answer, expected):
    assert question(**fields).validate_answer(answer) == expected


@pytest.mark.parametrize(
    ("fields", "answer", "words"),
    [
        ({"kind": "nps"}, 11, "from 0 to 10"),
        ({"kind": "nps"}, 7.5, "from 0 to 10"),
        ({"kind": "nps"}, True, "from 0 to 10"),
        ({"kind": "csat"}, 0, "from 1 to 5"),
        ({"kind": "csat"}, "great", "Choose a score"),
        (
            {"kind": "ces", "scale_min": 1, "scale_max": 5, "scale_direction": "lower_is_better"},
            6,
            "from 1 to 5",
        ),
        (
            {
                "kind": "single_choice",
                "choices": [{"value": "a", "label": {"en": "A"}}, {"value": "b", "label": {"en": "B"}}],
            },
            "c",
            "options offered",
        ),
        ({"kind": "nps"}, None, "Please answer"),
        ({"kind": "text"}, "x" * 5001, "under 5000"),
    ],
)
def test_answers_off_the_scale_get_a_message_for_the_customer(fields, answer, words):
    with pytest.raises(ValidationError) as caught:
        question(**fields).validate_answer(answer)
    assert words in caught.value.messages[0]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "nps", "scale_min": 1, "scale_max": 5}, "scale_max"),
        ({"kind": "ces", "scale_min": 1, "scale_max": 5}, "scale_direction"),
        ({"kind": "ces"}, "scale_max"),
        ({"kind": "rating", "scale_min": 5, "scale_max": 1}, "scale_max"),
        ({"kind": "single_choice", "choices": [{"value": "a", "label": {"en": "A"}}]}, "choices"),
        (
            {
                "kind": "single_choice",
                "choices": [{"value": "a", "label": {"en": "A"}}, {"value": "a", "label": {"en": "B"}}],
            },
            "choices",
        ),
        ({"kind": "text", "choices": [{"value": "a", "label": {"en": "A"}}]}, "choices"),
        ({"kind": "text", "scale_min": 1, "scale_max": 5}, "scale_max"),
        ({"kind": "nps", "text": {"de": "Empfehlen?"}}, "text"),
        ({"kind": "nps", "text": {}}, "text"),
        ({"kind": "nps", "low_label": {"en": ""}}, "low_label"),
    ],
)
def test_a_question_that_makes_no_sense_is_refused_naming_the_field(fields, field):
    with pytest.raises(ValidationError) as caught:
        question(**fields)
    assert field in caught.value.message_dict


def test_question_text_in_the_customers_language_with_fallback():
    q = question(kind="nps", text={"en": "Recommend us?", "ru": "Порекомендуете нас?"})
    assert q.text_in("ru") == "Порекомендуете нас?"
    assert question(kind="nps", text={"ru": "Только по-русски"}).text_in("en") == "Только по-русски"


@pytest.mark.parametrize("template", ["nps", "csat", "ces"])
def test_templates_give_a_draft_with_the_score_and_a_comment_in_both_languages(template):
    survey = survey_from_template(template=template, name=f"{template} survey")
    kinds = list(survey.questions.values_list("kind", flat=True))
    assert kinds == [template, QuestionKind.TEXT] and survey.status == Survey.Status.DRAFT
    score = survey.questions.get(kind=template)
    assert set(score.text) == {"en", "ru"} and score.scale_direction
    if template == "ces":
        assert (score.scale_min, score.scale_max, score.scale_direction) == (1, 5, "lower_is_better")


def test_lead_builds_a_survey_through_the_api(lead_api):
    call_centre = TouchpointFactory(name="Call centre")
    response = lead_api.post(
        "/api/surveys/",
        {
            "name": "After the call",
            "questions": [
                {"kind": "csat", "text": {"en": "How was the call?"}, "touchpoint": call_centre.pk},
                {"kind": "text", "text": {"en": "Anything to add?"}, "required": False},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [(q["position"], q["kind"], q["scale_max"]) for q in body["questions"]] == [
        (0, "csat", 5),
        (1, "text", None),
    ]
    assert body["questions"][0]["touchpoint"] == call_centre.pk


def test_bad_questions_are_a_400_naming_question_and_field_and_nothing_is_stored(lead_api):
    response = lead_api.post(
        "/api/surveys/",
        {
            "name": "Broken",
            "questions": [
                {"kind": "nps", "text": {"en": "Recommend?"}},
                {"kind": "ces", "text": {"en": "Effort?"}, "scale_min": 1, "scale_max": 5},
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    assert any("Question 2, scale_direction" in message for message in response.json()["questions"])
    assert not Survey.objects.exists()
    bad_kind = lead_api.post(
        "/api/surveys/", {"name": "X", "questions": [{"kind": "poll", "text": {"en": "?"}}]}, format="json"
    )
    assert bad_kind.status_code == 400 and "questions" in bad_kind.json()


def test_a_live_surveys_questions_are_fixed(lead_api):
    survey = lead_api.post("/api/surveys/", {"name": "NPS", "questions": [NPS]}, format="json").json()
    live = lead_api.patch(f"/api/surveys/{survey['id']}/", {"status": "active"}, format="json")
    assert live.status_code == 200 and live.json()["status"] == "active"
    rewrite = lead_api.patch(f"/api/surveys/{survey['id']}/", {"questions": [NPS, NPS]}, format="json")
    assert rewrite.status_code == 400 and "copy the survey" in rewrite.json()["questions"][0]
    assert Question.objects.filter(survey_id=survey["id"]).count() == 1
    empty = lead_api.post("/api/surveys/", {"name": "Empty", "status": "active"}, format="json")
    assert empty.status_code == 400 and "status" in empty.json()


def test_from_template_endpoint(lead_api):
    response = lead_api.post(
        "/api/surveys/from-template/", {"template": "nps", "name": "Relationship NPS"}, format="json"
    )
    assert response.status_code == 201
    assert [q["kind"] for q in response.json()["questions"]] == ["nps", "text"]
    unknown = lead_api.post("/api/surveys/from-template/", {"template": "sus", "name": "X"}, format="json")
    assert unknown.status_code == 400 and "template" in unknown.json()


def test_survey_list_query_count_does_not_grow(lead_api):
    for n in range(25):
        survey_from_template(template="csat", name=f"CSAT {n}")
    assert_page_size_does_not_change_query_count(lead_api, "/api/surveys/")
    assert lead_api.get("/api/surveys/?status=draft").json()["count"] == 25


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [("Support", 200, 403), ("Executive", 200, 403), ("CX lead", 200, 201), ("Admin", 200, 201)],
)
def test_roles_on_surveys(api_as, role, read, write):
    client = api_as(role)
    assert client.get("/api/surveys/").status_code == read
    created = client.post("/api/surveys/from-template/", {"template": "csat", "name": "CSAT"}, format="json")
    assert created.status_code == write


def test_anonymous_gets_401_on_surveys(client):
    assert client.get("/api/surveys/").status_code == 401


def test_lead_creates_a_survey_from_a_template_in_the_admin_and_edits_the_text(client, make_user):
    client.force_login(make_user("CX lead"))
    page = client.get("/admin/surveys/survey/").content.decode()
    assert "New NPS survey from template" in page
    response = client.post("/admin/surveys/survey/from-template/nps/")
    survey = Survey.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{survey.pk}/change/")
    change = client.get(response["Location"]).content.decode()
    assert "How likely are you to recommend us" in change and "Насколько вероятно" in change


def test_support_cannot_create_surveys_in_the_admin(client, make_user):
    client.force_login(make_user("Support"))
    assert client.post("/admin/surveys/survey/from-template/nps/").status_code == 403
    assert "from template" not in client.get("/admin/surveys/survey/").content.decode()


def inline_form(survey, extra_question=None, changes=None):
    """The change form as the admin posts it: the survey and each question's fields."""
    data = {"name": survey.name, "description": survey.description, "status": survey.status}
    questions = list(survey.questions.order_by("position"))
    rows = [
        {
            "id": q.pk,
            "survey": survey.pk,
            "text_en": q.text.get("en", ""),
            "text_ru": q.text.get("ru", ""),
            "kind": q.kind,
            "required": "on" if q.required else "",
            "scale_min": q.scale_min if q.scale_min is not None else "",
            "scale_max": q.scale_max if q.scale_max is not None else "",
            "scale_direction": q.scale_direction,
            "low_label": json.dumps(q.low_label),
            "high_label": json.dumps(q.high_label),
            "choices": json.dumps(q.choices),
        }
        for q in questions
    ]
    if extra_question:
        rows.append(
            {"survey": survey.pk, "low_label": "{}", "high_label": "{}", "choices": "[]", **extra_question}
        )
    for i, row in enumerate(rows):
        row.update((changes or {}).get(i, {}))
        data.update({f"questions-{i}-{k}": v for k, v in row.items()})
    data.update(
        {
            "questions-TOTAL_FORMS": len(rows),
            "questions-INITIAL_FORMS": len(questions),
            "questions-MIN_NUM_FORMS": 0,
            "questions-MAX_NUM_FORMS": 1000,
        }
    )
    return data


def test_lead_edits_texts_and_adds_a_question_in_the_admin(client, make_user):
    client.force_login(make_user("CX lead"))
    survey = survey_from_template(template="csat", name="CSAT after delivery")
    url = f"/admin/surveys/survey/{survey.pk}/change/"
    new_question = {
        "text_en": "Which part was best?",
        "kind": "single_choice",
        "required": "on",
        "choices": json.dumps(
            [{"value": "speed", "label": {"en": "Speed"}}, {"value": "courtesy", "label": {"en": "Courtesy"}}]
        ),
    }
    data = inline_form(survey, new_question, {0: {"text_ru": "Как прошла доставка?"}})
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    csat, comment, choice = survey.questions.order_by("position")
    assert (
        csat.text["ru"] == "Как прошла доставка?" and choice.kind == "single_choice" and choice.position == 2
    )

    nameless = inline_form(survey, {"text_en": "", "kind": "text"})
    page = client.post(url, nameless)
    assert page.status_code == 200 and "Write the question in at least one language." in page.content.decode()
    assert survey.questions.count() == 3


def test_a_live_surveys_questions_are_read_only_in_the_admin(client, make_user):
    client.force_login(make_user("CX lead"))
    survey = survey_from_template(template="nps", name="Live NPS")
    Survey.objects.filter(pk=survey.pk).update(status="active")
    page = client.get(f"/admin/surveys/survey/{survey.pk}/change/").content.decode()
    assert "How likely are you to recommend us" in page
    assert 'name="questions-0-text_en"' not in page  # shown, not editable
