"""Real-browser tests: the system's Chromium driven by Playwright, or a clean skip saying why.

`needs_chromium` is the one condition every browser test uses (Debian's `chromium` package;
Playwright never downloads a browser here). `.ci/run` installs Chromium before the tests.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser

CHROMIUM = Path(os.environ.get("RIMPLLEE_CHROMIUM", "/usr/bin/chromium"))
INSTALL = "apt-get update && apt-get install -y chromium fonts-noto-color-emoji"
# conftest's summary finds these skips by the "browser test:" prefix and names them at the end.
SKIP_REASON = f"browser test: no Chromium at {CHROMIUM} (install it, as root: {INSTALL})"


def chromium_missing() -> bool:
    return not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK))


needs_chromium = pytest.mark.skipif(chromium_missing(), reason=SKIP_REASON)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            await browser.close()
