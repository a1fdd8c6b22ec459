from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _register_sqlite_functions(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        from .models import NewToken, new_token

        # Not deterministic: SQLite must call it once per row, never cache it.
        connection.connection.create_function(NewToken.SQLITE_FUNCTION, 0, new_token)


class SurveysConfig(AppConfig):
    name = "surveys"

    def ready(self):
        connection_created.connect(_register_sqlite_functions, dispatch_uid="surveys.sqlite_functions")
