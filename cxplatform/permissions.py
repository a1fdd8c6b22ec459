from rest_framework.permissions import DjangoModelPermissions


class RolePermissions(DjangoModelPermissions):
    """Django model permissions (granted through the role groups) on every API endpoint.

    Unlike DRF's default, reading needs the `view` permission too. A viewset can name the model
    actions its extra endpoints need in `action_permissions`, e.g. {"refresh": ("change",)}.
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view):
        actions = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if actions is None:
            return super().has_permission(request, view)
        if not request.user or not request.user.is_authenticated:
            return False
        model = self._queryset(view).model
        meta = model._meta
        return request.user.has_perms([f"{meta.app_label}.{a}_{meta.model_name}" for a in actions])
