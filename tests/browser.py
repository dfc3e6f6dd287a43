"""Drive the real pages with Debian's Chromium through Playwright (never a downloaded browser).

``CHROMIUM`` is where the browser must be; tests that need it are skipped without it."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright, ViewportSize, expect

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE: ViewportSize = {"width": 375, "height": 812}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}


def have_chromium() -> bool:
    return CHROMIUM.is_file()


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)


def sign_in(page: Page, base_url: str, email: str, password: str) -> None:
    """Sign in through the form and wait to land on the dashboard."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(base_url) + "/$"))


def csrf_token(page: Page) -> str:
    """The session's CSRF token, from the hidden input of the sign-out form."""
    token = page.locator("form.signout input[name=csrf]").get_attribute("value")
    assert token, "no CSRF token in the sign-out form"
    return token


def scroll_width(page: Page) -> int:
    """The document's scroll width in CSS pixels (at most the viewport's: no sideways scroll)."""
    return int(page.evaluate("document.documentElement.scrollWidth"))


def too_wide(page: Page, width: int) -> list[str]:
    """The elements reaching past ``width`` pixels, for a readable failure."""
    found: list[str] = page.evaluate(
        """(width) => Array.from(document.querySelectorAll("body *"))
            .filter((e) => e.getBoundingClientRect().right > width + 0.5)
            .slice(0, 10)
            .map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
                 + (e.className && typeof e.className === "string"
                    ? "." + e.className.trim().split(/\\s+/).join(".") : "")
                 + " right=" + Math.round(e.getBoundingClientRect().right))""",
        width,
    )
    return found
