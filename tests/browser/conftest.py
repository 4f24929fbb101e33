"""One headless Debian ``chromium`` for the browser tests, driven by Playwright's Python API.

Playwright cannot download its own browser here: ``make bootstrap`` installs Debian's package
and the tests launch that binary. A missing browser is an error that says how to install it,
never a skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


def chromium_path() -> str:
    """Debian's chromium (``CHROMIUM`` overrides); a clear error when it is not installed."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("chromium is not installed: run `make bootstrap` (apt-get install chromium)")
    return path


# Module scope, not session: Playwright's sync API runs an asyncio loop in the main thread
# while it is open, and every later test calling asyncio.run() would find that loop running.
# (All browser tests are one module, so this is still one browser per run.)
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    # As root (CI here), Chromium refuses to start with its sandbox on.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    launched = playwright.chromium.launch(executable_path=chromium_path(), args=args)
    yield launched
    launched.close()


class WatchedPage:
    """A page whose console errors and uncaught exceptions are collected for the test to check."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"{message.type}: {message.text} at {message.location}")

    def shot(self, name: str) -> Path:
        """Save a full-page screenshot as a test artifact."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path


@pytest.fixture
def watched(browser: Browser) -> Iterator[WatchedPage]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    yield WatchedPage(context.new_page())
    context.close()
