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
        post_migrate.connect(_sync_roles_after_last_app, dispatch_uid="cxplatform.sync_roles")
