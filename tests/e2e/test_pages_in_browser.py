"""The operator pages as a person uses them in Chromium: the plan's DAG recolours live as its
jobs finish, an upload goes through the inputs page, rows expand, and every page fits a
laptop screen. Each page's screenshot is saved (``SCREENSHOT_DIR``) to be looked at."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from builds import queue as build_queue
from builds.models import BuildEvent, BuildJob, LogChunk
from inputs.models import PendingInput
from tests.e2e.conftest import LAPTOP, WIDE, fits_width, screenshot
from tests.factories import (
    ArtifactFactory,
    BuildJobFactory,
    HintFactory,
    PlanFactory,
    PlanInputFactory,
    TargetFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

Status = BuildJob.Status


def _plan():
    nodes = [
        {
            "name": "app",
            "version": "1.0",
            "action": "build",
            "top_level": True,
            "roles": ["runtime"],
            "why": "no wheel",
        },
        {
            "name": "pyyaml",
            "version": "6.0.2",
            "action": "build",
            "roles": ["runtime"],
            "why": "no wheel",
        },
        {
            "name": "six",
            "version": "1.16.0",
            "action": "reuse",
            "roles": ["runtime"],
            "why": "compatible wheel",
        },
        {
            "name": "setuptools",
            "version": "75.0",
            "action": "reuse",
            "roles": ["build"],
            "why": "compatible wheel",
        },
        {
            "name": "cython",
            "version": "3.0.11",
            "action": "build",
            "roles": ["build"],
            "why": "no wheel",
        },
    ]
    edges = [
        {"from": "app==1.0", "to": "pyyaml==6.0.2", "kind": "install"},
        {"from": "app==1.0", "to": "six==1.16.0", "kind": "install"},
        {"from": "pyyaml==6.0.2", "to": "setuptools==75.0", "kind": "build"},
        {"from": "pyyaml==6.0.2", "to": "cython==3.0.11", "kind": "build"},
        {"from": "cython==3.0.11", "to": "setuptools==75.0", "kind": "build"},
    ]
    target = TargetFactory(platform_tag="manylinux_2_17_s390x")
    plan = PlanFactory(target=target, dag={"nodes": nodes, "edges": edges})
    PlanInputFactory(plan=plan)
    return plan


def _fill(page: Page, key: str) -> str:
    script = f"getComputedStyle(document.querySelector('g.node[data-key=\"{key}\"] rect')).fill"
    return str(page.evaluate(script))


def test_a_plan_node_changes_colour_when_its_job_finishes(staff_page: Page):
    plan = _plan()
    job = BuildJobFactory(
        plan=plan, target=plan.target, name="pyyaml", version="6.0.2", status=Status.BUILDING
    )
    BuildJobFactory(
        plan=plan, target=plan.target, name="cython", version="3.0.11", status=Status.BUILT
    )
    page = staff_page
    page.goto(f"/plans/{plan.pk}/")
    node = page.locator('g.node[data-key="pyyaml==6.0.2"]')
    expect(node).to_have_attribute("data-status", "building")
    expect(page.locator(".live-state")).to_have_text("live")
    building = _fill(page, "pyyaml==6.0.2")
    node.click()
    expect(page.locator(".node-panel .node-state")).to_have_text("building")
    expect(page.locator(".node-panel form.retry-node")).to_be_hidden()
    screenshot(page, "plan-page-building")

    build_queue.complete(job.pk, "worker-0", message="stored")

    expect(node).to_have_attribute("data-status", "built", timeout=15_000)
    assert _fill(page, "pyyaml==6.0.2") != building
    assert _fill(page, "pyyaml==6.0.2") == _fill(page, "cython==3.0.11")
    expect(page.locator(".node-panel .node-state")).to_have_text("built")
    expect(page.locator('tr[data-key="pyyaml==6.0.2"] .node-status')).to_have_text("built")
    # The table beside filters; a row's click selects its node.
    page.fill("input.node-filter", "six")
    expect(page.locator(".shown-count")).to_have_text("1 of 5")
    page.locator('tr[data-key="six==1.16.0"] td').nth(1).click()
    expect(page.locator(".node-panel .node-name")).to_have_text("six==1.16.0")
    expect(page.locator(".node-panel form.enqueue-node")).to_be_hidden()  # reused, not built
    screenshot(page, "plan-page-built")


def test_an_operator_uploads_requirements_from_the_inputs_page(staff_page: Page, tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("six==1.16.0\n")
    page = staff_page
    page.click("nav >> text=Inputs")
    form = page.locator("form[aria-label='upload requirements']")
    form.locator("input[name=file]").set_input_files(str(requirements))
    form.locator("select[name=strategy]").select_option("eager")
    form.locator("button[type=submit]").click()
    expect(page.locator(".messages")).to_contain_text("stored")
    pending = PendingInput.objects.get()
    assert pending.parsed["strategy"] == "eager"
    expect(page.locator("table.inputs")).to_contain_text("requirements.txt")
    screenshot(page, "inputs-page")


def _seed_everything() -> BuildJob:
    plan = _plan()
    now = timezone.now()
    failed = BuildJobFactory(
        plan=plan,
        target=plan.target,
        name="pyyaml",
        version="6.0.2",
        status=Status.FAILED,
        failure_reason="no_repair_found",
        attempts=3,
        max_attempts=3,
        error="yaml.h: No such file or directory",
        finished_at=now,
        duration=timedelta(seconds=41),
        recipes=[{"type": "system_packages", "packages": ["libyaml-dev"]}],
    )
    BuildEvent.objects.create(
        job=failed, to_status="leased", actor="worker-1", created_at=now - timedelta(seconds=50)
    )
    BuildEvent.objects.create(
        job=failed, to_status="failed", actor="worker-1", message="no repair found", created_at=now
    )
    text = "".join(f"\x1b[32mstep\x1b[0m {n}: compiling _yaml.c\n" for n in range(1, 60))
    LogChunk.objects.create(
        job=failed, attempt=1, seq=0, text=text, size=len(text), lines=59, created_at=now
    )
    for hour in range(0, 20, 3):
        BuildJobFactory(
            status=Status.BUILT,
            finished_at=now - timedelta(hours=hour),
            duration=timedelta(seconds=30 + hour),
        )
    BuildJobFactory(name="numpy", status=Status.PENDING)
    built = BuildJobFactory(
        name="pyyaml", version="6.0.1", target=plan.target, status=Status.BUILT, finished_at=now
    )
    ArtifactFactory(
        name="pyyaml",
        version="6.0.1",
        target=plan.target,
        job=built,
        origin="built",
        filename="PyYAML-6.0.1-cp311-cp311-manylinux_2_17_s390x.whl",
        provenance={
            "builder_image": "localhost/refinery-builder:debian-bookworm-s390x",
            "recipes": [],
        },
    )
    ArtifactFactory(name="six", version="1.16.0")
    HintFactory(name="libffi headers", hit_count=4, success_count=4)
    return failed


def test_every_page_fits_a_laptop_screen_and_is_captured(
    staff_page: Page, browser: Browser, server: str
):
    failed = _seed_everything()
    page = staff_page
    pages = {
        "dashboard": "/",
        "inputs": "/inputs/",
        "plan": f"/plans/{failed.plan_id}/",
        "builds": "/builds/",
        "build": f"/builds/{failed.pk}/",
        "package": "/packages/pyyaml/",
        "hints": "/hints/",
        "settings": "/settings/",
        "admin-build-job": f"/admin/builds/buildjob/{failed.pk}/change/",
    }
    for name, url in pages.items():
        for size in (WIDE, LAPTOP):
            page.set_viewport_size(size)
            page.goto(url)
            page.wait_for_load_state("networkidle")
            assert fits_width(page), f"{url} needs sideways scrolling at {size['width']} px"
        page.set_viewport_size(WIDE)
        if page.locator(".log-viewer").count():
            expect(page.locator(".log-viewer")).to_have_attribute("data-lines", "59")
            expect(page.locator("#L1 .ansi-fg-2")).to_have_text("step")
        screenshot(page, f"page-{name}")

    # A builds row expands into its details.
    page.goto("/builds/?status=failed")
    page.get_by_label(f"details of build {failed.pk}").click()
    expect(page.locator(f"#details-{failed.pk}")).to_contain_text(
        "yaml.h: No such file or directory"
    )
    expect(page.locator(f"#details-{failed.pk}")).to_contain_text("libyaml-dev")
    screenshot(page, "page-builds-expanded")
    page.get_by_label(f"retry build {failed.pk}").click()
    expect(page.locator(".messages")).to_contain_text("retried")

    # Anonymous visitors get the public page.
    anonymous = browser.new_context(viewport=LAPTOP, base_url=server)
    public = anonymous.new_page()
    public.goto("/")
    expect(public.locator("pre.command").first).to_contain_text("pip install --index-url")
    assert fits_width(public)
    screenshot(public, "page-public-home")
    anonymous.close()
