from django.contrib import admin
from django.urls import path

from refinery.views import health

admin.site.site_header = "Wheel Refinery"
admin.site.site_title = "Wheel Refinery"
admin.site.index_title = "Operations"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/health", health, name="health"),
]
