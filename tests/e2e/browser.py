"""Debian's Chromium driven by Playwright (no browser download), with axe-core checks and
phone/desktop screenshots of each page the portal tests visit.

Without a Chromium the browser tests skip, saying why; with `CITYHALL_REQUIRE_BROWSER=1` (CI)
they fail instead. Screenshots go to `test-artifacts/portal/<test>/` (git-ignored); the
folder is printed so a run's log says where to look."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"
PHONE = ViewportSize(width=375, height=812)
DESKTOP = ViewportSize(width=1280, height=900)
BLOCKING_IMPACTS = {"serious", "critical"}
ELEMENT_TIMEOUT_MS = 60_000  # a loaded two-core CI box; Playwright waits on conditions


def chromium_path() -> str:
    """The system Chromium, or a skip (a failure where CITYHALL_REQUIRE_BROWSER=1)."""
    configured = os.environ.get("CITYHALL_CHROMIUM")
    for candidate in (configured, *CHROMIUM_CANDIDATES):
        if candidate and shutil.which(candidate):
            return candidate
    message = (
        "no Chromium at /usr/bin/chromium (apt-get install chromium, or set CITYHALL_CHROMIUM): "
        "the portal's browser tests need it"
    )
    if os.environ.get("CITYHALL_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


def axe_blocking(results: dict[str, Any]) -> list[str]:
    """The serious or critical axe violations, one line each (rule, impact, first targets)."""
    lines = []
    for violation in results["violations"]:
        if violation.get("impact") in BLOCKING_IMPACTS:
            targets = [node["target"] for node in violation["nodes"][:3]]
            lines.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']} {targets}"
            )
    return lines


@dataclass
class PortalBrowser:
    """One Chromium; `context()` gives a fresh profile (its own storage: one user each)."""

    browser: Browser
    base_url: str
    folder: Path
    shots: list[Path] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    async def context(self, *, viewport: ViewportSize = DESKTOP) -> BrowserContext:
        context = await self.browser.new_context(
            base_url=self.base_url, viewport=viewport, locale="ja-JP", timezone_id="Asia/Tokyo"
        )
        context.set_default_timeout(ELEMENT_TIMEOUT_MS)
        context.on("weberror", lambda error: self.errors.append(str(error.error)))
        return context

    async def open(self, page: Page, path: str) -> None:
        """Go to a portal page and wait until its view has rendered (a hash change does not
        reload the page, so wait for the shell to say which view it shows)."""
        await page.goto(path)
        shown = path if "#" in path or path != "/" else "/#/"
        await page.wait_for_function("view => document.body.dataset.view === view", arg=shown)

    async def check(self, page: Page, name: str) -> None:
        """axe-core on the page as it is (no serious/critical violation), then screenshots at
        phone and desktop widths."""
        await page.wait_for_selector("body[data-ready='true']")
        results = await Axe().run(page)
        blocking = axe_blocking(results.response)
        assert blocking == [], f"{name}: axe found\n" + "\n".join(blocking)
        self.checked.add(name)
        size = page.viewport_size or DESKTOP
        slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
        for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            await page.set_viewport_size(viewport)
            path = self.folder / f"{len(self.shots):02d}-{slug}-{label}.png"
            await page.screenshot(path=str(path), full_page=True)
            self.shots.append(path)
            if viewport is PHONE:  # usable on a phone: nothing wider than its screen
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"], f"{name}: {width} px wide on a 375 px phone"
        await page.set_viewport_size(size)


async def _screenshot_every_page(browser: Browser, folder: Path) -> None:
    """What each open page showed when the test failed (and what it logged)."""
    for c, context in enumerate(browser.contexts):
        for p, page in enumerate(context.pages):
            with contextlib.suppress(Exception):
                await page.screenshot(path=str(folder / f"failure-{c}-{p}.png"), full_page=True)
                (folder / f"failure-{c}-{p}.txt").write_text(
                    f"{page.url}\n{await page.inner_text('body')}", encoding="utf-8"
                )


@asynccontextmanager
async def portal_browser(base_url: str, test_name: str) -> AsyncIterator[PortalBrowser]:
    executable = chromium_path()
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_-]+", "-", test_name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_FLAGS)
        )
        portal = PortalBrowser(browser, base_url, folder)
        try:
            yield portal
        except BaseException:
            await _screenshot_every_page(browser, folder)
            raise
        finally:
            await browser.close()
            print(f"portal screenshots ({len(portal.shots)}): {folder}")
    assert portal.errors == [], f"uncaught errors in the pages: {portal.errors}"
