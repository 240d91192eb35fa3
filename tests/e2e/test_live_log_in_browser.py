"""An operator watches a build's log live in the browser: lines arrive as the worker writes
them, colours render, search finds and steps through matches, a line's permalink opens at
that line, the raw log downloads, and the viewer says when the build finished."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from builds import queue as build_queue
from builds.log_reader import job_log
from builds.log_sink import DatabaseLogSink
from builds.models import BuildJob, LogChunk
from tests.e2e.conftest import LAPTOP, fits_width, screenshot
from tests.factories import BuildJobFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RED = "\x1b[31m"
RESET = "\x1b[0m"


def _building_job() -> BuildJob:
    job = BuildJobFactory(name="pycups", version="2.0.4", status=BuildJob.Status.BUILDING)
    return job


def test_an_operator_watches_lines_arrive_searches_and_downloads(staff_page: Page):
    job = _building_job()
    sink = DatabaseLogSink(job.pk, 1, max_seconds=0.2)
    sink.write("Collecting pycups==2.0.4")
    sink.flush()
    page = staff_page
    page.goto(f"/builds/{job.pk}/")
    viewer = page.locator(".log-viewer")
    expect(viewer).to_have_attribute("data-lines", "1")
    expect(page.locator(".log-state")).to_have_text("live")

    # The worker writes while the page is open: each line shows up without a reload.
    for number in range(2, 150):
        colour = f"{RED}error{RESET}: " if number == 120 else ""
        sink.write(f"{colour}gcc -c source{number}.c needle-{number % 50}")
        time.sleep(0.002)
    sink.flush()
    expect(viewer).to_have_attribute("data-lines", "149", timeout=15_000)
    viewer.scroll_into_view_if_needed()
    expect(page.locator("#L149")).to_be_in_viewport()  # following the tail
    expect(page.locator("#L120 .ansi-fg-1")).to_have_text("error")
    screenshot(page, "build-page-live-log", full_page=False)

    # Search highlights every match and steps through them.
    page.fill("[data-act=search]", "needle-7")
    page.press("[data-act=search]", "Enter")
    expect(page.locator("[data-act=matches]")).to_have_text("1 / 3")
    expect(page.locator("mark.current")).to_have_text("needle-7")
    expect(page.locator("#L7 mark.current")).to_be_in_viewport()
    expect(page.locator("[data-act=follow]")).to_have_text("Paused")
    page.click("[data-act=next]")
    expect(page.locator("[data-act=matches]")).to_have_text("2 / 3")
    expect(page.locator("#L57 mark.current")).to_be_visible()
    page.click("[data-act=prev]")
    page.click("[data-act=prev]")
    expect(page.locator("[data-act=matches]")).to_have_text("3 / 3")
    screenshot(page, "build-page-search", full_page=False)

    # The raw log downloads as it is stored.
    with page.expect_download() as download:
        page.click("[data-act=download]")
    assert Path(download.value.path()).read_text(encoding="utf-8") == job_log(job.pk)

    # The job finishes: the viewer says so.
    sink.close()
    build_queue.complete(job.pk, "worker-0", message="stored")
    expect(page.locator(".log-state")).to_have_text("finished: built", timeout=15_000)


def test_a_permalink_opens_the_log_at_its_line_highlighted(staff_page: Page):
    job = _building_job()
    text = "".join(f"line number {n}\n" for n in range(1, 400))
    LogChunk.objects.create(
        job=job, attempt=1, seq=0, text=text, size=len(text), lines=399, created_at=job.enqueued_at
    )
    page = staff_page
    page.goto(f"/builds/{job.pk}/#L250")
    line = page.locator("#L250")
    expect(line).to_have_class("log-line selected")
    expect(line).to_be_in_viewport()
    expect(page.locator("[data-act=follow]")).to_have_text("Paused")
    # Clicking a line number makes it the permalink.
    page.locator("#L252 a.ln").click()
    assert page.url.endswith("#L252")
    expect(page.locator("#L252")).to_have_class("log-line selected")
    expect(page.locator("#L250")).to_have_class("log-line")


def test_the_log_resumes_after_the_socket_drops_with_no_gap_and_no_repeat(staff_page: Page):
    job = _building_job()
    sink = DatabaseLogSink(job.pk, 1, max_seconds=0.1)
    for number in range(1, 51):
        sink.write(f"before {number}")
    sink.flush()
    page = staff_page
    page.goto(f"/builds/{job.pk}/")
    expect(page.locator(".log-viewer")).to_have_attribute("data-lines", "50")
    # Cut the socket as a flaky network would; the viewer reconnects with ?since=50.
    page.evaluate("document.querySelector('.log-viewer').logViewer.socket.close()")
    for number in range(51, 101):
        sink.write(f"after {number}")
    sink.close()
    expect(page.locator(".log-viewer")).to_have_attribute("data-lines", "100", timeout=15_000)
    lines = page.evaluate("document.querySelector('.log-viewer').logViewer.raw")
    assert lines == [f"before {n}" for n in range(1, 51)] + [f"after {n}" for n in range(51, 101)]


def test_a_hundred_thousand_line_log_is_drawn_in_pieces(staff_page: Page):
    job = _building_job()
    rows = []
    for chunk in range(100):
        text = "".join(f"compiling unit {chunk * 1000 + n}\n" for n in range(1000))
        rows.append(
            LogChunk(
                job=job,
                attempt=1,
                seq=chunk,
                text=text,
                size=len(text),
                first_line=chunk * 1000,
                lines=1000,
                created_at=job.enqueued_at,
            )
        )
    LogChunk.objects.bulk_create(rows)
    page = staff_page
    page.goto(f"/builds/{job.pk}/")
    viewer = page.locator(".log-viewer")
    expect(viewer).to_have_attribute("data-lines", "100000", timeout=60_000)
    expect(page.locator("#L100000")).to_be_in_viewport()
    # Only the blocks near the viewport exist as elements.
    assert page.locator(".log-line").count() < 5_000
    page.fill("[data-act=search]", "unit 77777")
    page.press("[data-act=search]", "Enter")
    expect(page.locator("[data-act=matches]")).to_have_text("1 / 1")
    expect(page.locator("#L77778 mark.current")).to_be_in_viewport()
    page.set_viewport_size(LAPTOP)
    assert fits_width(page)
    screenshot(page, "build-page-100k-lines", full_page=False)
