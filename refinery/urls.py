from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from builds.api.views import ArtifactUnyankView, ArtifactYankView, WheelUploadView
from inputs.api.views import RequirementsUploadView
from plans.api.views import PendingInputPopView, PlanSubmitView
from refinery.api.views import ConfigView, HealthView, ReadyView
from refinery.views import dashboard

admin.site.site_header = "Wheel Refinery"
admin.site.site_title = "Wheel Refinery"
admin.site.index_title = "Operations"

urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("admin/", admin.site.urls),
    path("api/health", HealthView.as_view(), name="health"),
    path("api/ready", ReadyView.as_view(), name="ready"),
    path("api/config", ConfigView.as_view(), name="config"),
    path("api/requirements/upload", RequirementsUploadView.as_view(), name="requirements-upload"),
    path("api/pending-inputs/pop", PendingInputPopView.as_view(), name="pending-inputs-pop"),
    path("api/plans", PlanSubmitView.as_view(), name="plans-submit"),
    path("api/wheels/upload", WheelUploadView.as_view(), name="wheels-upload"),
    path("api/artifacts/<int:pk>/yank", ArtifactYankView.as_view(), name="artifact-yank"),
    path("api/artifacts/<int:pk>/unyank", ArtifactUnyankView.as_view(), name="artifact-unyank"),
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("builds.index.urls")),
]
