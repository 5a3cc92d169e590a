"""End to end in a real headless browser: Debian's chromium driven by Playwright.

Log in, open the plan page (charts drawn by the locally served Plotly), keep a screenshot of it in
test-artifacts/, approve the plan, and find the approval in the audit log. Never downloads a browser:
without /usr/bin/chromium the test is skipped, except under CI, where that is a failure.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import uvicorn
from web_support import PASSWORD, SECRET, make_plan, seed_users

from energy.site import Site
from energy.store import Store
from energy.store.audit import read_audit
from energy.store.plans import get_plan
from energy.web import WebSettings, create_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is required under CI: run scripts/ensure-system-deps.sh")
    pytest.skip(f"{CHROMIUM} is not installed (scripts/ensure-system-deps.sh installs it)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(site: Site, sqlite_store: Store) -> Iterator[str]:
    seed_users(sqlite_store)
    app = create_app(site, sqlite_store, WebSettings(secret_key=SECRET))
    port = _free_port()
    instance = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def test_operator_approves_a_plan_and_finds_it_in_the_audit_log(
    server: str, site: Site, sqlite_store: Store, tmp_path: Path
) -> None:
    _require_chromium()
    from playwright.sync_api import expect, sync_playwright

    start = pd.Timestamp.now(tz="UTC").floor("15min").to_pydatetime()
    plan = make_plan(site, sqlite_store, start=start - dt.timedelta(hours=2), slots=96)
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1200},
        )
        try:
            page = context.new_page()
            page.goto(f"{server}/plans/{plan.id}")
            expect(page).to_have_url(f"{server}/login?next=/plans/{plan.id}")
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{server}/plans/{plan.id}")
            expect(page.locator("#plan-state")).to_have_text("proposed")
            page.wait_for_selector("#chart-prices .main-svg", timeout=15_000)
            page.wait_for_selector("#chart-battery-soc .main-svg", timeout=15_000)
            page.screenshot(path=str(ARTIFACTS / "plan-page.png"), full_page=True)

            page.fill("input[name=note]", "checked in the browser")
            page.once("dialog", lambda dialog: dialog.accept())  # the confirmation
            page.click("#approve")
            expect(page.locator("#plan-state")).to_have_text("approved")

            page.goto(f"{server}/audit?q=plan.approve")
            rows = page.locator("#audit tbody tr")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("operator")
            expect(rows.first).to_contain_text(f"plan:{plan.id}")
            expect(rows.first).to_contain_text("checked in the browser")
        finally:
            context.close()

    assert get_plan(sqlite_store, plan.id).decided_by == "operator"
    assert read_audit(sqlite_store, action="auth.login")[0]["actor"] == "operator"
    assert (ARTIFACTS / "plan-page.png").stat().st_size > 10_000


def _browser(playwright, tmp_path: Path, locale: str):  # type: ignore[no-untyped-def]
    return playwright.chromium.launch_persistent_context(
        str(tmp_path / f"chromium-{locale}"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1600, "height": 1200},
        locale=locale,
    )


def test_a_german_operator_reads_the_plan_approves_it_and_changes_the_password(
    server: str, site: Site, sqlite_store: Store, tmp_path: Path
) -> None:
    _require_chromium()
    from playwright.sync_api import expect, sync_playwright

    start = pd.Timestamp.now(tz="UTC").floor("15min").to_pydatetime()
    summary = {
        "local_control": {
            "saving_eur": 4.25,
            "plan": {"objective_eur": 12.5},
            "local": {"objective_eur": 16.75},
            "assets": {"house-01.battery": {"saving_eur": 1.5, "shifted_kwh": 6.0}},
        },
        "cost_breakdown": {"import_eur": 14.0, "export_revenue_eur": -1.5},
    }
    plan = make_plan(site, sqlite_store, start=start, slots=96, summary=summary)
    new_password = "ein neues langes Passwort"
    questions: list[str] = []
    with sync_playwright() as playwright:
        context = _browser(playwright, tmp_path, "de-DE")
        try:
            page = context.new_page()
            page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
            page.goto(f"{server}/plans/{plan.id}")
            expect(page.locator("html")).to_have_attribute("lang", "de")
            expect(page.locator("h1")).to_have_text("Anmelden")
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("#plan-state")).to_have_text("vorgeschlagen")
            expect(page.locator("#plan-value")).to_contain_text("Der Plan spart 4,25 €")
            expect(page.locator("#devices")).to_contain_text("Haus 1 · Batterie")
            # the charts are drawn with units on the y axis and local times on the x axis
            page.wait_for_selector("#chart-battery-soc .main-svg", timeout=15_000)
            expect(page.locator("#chart-battery-soc .ytitle")).to_have_text("%")
            expect(page.locator("#chart-grid .ytitle")).to_have_text("kW")
            assert page.locator("#chart-prices .xtick").count() >= 6
            expect(page.locator("#chart-battery-soc .legend")).to_contain_text("Haus 1")
            page.screenshot(path=str(ARTIFACTS / "plan-page-de.png"), full_page=True)

            page.click("#approve")
            expect(page.locator("#plan-state")).to_have_text("freigegeben")
            assert questions
            assert questions[0].startswith(f"Plan {plan.id} freigeben?")

            page.click("text=Passwort ändern")
            page.fill("input[name=current]", PASSWORD)
            page.fill("input[name=new]", new_password)
            page.fill("input[name=repeat]", new_password)
            page.click("#change-password")
            expect(page.locator("p.notice")).to_contain_text("Ihr Passwort wurde geändert")
            page.click("text=Abmelden")
            expect(page.locator("h1")).to_have_text("Anmelden")
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", new_password)
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_contain_text("Status")
            page.click("a[hreflang=en]")
            expect(page.locator("html")).to_have_attribute("lang", "en")
            expect(page.locator("nav")).to_contain_text("Audit log")
        finally:
            context.close()
    assert get_plan(sqlite_store, plan.id).decided_by == "operator"
    assert read_audit(sqlite_store, action="user.update")[0]["actor"] == "operator"


def test_plan_charts_keep_slots_in_time_order_across_the_autumn_dst_change(
    server: str, site: Site, sqlite_store: Store, tmp_path: Path
) -> None:
    """25.10.2026 has 100 quarter hours in Europe/Berlin: the x axis lists them in time order
    with the repeated hour once at +02:00 and once at +01:00."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    start = dt.datetime(2026, 10, 24, 22, 0, tzinfo=dt.UTC)  # local midnight (+02:00)
    plan = make_plan(site, sqlite_store, start=start, slots=100)
    with sync_playwright() as playwright:
        context = _browser(playwright, tmp_path, "de-DE")
        try:
            page = context.new_page()
            page.goto(f"{server}/login?next=/plans/{plan.id}")
            page.fill("input[name=username]", "viewer")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("#chart-battery-soc .main-svg", timeout=15_000)
            categories = page.evaluate(
                "document.getElementById('chart-battery-soc')._fullLayout.xaxis._categories"
            )
            ticks = page.eval_on_selector_all(
                "#chart-battery-soc .xtick text", "texts => texts.map(t => t.textContent)"
            )
            page.screenshot(path=str(ARTIFACTS / "plan-page-dst.png"), full_page=True)
        finally:
            context.close()
    assert len(categories) == 101  # 100 slots and the horizon's end
    assert categories[0] == "25.10.2026 00:00 +02:00"
    assert categories[-1] == "26.10.2026 00:00 +01:00"
    assert categories.index("25.10.2026 02:00 +02:00") < categories.index("25.10.2026 02:00 +01:00")
    assert any("02:00 +02" in t for t in ticks)
    assert any("02:00 +01" in t for t in ticks)
