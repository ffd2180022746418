"""A person in a real browser (Debian's chromium through chromium-driver) using the console.

Only what a person does: open pages, pick a name in the switcher, type into fields, press
buttons, read what the page says. Nothing here calls the stand-ins or the ledger directly,
so a walk that passes is a walk a newcomer can do by hand.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

T = TypeVar("T")
# Debian's packages: `apt-get install chromium chromium-driver` (.ci/run does it).
CHROMIUM = ("/usr/bin/chromium", "/usr/lib/chromium/chromium")
CHROMEDRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def system_browser() -> tuple[str, str] | None:
    """Paths of Debian's chromium and its driver, or None when they are not installed."""
    browser = next((p for p in CHROMIUM if Path(p).exists()), shutil.which("chromium"))
    driver = next((p for p in CHROMEDRIVER if Path(p).exists()), shutil.which("chromedriver"))
    return (browser, driver) if browser and driver else None


def browser_or_skip() -> None:
    """Skip without Debian's chromium, except in CI, which must have it (.ci/run installs it)."""
    if system_browser() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have chromium and chromium-driver (.ci/run installs them)")
        pytest.skip("apt-get install chromium chromium-driver to run the browser test")


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[webdriver.Chrome]:
    """A headless chromium session from the system packages (never a downloaded browser)."""
    found = system_browser()
    if found is None:
        raise RuntimeError("chromium and chromium-driver are not installed")
    browser, driver_path = found
    options = Options()
    options.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in CI: chromium refuses its sandbox there
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    # An explicit driver path: Selenium Manager (which would download one) never runs.
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


class Stuck(AssertionError):
    """What the person waited for never showed."""


class Person:
    """The browser as whoever the console's switcher says, with patience for govflow."""

    def __init__(
        self,
        driver: webdriver.Chrome,
        base: str,
        *,
        shots: Path | None = None,
        patience: float = 90.0,
    ) -> None:
        self.driver = driver
        self.base = base.rstrip("/")
        self.shots = shots
        self.patience = patience

    # --- looking -------------------------------------------------------------------------

    def open(self, path: str) -> None:
        """Go to a console page (or a full URL)."""
        self.driver.get(path if path.startswith("http") else self.base + path)

    def text(self) -> str:
        """Everything the page shows, as text."""
        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def until(self, what: str, check: Callable[[], T | None], *, reload: bool = True) -> T:
        """Look again (reloading the page) until `check` gives something, or fail."""
        deadline = time.monotonic() + self.patience
        while True:
            try:
                found = check()
            except (NoSuchElementException, WebDriverException):
                found = None
            if found:
                return found
            if time.monotonic() > deadline:
                self.shot("stuck")
                page = self.text()
                raise Stuck(f"waited {self.patience:.0f} s for {what}; the page says:\n{page}")
            time.sleep(1.0)
            if reload:
                self.driver.refresh()

    def shot(self, name: str) -> None:
        """Save a screenshot when asked to keep them (GOVFLOW_SCREENSHOTS)."""
        if self.shots is not None:
            self.shots.mkdir(parents=True, exist_ok=True)
            self.driver.save_screenshot(str(self.shots / f"{name}.png"))

    # --- doing ---------------------------------------------------------------------------

    def become(self, label_start: str) -> None:
        """Pick a person in the "acting as" switcher; the page reloads as them."""
        select = Select(self.driver.find_element(By.ID, "as"))
        current = select.first_selected_option.text
        if current.startswith(label_start):
            return
        option = next(o for o in select.options if o.text.startswith(label_start))
        page = self.driver.find_element(By.TAG_NAME, "html")
        select.select_by_visible_text(option.text)  # its onchange posts the switch
        self._wait_stale(page)
        self.until(
            f"acting as {label_start}",
            lambda: Select(
                self.driver.find_element(By.ID, "as")
            ).first_selected_option.text.startswith(label_start),
            reload=False,
        )

    def fill(self, name: str, value: str) -> None:
        """Type into (or choose in) the form field called `name`."""
        field = self.driver.find_element(By.NAME, name)
        if field.tag_name == "select":
            Select(field).select_by_visible_text(value)
        else:
            field.clear()
            field.send_keys(value)

    def press(self, element: WebElement) -> None:
        """Click, as a person does, and wait until the next page replaced this one.

        A form's answer can take seconds (a click waits for the modal govflow opens); going
        to another page meanwhile would race with it, and the late answer would win.
        """
        # The document, not the element: a channel's feed is swapped in place every 2 s.
        page = self.driver.find_element(By.TAG_NAME, "html")
        element.click()
        self._wait_stale(page)

    def _wait_stale(self, element: WebElement) -> None:
        """Wait until the page holding `element` has been replaced by the next one."""
        deadline = time.monotonic() + self.patience
        while time.monotonic() < deadline:
            try:
                element.is_enabled()
            except WebDriverException:
                # Stale, or chromium's "node does not belong to the document": replaced.
                return
            time.sleep(0.1)
        raise Stuck(f"the page did not change within {self.patience:.0f} s of the click")

    def button(self, text: str, within: WebElement | None = None) -> WebElement | None:
        """The first visible button whose label starts with `text`."""
        root = within or self.driver
        for candidate in root.find_elements(By.CSS_SELECTOR, "button, a.btn"):
            if candidate.is_displayed() and candidate.text.strip().startswith(text):
                return candidate
        return None

    def message_about(self, key: str, button: str) -> WebElement | None:
        """A message on this page about `key` that has a button labelled `button`."""
        for message in self.driver.find_elements(By.CSS_SELECTOR, ".msg"):
            if key in message.text and self.button(button, message) is not None:
                return message
        return None


def screenshots_dir() -> Path | None:
    """Where to keep screenshots: GOVFLOW_SCREENSHOTS, if set."""
    where = os.environ.get("GOVFLOW_SCREENSHOTS")
    return Path(where) if where else None
