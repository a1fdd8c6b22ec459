from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _sync_roles_after_last_app(sender, **kwargs):
    # post_migrate is sent once per app that has models, in order; every app's permissions exist
    # only when it reaches the last of them.
    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if sender.label == with_models[-1].label:
        from .roles import sync_roles

        sync_roles()


class CxPlatformConfig(AppConfig):
    name = "cxplatform"
    verbose_name = "Platform"

    def ready(self):
        from axes.signals import user_locked_out

        from .api import raise_lockout_on_api_login

        post_migrate.connect(_sync_roles_after_last_app, dispatch_uid="cxplatform.sync_roles")
        # An API login that axes locks out answers 429 JSON rather than "Unable to log in".
        user_locked_out.connect(raise_lockout_on_api_login, dispatch_uid="cxplatform.api_lockout")
