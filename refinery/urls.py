from django.contrib import admin
from django.urls import path

from inputs.api.views import RequirementsUploadView
from plans.api.views import PendingInputPopView, PlanSubmitView
from refinery.views import dashboard, health

admin.site.site_header = "Wheel Refinery"
admin.site.site_title = "Wheel Refinery"
admin.site.index_title = "Operations"

urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("admin/", admin.site.urls),
    path("api/health", health, name="health"),
    path("api/requirements/upload", RequirementsUploadView.as_view(), name="requirements-upload"),
    path("api/pending-inputs/pop", PendingInputPopView.as_view(), name="pending-inputs-pop"),
    path("api/plans", PlanSubmitView.as_view(), name="plans-submit"),
]
