"""Headless Chromium for tests and screenshots: Debian's browser, launched without network chatter."""

from __future__ import annotations

import shutil

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    """The system Chromium (``apt-get install chromium``); never a downloaded browser build."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def launch(playwright):
    """``playwright.chromium.launch`` on the system browser with :data:`CHROMIUM_ARGS`."""
    path = chromium_path()
    if path is None:
        raise FileNotFoundError("Debian chromium is not installed (scripts/install.sh --with-browser installs it)")
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
