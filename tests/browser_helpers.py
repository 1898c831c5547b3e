"""A real headless Chromium for the tests that look at pages (the HTML report, the service's
web page): Debian's package driven by playwright, skipped with how to get one when absent."""
from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = next((p for p in (os.environ.get("DIPLO_CHROMIUM"), shutil.which("chromium"),
                             shutil.which("chromium-browser")) if p), None)
HOW_TO = ("no headless Chromium: install Debian's `apt-get install -y chromium` (or set "
          "DIPLO_CHROMIUM to a Chromium binary) and `pip install playwright` (the test extra); "
          "`playwright install` is not needed")


def chromium(tmp_path_factory, **options):
    """A browser context in a fresh profile, for a module-scoped fixture to yield from."""
    if CHROMIUM is None:
        pytest.skip(HOW_TO)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(HOW_TO)
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run"], **options)
        yield context
        context.close()


def watched(page, requests: list, problems: list):
    """`page`, recording every request it makes and every console error, warning or
    uncaught exception."""
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return page
