"""The operator pages (namespace ``pages``); the API keeps the bare names under /api/."""

from django.urls import path

from builds import views as build_views
from hints import views as hint_views
from inputs import views as input_views
from plans import views as plan_views
from refinery import views

app_name = "pages"

urlpatterns = [
    path("", views.home, name="dashboard"),
    path("inputs/", input_views.input_list, name="inputs"),
    path("inputs/<int:pk>/plan", input_views.input_plan, name="input-plan"),
    path("inputs/wheel", build_views.wheel_upload, name="wheel-upload"),
    path("plans/<int:pk>/", plan_views.plan_page, name="plan"),
    path("plans/<int:pk>/enqueue", build_views.plan_enqueue, name="plan-enqueue"),
    path("builds/", build_views.build_list, name="builds"),
    path("builds/<int:pk>/", build_views.build_page, name="build"),
    path("builds/<int:pk>/action", build_views.job_action, name="build-action"),
    path("packages/<str:name>/", build_views.package_page, name="package"),
    path("hints/", hint_views.hint_list, name="hints"),
    path("settings/", views.settings_page, name="settings"),
]
