"""
The cloud's dashboard and the edges' pages in a real browser, on real processes.

An analyst signs in with a token, watches a report go from pending to synced
on edge-a's page, opens the conflict that concurrent edits at edge-a and
edge-b make in the cloud's dashboard, resolves it through its form, and sees
the resolution reach both edges' pages. Every page is photographed into the
artifact folder; each must fit a 1366x768 laptop screen without sideways
scrolling and run without a script error or a Content-Security-Policy
refusal.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    ViewportSize,
    expect,
)

from edgesync.tokens import Role
from tests.browser.conftest import Cluster

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORT: ViewportSize = {"width": 1366, "height": 768}
REPORT = "rpt-001"
RESOLVED_TITLE = "Bridge out, confirmed by both patrols"
# Long enough for a live refresh (every 5 s) and a slow machine.
WAIT_MS = 15_000


@dataclass
class Screens:
    """Numbered full-page screenshots, and what the pages complained of."""

    folder: Path
    taken: int = 0
    complaints: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        """Note every uncaught script error and CSP refusal of *page*."""
        page.on("pageerror", lambda error: self.complaints.append(str(error)))
        page.on(
            "console",
            lambda message: (
                self.complaints.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        return page

    async def take(self, page: Page, name: str) -> None:
        """Photograph *page*, and check it needs no sideways scrolling."""
        self.taken += 1
        path = self.folder / f"{self.taken:02d}-{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= VIEWPORT["width"], f"{name} is {width} px wide"
        assert not self.complaints, self.complaints


@pytest.fixture(scope="module")
def screens(artifacts: Path) -> Screens:
    """The screenshots of this module, numbered in the order taken."""
    return Screens(artifacts)


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile on a laptop-sized screen, trusting the dev CA."""
    context = await browser.new_context(ignore_https_errors=True, viewport=VIEWPORT)
    yield context
    await context.close()


async def sign_in(page: Page, url: str, token: str) -> None:
    """Go to *url*, land on the sign-in form, and sign in with the keyboard."""
    await page.goto(url)
    await expect(page).to_have_url(re.compile(r"/signin\?next="))
    await page.get_by_label("Access token").fill(token)
    await page.get_by_label("Access token").press("Enter")
    await expect(page).not_to_have_url(re.compile("/signin"))
    await page.wait_for_load_state()


def report_row(page: Page, report_id: str) -> Locator:
    """The table row whose header cell names *report_id*."""
    return page.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name=report_id, exact=True)
    )


def menu(page: Page, name: str) -> Locator:
    """The link *name* of the main navigation."""
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name)


async def sync_now(page: Page) -> None:
    """Press the edge page's Sync now button and wait for the cycle's result."""
    await page.get_by_role("button", name="Sync now").click()
    await expect(page).to_have_url(re.compile(r"\?synced=ok$"))


async def test_pages_without_sign_in_go_to_the_sign_in_form(
    context: BrowserContext, cluster: Cluster, screens: Screens
) -> None:
    """Every page asks a browser with no session to sign in, and comes back after."""
    page = screens.watch(await context.new_page())

    for url in (
        cluster.cloud.url + "/dashboard/conflicts",
        cluster.edges["edge-a"].url + "/",
    ):
        await page.goto(url)

        await expect(page).to_have_url(re.compile(r"/signin\?next=/"))
        await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.get_by_label("Access token")).to_be_focused()
    await screens.take(page, "sign-in")


async def test_sync_and_resolve_a_conflict_through_the_pages(
    context: BrowserContext, cluster: Cluster, screens: Screens
) -> None:
    """
    pending → Sync now → synced on edge-a; a conflict from concurrent edits
    opened in the dashboard, resolved with a reason through its form; after
    Sync now on both edges, both pages show the resolved version, synced.
    """
    token = cluster.token("resolver-1", Role.ANALYST, Role.RESOLVER, Role.AUDITOR)
    cloud = screens.watch(await context.new_page())
    await sign_in(cloud, cluster.cloud.url + "/", token)
    await expect(cloud.get_by_role("rowheader", name="edge-a")).to_be_visible()
    await cloud.keyboard.press("Tab")
    await expect(cloud.get_by_role("link", name="Skip to content")).to_be_focused()
    await screens.take(cloud, "cloud-edges-before")

    async with cluster.api("edge-a") as api:
        created = await api.post(
            "/reports",
            json={
                "report_id": REPORT,
                "title": "Bridge at grid 4417",
                "content": "Seen from the north bank.\nNo traffic.",
                "classification": "CUI",
            },
        )
        assert created.status_code == 201, created.text
    edge_a = screens.watch(await context.new_page())
    await sign_in(edge_a, cluster.edges["edge-a"].url + "/", token)
    await expect(report_row(edge_a, REPORT)).to_contain_text("pending")
    await screens.take(edge_a, "edge-a-pending")
    await sync_now(edge_a)
    await expect(report_row(edge_a, REPORT)).to_contain_text("synced")
    await screens.take(edge_a, "edge-a-synced")

    # The edges share a host, so edge-b's page takes the same session cookie.
    edge_b = screens.watch(await context.new_page())
    await edge_b.goto(cluster.edges["edge-b"].url + "/")
    await sync_now(edge_b)
    await expect(report_row(edge_b, REPORT)).to_contain_text("synced")

    for name, title in (("edge-a", "Bridge out"), ("edge-b", "Bridge intact")):
        async with cluster.api(name) as api:
            edited = await api.patch(f"/reports/{REPORT}", json={"title": title})
            assert edited.status_code == 200, edited.text
    await sync_now(edge_a)
    await sync_now(edge_b)
    await sync_now(edge_a)
    await screens.take(edge_b, "edge-b-after-conflict")

    await menu(cloud, "Conflicts").click()
    await expect(cloud.get_by_role("heading", name="Open: 1")).to_be_visible()
    await screens.take(cloud, "cloud-conflicts-open")
    await cloud.get_by_role("link", name=re.compile("^Conflict ")).first.click()
    diff = cloud.get_by_role("table")
    await expect(diff).to_contain_text("Bridge out")
    await expect(diff).to_contain_text("Bridge intact")
    await screens.take(cloud, "cloud-conflict")

    await cloud.get_by_label("Edit the fields below").check()
    await cloud.get_by_label("Title").fill(RESOLVED_TITLE)
    await cloud.get_by_label(re.compile("^Reason")).fill("confirmed by radio")
    await cloud.get_by_role("button", name="Resolve conflict").click()
    await expect(cloud.get_by_role("status")).to_contain_text("resolved")
    await expect(cloud.get_by_text("confirmed by radio")).to_be_visible()
    await screens.take(cloud, "cloud-conflict-resolved")

    for page, name in ((edge_a, "edge-a"), (edge_b, "edge-b")):
        await sync_now(page)
        row = report_row(page, REPORT)
        await expect(row).to_contain_text(RESOLVED_TITLE)
        await expect(row).to_contain_text("synced")
        await expect(row).to_contain_text("cloud:1")
        await screens.take(page, f"{name}-resolved")

    await menu(cloud, "Reports").click()
    await expect(report_row(cloud, REPORT)).to_contain_text("on every edge")
    await screens.take(cloud, "cloud-reports")
    await cloud.get_by_role("link", name=REPORT, exact=True).click()
    await expect(cloud.get_by_role("heading", name="Audit trail")).to_be_visible()
    await expect(cloud.get_by_text("conflict.resolved")).to_be_visible()
    await screens.take(cloud, "cloud-report")
    await menu(cloud, "Edges").click()
    await screens.take(cloud, "cloud-edges-after")


async def test_form_without_its_csrf_field_is_refused(
    context: BrowserContext, cluster: Cluster, screens: Screens
) -> None:
    """A Sync now form stripped of its CSRF field is refused with 403."""
    page = screens.watch(await context.new_page())
    await sign_in(page, cluster.edges["edge-a"].url + "/", cluster.token("eve"))
    await page.locator("form[action='/sync-now'] input[name='csrf']").evaluate(
        "field => field.remove()"
    )

    async with page.expect_response(re.compile("/sync-now$")) as answer:
        await page.get_by_role("button", name="Sync now").click()

    assert (await answer.value).status == 403
    await expect(
        page.get_by_role("heading", name=re.compile("Form refused"))
    ).to_be_visible()
    await screens.take(page, "edge-a-form-refused")


async def test_live_refresh_shows_a_new_report_without_reloading(
    context: BrowserContext, cluster: Cluster, screens: Screens
) -> None:
    """The edge page picks up a report written meanwhile, with no reload."""
    page = screens.watch(await context.new_page())
    await sign_in(page, cluster.edges["edge-b"].url + "/", cluster.token("eve"))
    loads: list[str] = []
    page.on("load", lambda loaded: loads.append(loaded.url))

    async with cluster.api("edge-b") as api:
        body = {"report_id": "rpt-live", "title": "Convoy", "content": "x"}
        created = await api.post("/reports", json=body | {"classification": "IL4"})
        assert created.status_code == 201, created.text

    await expect(report_row(page, "rpt-live")).to_contain_text(
        "pending", timeout=WAIT_MS
    )
    assert loads == []
    await expect(page.locator("#live-status")).to_contain_text("Updated")
    await screens.take(page, "edge-b-live")
