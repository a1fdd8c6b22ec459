"""The public survey pages: no login, and nothing shown beyond what the token opens."""

from django.urls import path

from . import views

urlpatterns = [
    path("s/<str:token>/", views.survey_page, name="survey-page"),
    path("s/<str:token>/unsubscribe/", views.unsubscribe_page, name="survey-unsubscribe"),
]
