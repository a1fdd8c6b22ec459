from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    # Complaints and SLA timers arrive with their own issue; the app holds its place.
    name = "feedback"
