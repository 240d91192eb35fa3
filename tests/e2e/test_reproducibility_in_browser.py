"""The reproducibility verdict as an operator sees it on the package page, in Chromium."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from builds.models import Artifact, BuildJob
from tests.e2e.conftest import LAPTOP, fits_width, screenshot
from tests.factories import ArtifactFactory, BuildJobFactory, TargetFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_package_page_says_which_wheels_rebuilt_to_the_same_bytes(staff_page: Page):
    target = TargetFactory(platform_tag="manylinux_2_17_s390x")
    for version, same in (("1.0", True), ("1.1", False)):
        job = BuildJobFactory(
            name="steady", version=version, target=target, status=BuildJob.Status.BUILT
        )
        ArtifactFactory(
            name="steady",
            version=version,
            target=target,
            job=job,
            origin=Artifact.Origin.BUILT,
            reproducible=same,
            reproduced_at=timezone.now(),
            reproduction={
                "detail": "identical bytes" if same else "2 member(s) differ",
                "differing_members": [] if same else ["steady.py", "steady-1.1.dist-info/RECORD"],
            },
        )
    page = staff_page
    page.set_viewport_size(LAPTOP)
    page.goto("/packages/steady/")

    wheels = page.locator("table.artifacts")
    rebuilt_same = wheels.get_by_text("reproducible", exact=True)
    differs = wheels.get_by_text("not reproducible", exact=True)
    expect(rebuilt_same).to_be_visible()
    expect(differs).to_be_visible()
    assert "identical bytes" in (rebuilt_same.get_attribute("title") or "")
    assert "2 member(s) differ" in (differs.get_attribute("title") or "")
    assert fits_width(page)
    screenshot(page, "page-package-reproducible")
