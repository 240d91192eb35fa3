from django.contrib import admin
from django.urls import path

from refinery.views import dashboard, health

admin.site.site_header = "Wheel Refinery"
admin.site.site_title = "Wheel Refinery"
admin.site.index_title = "Operations"

urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("admin/", admin.site.urls),
    path("api/health", health, name="health"),
]
