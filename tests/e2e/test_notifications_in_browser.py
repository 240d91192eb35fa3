"""Notifications and regressions as an operator sees them in Chromium: a webhook subscription
made in the admin, its deliveries with their attempts, a redelivery from the list, and a
regression marked on the build and package pages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.utils import timezone
from django_q.conf import Conf
from playwright.sync_api import Page, expect

from builds import queue as build_queue
from builds.models import BuildJob, Delivery, Subscription
from tests.e2e.conftest import LAPTOP, WIDE, fits_width, screenshot
from tests.factories import BuildJobFactory, TargetFactory
from tests.receivers import webhook_receiver

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(start_refinery, collected_static: Path, tmp_path: Path) -> str:
    """The refinery with its cluster (it sends what the admin redelivers), loopback allowed
    as a webhook destination for the test's receiver."""
    shutil.copytree(collected_static, tmp_path / "server-var" / "static")
    env = {"DJANGO_ALLOW_ASYNC_UNSAFE": "", "REDIS_URL": "", "WEBHOOK_ALLOW_PRIVATE": "true"}
    return str(start_refinery(cluster=True, env=env))


@pytest.fixture
def receiver():
    with webhook_receiver() as started:
        yield started


def test_an_operator_subscribes_in_the_admin_and_redelivers_a_failed_delivery(
    staff_page: Page, receiver, monkeypatch, settings
):
    page = staff_page
    page.goto("/admin/builds/subscription/add/")
    page.select_option("#id_kind", "webhook")
    page.fill("#id_url", receiver.url)
    page.get_by_label("job.failed").check()
    page.get_by_label("job.regressed").check()
    screenshot(page, "admin-subscription-add")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    subscription = Subscription.objects.get()
    assert subscription.secret.startswith("whsec_")
    assert subscription.events == ["job.failed", "job.regressed"]
    screenshot(page, "admin-subscriptions")

    # A job fails (told from this process, at once), and the receiver answers 500 twice.
    monkeypatch.setattr(Conf, "SYNC", True)
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_RETRY_BASE_SEC = 3600
    receiver.answers = [500]
    target = TargetFactory()
    job, _ = build_queue.enqueue("wobbly", "1.0", target, actor="test")
    build_queue.claim("w", max_n=1, target_ids=[target.pk])
    build_queue.start_building(job.pk, "w")
    build_queue.fail(job.pk, "w", reason="build_error", error="boom", retryable=False)
    receiver.wait_for(1)
    delivery = Delivery.objects.get()
    assert delivery.status == "retrying"

    page.goto("/admin/builds/delivery/")
    expect(page.locator("#result_list")).to_contain_text("Retrying")
    expect(page.locator("#result_list")).to_contain_text("HTTP 500")
    page.locator(f"input[name=_selected_action][value='{delivery.pk}']").check()
    page.select_option("select[name=action]", "redeliver_action")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("queued to be sent again")
    receiver.wait_for(2, timeout=60)  # the server's cluster sent it
    page.goto(f"/admin/builds/delivery/{delivery.pk}/change/")
    expect(page.locator(".inline-group")).to_contain_text("500")
    expect(page.locator(".field-status")).to_contain_text("Delivered")
    assert fits_width(page)
    screenshot(page, "admin-delivery")


def test_a_regression_is_marked_on_the_build_and_package_pages(staff_page: Page):
    target = TargetFactory(platform_tag="manylinux_2_17_s390x")
    earlier = BuildJobFactory(
        name="lxml",
        version="5.2.0",
        target=target,
        status=BuildJob.Status.BUILT,
        finished_at=timezone.now(),
    )
    failed = BuildJobFactory(
        name="lxml",
        version="5.3.0",
        target=target,
        status=BuildJob.Status.FAILED,
        failure_reason="build_error",
        error="libxml/xmlversion.h: No such file or directory",
        attempts=1,
        finished_at=timezone.now(),
        regressed_from=earlier,
    )
    page = staff_page
    for url, name in ((f"/builds/{failed.pk}/", "build"), ("/packages/lxml/", "package")):
        for size in (WIDE, LAPTOP):
            page.set_viewport_size(size)
            page.goto(url)
            assert fits_width(page), f"{url} at {size['width']} px"
        expect(page.locator("p.warning").first).to_contain_text("Regression:")
        expect(page.locator("p.warning").first).to_contain_text("5.2.0")
        expect(page.locator(".status.regressed").first).to_be_visible()
        screenshot(page, f"page-{name}-regressed")
    page.goto("/builds/")
    expect(page.locator(f"tr[data-job='{failed.pk}'] .status.regressed")).to_be_visible()
    expect(page.locator(f"tr[data-job='{earlier.pk}'] .status.regressed")).to_have_count(0)


def test_a_disabled_subscription_is_a_notice_on_the_dashboard(staff_page: Page):
    Subscription.objects.create(
        kind="webhook",
        url="https://ci.example/hooks/refinery",
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        events=["input.built"],
        active=False,
        disabled_at=timezone.now(),
        disabled_reason="20 failed attempts in a row; the last: HTTP 502",
    )
    page = staff_page
    page.goto("/")
    notice = page.locator("p.warning", has_text="Notifications to")
    expect(notice).to_contain_text("https://ci.example/hooks/refinery are off")
    expect(notice).to_contain_text("HTTP 502")
    notice.get_by_role("link", name="Review and enable it").click()
    expect(page.locator("#id_url")).to_have_value("https://ci.example/hooks/refinery")
    page.goto("/")
    assert fits_width(page)
    screenshot(page, "page-dashboard-subscription-off")
