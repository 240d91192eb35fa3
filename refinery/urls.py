from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from builds.api import job_views, log_views, queue_views, subscription_views, worker_views
from builds.api.views import (
    ArtifactDetailView,
    ArtifactListView,
    ArtifactReproduceView,
    ArtifactUnyankView,
    ArtifactYankView,
    ManifestListView,
    ManifestView,
    WheelUploadView,
)
from builds.metrics_view import metrics
from hints.api.views import HintDetailView, HintListView
from inputs.api.views import (
    PendingInputDetailView,
    PendingInputEnqueuePlanView,
    PendingInputListView,
    PendingInputStatusView,
    RequirementsUploadView,
)
from plans.api.views import PendingInputPopView, PlanDetailView, PlanListView
from refinery.api.views import (
    ConfigView,
    HealthView,
    ReadyView,
    SettingsView,
    api_not_found,
)

admin.site.site_header = "Wheel Refinery"
admin.site.site_title = "Wheel Refinery"
admin.site.index_title = "Operations"

# Paths are the seeds' (000: API touchpoints; 003: the control plane's endpoint draft).
api = [
    path("health", HealthView.as_view(), name="health"),
    path("ready", ReadyView.as_view(), name="ready"),
    path("config", ConfigView.as_view(), name="config"),
    path("settings", SettingsView.as_view(), name="settings"),
    # Uploads
    path("requirements/upload", RequirementsUploadView.as_view(), name="requirements-upload"),
    path("wheels/upload", WheelUploadView.as_view(), name="wheels-upload"),
    # The plan queue
    path("pending-inputs", PendingInputListView.as_view(), name="pending-inputs"),
    path("pending-inputs/pop", PendingInputPopView.as_view(), name="pending-inputs-pop"),
    path(
        "pending-inputs/status/<int:pk>",
        PendingInputStatusView.as_view(),
        name="pending-input-status",
    ),
    path("pending-inputs/<int:pk>", PendingInputDetailView.as_view(), name="pending-input"),
    path(
        "pending-inputs/<int:pk>/enqueue-plan",
        PendingInputEnqueuePlanView.as_view(),
        name="pending-input-enqueue-plan",
    ),
    # Plans
    path("plans", PlanListView.as_view(), name="plans"),
    path("plans/<int:pk>", PlanDetailView.as_view(), name="plan"),
    path(
        "plans/<int:pk>/enqueue-builds",
        job_views.PlanEnqueueBuildsView.as_view(),
        name="plan-enqueue-builds",
    ),
    path(
        "plans/<int:pk>/enqueue-build",
        job_views.PlanEnqueueBuildView.as_view(),
        name="plan-enqueue-build",
    ),
    path("plans/<int:pk>/manifest", ManifestView.as_view(), name="plan-manifest"),
    path("manifests", ManifestListView.as_view(), name="manifests"),
    # The build queue: workers
    path("build-queue/pop", worker_views.BuildQueuePopView.as_view(), name="build-queue-pop"),
    path("builds/status", worker_views.BuildStatusView.as_view(), name="builds-status"),
    path(
        "builds/<int:pk>/wheelhouse",
        worker_views.WheelhouseView.as_view(),
        name="build-wheelhouse",
    ),
    path("builds/<int:pk>/wheel", worker_views.BuiltWheelView.as_view(), name="build-wheel"),
    path("logs/stream", worker_views.LogStreamView.as_view(), name="logs-stream"),
    # Builds: operators
    path("builds", job_views.BuildListView.as_view(), name="builds"),
    path("builds/<int:pk>", job_views.BuildDetailView.as_view(), name="build"),
    path("builds/<int:pk>/cancel", job_views.BuildCancelView.as_view(), name="build-cancel"),
    path("builds/<int:pk>/retry", job_views.BuildRetryView.as_view(), name="build-retry"),
    # Logs
    path("logs/search", log_views.LogSearchView.as_view(), name="logs-search"),
    path(
        "logs/chunks/<str:name>/<str:version>",
        log_views.LogChunksView.as_view(),
        name="log-chunks",
    ),
    path("logs/<str:name>/<str:version>", log_views.LogView.as_view(), name="log"),
    # Both queues, the overview and history
    path("queue", queue_views.QueueListView.as_view(), name="queue"),
    path("queue/stats", queue_views.QueueStatsView.as_view(), name="queue-stats"),
    path("queue/enqueue", queue_views.QueueEnqueueView.as_view(), name="queue-enqueue"),
    path("queue/clear", queue_views.QueueClearView.as_view(), name="queue-clear"),
    path("summary", queue_views.SummaryView.as_view(), name="summary"),
    path("recent", queue_views.RecentView.as_view(), name="recent"),
    path("history", queue_views.HistoryView.as_view(), name="history"),
    path("worker/trigger", queue_views.WorkerTriggerView.as_view(), name="worker-trigger"),
    path("worker/smoke", queue_views.WorkerSmokeView.as_view(), name="worker-smoke"),
    # Hints
    path("hints", HintListView.as_view(), name="hints"),
    path("hints/<int:pk>", HintDetailView.as_view(), name="hint"),
    # Artifacts
    path("artifacts", ArtifactListView.as_view(), name="artifacts"),
    path("artifacts/<int:pk>", ArtifactDetailView.as_view(), name="artifact"),
    path("artifacts/<int:pk>/yank", ArtifactYankView.as_view(), name="artifact-yank"),
    path("artifacts/<int:pk>/unyank", ArtifactUnyankView.as_view(), name="artifact-unyank"),
    path(
        "artifacts/<int:pk>/reproduce",
        ArtifactReproduceView.as_view(),
        name="artifact-reproduce",
    ),
    # Notifications
    path("subscriptions", subscription_views.SubscriptionListView.as_view(), name="subscriptions"),
    path(
        "subscriptions/<int:pk>",
        subscription_views.SubscriptionDetailView.as_view(),
        name="subscription",
    ),
    path("deliveries", subscription_views.DeliveryListView.as_view(), name="deliveries"),
    path("deliveries/<int:pk>", subscription_views.DeliveryDetailView.as_view(), name="delivery"),
    path(
        "deliveries/<int:pk>/redeliver",
        subscription_views.DeliveryRedeliverView.as_view(),
        name="delivery-redeliver",
    ),
    # OpenAPI
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Last: anything else under /api/ is a JSON 404.
    re_path(r"^(?P<path>.*)$", api_not_found),
]

# A database that is away answers 503 with Retry-After, not 500.
handler500 = "refinery.lib.database_unavailable.server_error_or_unavailable"

urlpatterns = [
    path("", include("refinery.page_urls")),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    path("api/", include(api)),
    path("", include("builds.index.urls")),
]
