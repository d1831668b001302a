"""Debian's Chromium under Playwright, one way for every browser test: headless, no sandbox (the
tests run as root in CI), and no traffic of its own (updates, sync, QUIC), so every request a
test sees is one the page made."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from playwright.sync_api import Browser, sync_playwright

EXECUTABLE = "/usr/bin/chromium"  # installed by scripts/system-deps
ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@contextlib.contextmanager
def launched(*, extra_args: Sequence[str] = ()) -> Iterator[Browser]:
    """A running Chromium (``extra_args`` e.g. ``--host-resolver-rules=...``), closed after."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=EXECUTABLE, headless=True, args=[*ARGS, *extra_args]
        )
        try:
            yield browser
        finally:
            browser.close()
