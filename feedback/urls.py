"""The feedback app's public pages: no login, and nothing shown beyond what the token opens."""

from django.urls import path

from . import views

urlpatterns = [
    path("r/<str:token>/", views.status_page, name="feedback-status"),
    path("feedback/", views.feedback_form, name="feedback-form"),
]
