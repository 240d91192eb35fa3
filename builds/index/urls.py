from django.urls import re_path

from builds.index import views

_TARGET = r"(?:t/(?P<target>cp3\d{1,2}-[a-z0-9_]+)/)?"
_FILE = r"files/(?P<sha256>[0-9a-f]{64})/(?P<filename>[^/]+\.whl)"

urlpatterns = [
    re_path(rf"^{_TARGET}simple/$", views.simple_root, name="simple-root"),
    re_path(rf"^{_TARGET}simple/(?P<project>[^/]+)/$", views.simple_project, name="simple-project"),
    re_path(rf"^{_TARGET}{_FILE}\.metadata$", views.wheel_metadata, name="wheel-metadata"),
    re_path(rf"^{_TARGET}{_FILE}$", views.wheel_file, name="wheel-file"),
]
