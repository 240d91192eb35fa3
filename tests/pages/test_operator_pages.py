"""The operator pages render what an operator needs, for staff only; anonymous visitors get
the public front page or the login."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from builds.models import BuildEvent, BuildJob, LogChunk
from tests.factories import (
    ArtifactFactory,
    BuildJobFactory,
    HintFactory,
    PendingInputFactory,
    PlanFactory,
    PlanInputFactory,
    TargetFactory,
)

pytestmark = pytest.mark.django_db

Status = BuildJob.Status


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    return str(response.content.decode())


@pytest.mark.parametrize(
    "url",
    ["/inputs/", "/builds/", "/hints/", "/settings/", "/plans/1/", "/builds/1/", "/packages/six/"],
)
def test_anonymous_visitors_are_sent_to_log_in_for_every_operator_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_anonymous_visitors_get_a_public_page_with_the_index_and_pip_lines(client):
    ArtifactFactory(
        name="six", version="1.16.0", target=TargetFactory(platform_tag="manylinux_2_36_x86_64")
    )
    body = _page(client, "/")
    assert "pip install --index-url" in body
    assert "uv pip install --index-url" in body
    assert "Log in" in body
    assert "Build queue" not in body


def test_the_dashboard_shows_figures_a_chart_and_links_into_the_pages(admin_client):
    now = timezone.now()
    BuildJobFactory(status=Status.BUILT, finished_at=now, duration=timedelta(seconds=30))
    BuildJobFactory(status=Status.FAILED, finished_at=now, failure_reason="build_error")
    BuildJobFactory()
    body = _page(admin_client, "/")
    assert "builds per hour (24 h)" in body
    assert "success rate (24 h)" in body
    assert "50%" in body
    assert "median build time" in body
    assert "30.0 s" in body
    assert body.count('<rect class="built"') == 24
    assert 'href="/builds/?status=pending&amp;target=' in body
    assert 'href="/inputs/"' in body


def test_the_inputs_page_lists_inputs_with_their_plans_and_the_upload_forms(admin_client):
    link = PlanInputFactory()
    PendingInputFactory(original_filename="waiting.txt")
    body = _page(admin_client, "/inputs/")
    assert "waiting.txt" in body
    assert f'href="/plans/{link.plan_id}/"' in body
    assert "Enqueue plan" in body
    assert "Replan" in body
    assert 'action="/inputs/wheel"' in body
    assert "Upload requirements" in body


def test_the_inputs_page_filters_by_status(admin_client):
    PendingInputFactory(original_filename="first.txt")
    PlanInputFactory(input__original_filename="planned.txt")
    body = _page(admin_client, "/inputs/?status=planned")
    assert "planned.txt" in body
    assert "first.txt" not in body


def test_the_plan_page_draws_every_node_and_edge_with_dependencies_below_dependents(
    admin_client,
):
    plan = PlanFactory(
        dag={
            "nodes": [
                {"name": "app", "version": "1.0", "action": "build", "top_level": True},
                {"name": "lib", "version": "2.0", "action": "reuse"},
                {"name": "setuptools", "version": "75.0", "action": "reuse"},
            ],
            "edges": [
                {"from": "app==1.0", "to": "lib==2.0", "kind": "install"},
                {"from": "app==1.0", "to": "setuptools==75.0", "kind": "build"},
                {"from": "lib==2.0", "to": "app==1.0", "kind": "install"},  # a cycle
            ],
        }
    )
    body = _page(admin_client, f"/plans/{plan.pk}/")
    positions = {
        key: int(y)
        for key, y in re.findall(
            r'data-key="([^"]+)" data-action="\w+" transform="translate\(\d+,(\d+)\)"', body
        )
    }
    assert set(positions) == {"app==1.0", "lib==2.0", "setuptools==75.0"}
    assert positions["lib==2.0"] > positions["app==1.0"]
    assert positions["setuptools==75.0"] > positions["app==1.0"]
    assert body.count('<path class="install"') == 2
    assert body.count('<path class="build"') == 1
    assert f'data-socket="/ws/plans/{plan.pk}/"' in body
    assert "Enqueue all builds" in body


def test_a_plan_of_hundreds_of_nodes_stays_within_a_screens_width(admin_client):
    nodes = [{"name": "root", "version": "1", "action": "build", "top_level": True}]
    nodes += [{"name": f"dep-{i}", "version": "1", "action": "reuse"} for i in range(300)]
    edges = [{"from": "root==1", "to": f"dep-{i}==1", "kind": "install"} for i in range(300)]
    plan = PlanFactory(dag={"nodes": nodes, "edges": edges})
    body = _page(admin_client, f"/plans/{plan.pk}/")
    width = int(re.search(r'<svg class="dag" width="(\d+)"', body).group(1))
    assert width <= 2000
    assert body.count('<g class="node') == 301
    assert body.count("<tr data-key=") == 301


def test_the_builds_page_filters_by_status_target_name_and_reason(admin_client):
    s390x = TargetFactory(platform_tag="manylinux_2_17_s390x")
    BuildJobFactory(name="numpy", status=Status.FAILED, failure_reason="build_error")
    BuildJobFactory(name="numpy-extra", target=s390x)
    BuildJobFactory(name="pandas", status=Status.BUILT)
    body = _page(admin_client, "/builds/?status=failed")
    assert ">numpy</a>" in body
    assert "pandas" not in body
    body = _page(admin_client, f"/builds/?target={s390x}")
    assert "numpy-extra" in body
    assert ">numpy</a>" not in body
    body = _page(admin_client, "/builds/?name=NumPy")
    assert "numpy" in body
    assert "pandas" not in body
    body = _page(admin_client, "/builds/?reason=build_error&status=")
    assert ">numpy</a>" in body
    assert "numpy-extra" not in body


def test_a_bad_builds_filter_is_a_400_naming_the_field(admin_client):
    response = admin_client.get("/builds/?status=exploded")
    assert response.status_code == 400
    assert "status: Select a valid choice" in response.content.decode()


def test_a_builds_row_expands_into_lease_attempts_recipes_and_error(admin_client):
    job = BuildJobFactory(
        status=Status.FAILED,
        error="gcc failed: ffi.h missing",
        recipes=[{"type": "system_packages", "packages": ["libffi-dev"]}],
        attempts=2,
        max_attempts=3,
    )
    body = _page(admin_client, "/builds/")
    details = body.split(f'id="details-{job.pk}"')[1].split("</tr>")[0]
    assert "gcc failed: ffi.h missing" in details
    assert "libffi-dev" in details
    assert "2 of 3" in details
    assert f'aria-label="retry build {job.pk}"' in body


def test_the_build_page_shows_the_timeline_with_seconds_and_the_log_viewer(admin_client):
    job = BuildJobFactory(status=Status.FAILED, attempts=1)
    start = timezone.now().replace(microsecond=0)
    BuildEvent.objects.create(job=job, to_status="leased", actor="w1", created_at=start)
    BuildEvent.objects.create(
        job=job,
        to_status="failed",
        actor="w1",
        message="exit 1",
        created_at=start + timedelta(seconds=75),
    )
    LogChunk.objects.create(
        job=job, attempt=1, seq=0, text="hello\n", size=6, lines=1, created_at=start
    )
    body = _page(admin_client, f"/builds/{job.pk}/")
    assert start.strftime("%Y-%m-%d %H:%M:%S") in body
    assert "+1m15s" in body
    assert f'data-socket="/ws/builds/{job.pk}/log/"' in body
    assert f"?job={job.pk}&amp;download=1" in body
    assert '<option value="1">1</option>' in body


def test_the_package_page_shows_versions_by_targets_wheels_timeline_and_a_log(admin_client):
    amd64 = TargetFactory(platform_tag="manylinux_2_17_x86_64")
    s390x = TargetFactory(platform_tag="manylinux_2_17_s390x")
    built = BuildJobFactory(name="pyyaml", version="6.0.2", target=s390x, status=Status.BUILT)
    failed = BuildJobFactory(name="pyyaml", version="6.0.1", target=s390x, status=Status.FAILED)
    BuildEvent.objects.create(
        job=failed, to_status="failed", message="no yaml.h", created_at=timezone.now()
    )
    wheel = ArtifactFactory(
        name="pyyaml",
        version="6.0.2",
        target=s390x,
        job=built,
        origin="built",
        provenance={"builder_image": "refinery-builder:debian-bookworm-s390x"},
    )
    ArtifactFactory(
        name="pyyaml", version="6.0.2", target=amd64, filename="pyyaml-6.0.2-cp311-x86_64.whl"
    )
    body = _page(admin_client, "/packages/PyYAML/".lower())
    matrix = body.split('class="matrix"')[1].split("</table>")[0]
    assert matrix.index("6.0.2") < matrix.index("6.0.1")
    assert matrix.count(">available<") == 2
    assert "failed" in matrix
    assert f'href="/files/{wheel.sha256}/{wheel.filename}"' in body
    assert "refinery-builder:debian-bookworm-s390x" in body
    assert "no yaml.h" in body
    assert 'data-socket="/ws/builds/' in body


def test_a_package_page_redirects_to_the_normalized_name_and_404s_when_unknown(admin_client):
    BuildJobFactory(name="pyyaml")
    assert admin_client.get("/packages/PyYAML/")["Location"] == "/packages/pyyaml/"
    assert admin_client.get("/packages/nothing-here/").status_code == 404


def test_the_hints_page_lists_the_catalog_with_match_and_repair_counts(admin_client):
    HintFactory(name="ffi-header", hit_count=7, success_count=5)
    body = _page(admin_client, "/hints/?q=ffi")
    assert "ffi-header" in body
    assert "libffi-dev" in body
    assert '<td class="num">7</td>' in body
    assert '<td class="num">5</td>' in body


def test_a_build_waiting_for_an_architecture_nothing_here_builds_says_so(admin_client):
    job = BuildJobFactory(target=TargetFactory(platform_tag="manylinux_2_17_ppc64le"))
    body = _page(admin_client, f"/builds/{job.pk}/")
    assert "This build waits for ppc64le, which no worker here can build." in body
    assert "manage.py build_image --arch ppc64el" in body
