from django.apps import AppConfig


class ReportsConfig(AppConfig):
    # Metrics, goals and dashboards arrive with their own issue; the app holds its place.
    name = "reports"
