"""The network's web pages in a real headless Chromium (Debian's, driven by Playwright), with every
request that leaves this machine refused, as on a government intranet."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.e2e.conftest import RunningNetwork

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it when run as root)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page()
    outside: list[str] = []

    def only_this_machine(route: Route) -> None:
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_machine)
    yield page
    page.close()
    assert not outside, f"the page asked the internet for {outside}"


def test_api_docs_render_without_internet(network: RunningNetwork, page: Page) -> None:
    page.goto(f"{network.gateway}/docs")
    page.get_by_text("/api/v1/agents/cases", exact=True).first.wait_for(timeout=20_000)
    assert page.get_by_text("/api/v1/cases/{case_id}", exact=True).count() >= 1
    assert page.get_by_role("button", name="Authorize").count() == 1


def test_printable_guide_lists_the_materials_as_a_checklist(network: RunningNetwork, page: Page) -> None:
    page.goto(f"{network.gateway}/api/v1/catalogue/items/LY-MZ-002/guide.html?org_code=371424100201")
    assert page.locator("h1").inner_text() == "特困人员救助供养认定"
    assert "办事指南" in page.title()
    body = page.locator("body").inner_text()
    for required in ("特困人员救助供养申请书", "居民身份证", "户口簿", "承诺时限", "15个工作日"):
        assert required in body
    assert page.get_by_text("☐").count() >= 3, "every material has a box to tick"
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000, "the guide prints"
