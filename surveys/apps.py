from django.apps import AppConfig


class SurveysConfig(AppConfig):
    # Surveys and campaigns arrive with their own issue; the app holds its place.
    name = "surveys"
