from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

import customers.api  # noqa: F401  (each app registers its endpoints on the router)
import feedback.api  # noqa: F401
import surveys.api  # noqa: F401

from .api import TokenLoginView, router

admin.site.site_header = "cxplatform"
admin.site.site_title = "cxplatform"
admin.site.index_title = "Customer experience"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/auth/token/", TokenLoginView.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include(router.urls)),
    path("", include("surveys.urls")),
    path("", include("feedback.urls")),
]
