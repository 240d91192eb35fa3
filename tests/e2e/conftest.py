"""Browser tests: the real refinery server (uvicorn, websockets) driven by the system's
Chromium through Playwright, logged in as staff. Screenshots of each page go to
``SCREENSHOT_DIR`` (default ``var/screenshots/``) for a person to look at."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "var" / "screenshots"))
PASSWORD = "browser-test-password"
WIDE: ViewportSize = {"width": 1400, "height": 900}
LAPTOP: ViewportSize = {"width": 1280, "height": 720}


def chromium_path() -> str:
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    pytest.fail("no chromium on PATH: install Debian's chromium package (.ci/run does)")


@pytest.fixture(scope="module")
def browser(django_db_setup: None) -> Iterator[Browser]:
    """Chromium for one test module. Playwright's sync API keeps an event loop running in
    this thread, which makes Django refuse the tests' own ORM calls: they are allowed for
    the module's duration only (the server, a subprocess, keeps its checks)."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=chromium_path(),
                headless=True,
                args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
            )
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The static files as collectstatic lays them out (once: it takes seconds)."""
    var_dir = tmp_path_factory.mktemp("static-var")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=ROOT,
        env={**os.environ, "VAR_DIR": str(var_dir), "DATABASE_URL": f"sqlite:///{var_dir}/db"},
        check=True,
    )
    return var_dir / "static"


@pytest.fixture
def server(start_refinery, collected_static: Path, tmp_path: Path) -> str:
    """The refinery as `make run` serves it (embedded transport: no Redis)."""
    shutil.copytree(collected_static, tmp_path / "server-var" / "static")
    return str(start_refinery(env={"DJANGO_ALLOW_ASYNC_UNSAFE": "", "REDIS_URL": ""}))


@pytest.fixture
def staff_page(browser: Browser, server: str, django_user_model) -> Iterator[Page]:
    """A browser page logged in as a staff user through the admin's login form."""
    django_user_model.objects.create_superuser("operator", "ops@example.com", PASSWORD)
    context = browser.new_context(viewport=WIDE, base_url=server, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto("/admin/login/?next=/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{server}/")
    yield page
    context.close()


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def fits_width(page: Page) -> bool:
    """Whether the page needs no sideways scrolling at its viewport's width."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))
