"""REST endpoints of the surveys app."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cxplatform.api import router

from . import services
from .filters import SurveyFilter
from .models import QUESTION_FIELDS, Question, Survey
from .templates_library import TEMPLATES


class QuestionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Question
        fields = ["id", "position", *QUESTION_FIELDS]
        read_only_fields = ["position"]


class SurveySerializer(serializers.ModelSerializer):
    questions = QuestionSerializer(many=True, required=False, help_text="In order; replaces all of them.")

    class Meta:
        model = Survey
        fields = ["id", "name", "description", "status", "questions", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class SurveyFromTemplateSerializer(serializers.Serializer):
    template = serializers.ChoiceField(choices=sorted(TEMPLATES))
    name = serializers.CharField(max_length=200)


class SurveyViewSet(viewsets.ModelViewSet):
    """Surveys with their questions. Questions are sent as a whole, in order, and can be
    rewritten only while the survey is a draft."""

    queryset = Survey.objects.prefetch_related("questions")
    serializer_class = SurveySerializer
    filterset_class = SurveyFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at"]

    def perform_create(self, serializer):
        questions = serializer.validated_data.pop("questions", None)
        serializer.instance = services.survey_save(data=serializer.validated_data, questions=questions)

    def perform_update(self, serializer):
        questions = serializer.validated_data.pop("questions", None)
        serializer.instance = services.survey_save(
            survey=serializer.instance, data=serializer.validated_data, questions=questions
        )

    @extend_schema(request=SurveyFromTemplateSerializer, responses={201: SurveySerializer})
    @action(detail=False, methods=["post"], url_path="from-template")
    def from_template(self, request):
        """A draft NPS, CSAT or CES survey with its follow-up comment question."""
        params = SurveyFromTemplateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        survey = services.survey_from_template(**params.validated_data)
        survey = self.get_queryset().get(pk=survey.pk)
        return Response(SurveySerializer(survey).data, status=status.HTTP_201_CREATED)


router.register("surveys", SurveyViewSet)
from . import api_campaigns  # noqa: E402, F401  (registers campaigns, invitations, responses)
