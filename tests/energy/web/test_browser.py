"""End to end in a real headless browser: Debian's chromium driven by Playwright.

Log in, open the plan page (charts drawn by the locally served Plotly), keep a screenshot of it in
test-artifacts/, approve the plan, and find the approval in the audit log; in German, also the
district overview and a house page. Never downloads a browser:
without /usr/bin/chromium the test is skipped, except under CI, where that is a failure.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import uvicorn
from web_support import PASSWORD, SECRET, make_plan, seed_users

from energy.alarm_texts import alarm_text
from energy.quality import Quality
from energy.site import Site
from energy.store import Store
from energy.store.alarms import Severity, raise_alarm
from energy.store.audit import read_audit
from energy.store.measurements import write_measurements
from energy.store.plans import get_plan
from energy.web import WebSettings, create_app
from tests.ports import free_port

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


@pytest.fixture
def server(site: Site, sqlite_store: Store) -> Iterator[str]:
    seed_users(sqlite_store)
    app = create_app(site, sqlite_store, WebSettings(secret_key=SECRET))
    port = free_port()
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


def _browser(playwright, tmp_path: Path, locale: str):  # type: ignore[no-untyped-def]
    return playwright.chromium.launch_persistent_context(
        str(tmp_path / f"chromium-{locale}"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1600, "height": 1200},
        locale=locale,
    )


_VALUED_SUMMARY = {
    "local_control": {
        "saving_eur": 4.25,
        "plan": {"objective_eur": 12.5},
        "local": {"objective_eur": 16.75},
        "assets": {"house-01.battery": {"saving_eur": 1.5, "shifted_kwh": 6.0}},
    },
    "cost_breakdown": {"import_eur": 14.0, "export_revenue_eur": -1.5},
}


def _store_measurements(store: Store, site: Site, now: dt.datetime) -> None:
    """House 1's PV power now and its battery's state of charge over the last hour."""
    rows = [("house-01.pv", "power_kw", now, 3.4)] + [
        ("house-01.battery", "soc_frac", now - dt.timedelta(minutes=15 * i), 0.5) for i in range(4)
    ]
    frame = pd.DataFrame(rows, columns=["asset_id", "quantity", "time", "value"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["quality"] = int(Quality.GOOD)
    write_measurements(store, site.id, frame)


@dataclass(frozen=True)
class Texts:
    """What an operator reads on the round, in one language."""

    locale: str
    log_in: str
    overview: str
    grid_limits: str
    from_newest_plan: str
    measured: str
    proposed: str
    approved: str
    saving: str
    battery_label: str
    approve_question: str
    override_question: str
    override_in_force: str
    incident_cause: str
    incident_message: str
    acknowledged: str
    password_changed: str
    log_out: str
    change_password: str
    nav_audit: str


GERMAN = Texts(
    locale="de-DE",
    log_in="Anmelden",
    overview="Quartiersübersicht",
    grid_limits="Anschlussgrenzen",
    from_newest_plan="neuesten Plan",
    measured="gemessen",
    proposed="vorgeschlagen",
    approved="freigegeben",
    saving="Der Plan spart 4,25 €",
    battery_label="Haus 1 · Batterie",
    approve_question="freigeben?",
    override_question="Haus 1 · Batterie für 30 min auf 2,5 kW stellen?",
    override_in_force="bis",
    incident_cause="Gerät antwortet nicht",
    incident_message="noch kein Messwert soc_frac: nicht gesteuert",
    acknowledged="quittiert",
    password_changed="Ihr Passwort wurde geändert",
    log_out="Abmelden",
    change_password="Passwort ändern",
    nav_audit="Prüfprotokoll",
)
ENGLISH = Texts(
    locale="en-GB",
    log_in="Log in",
    overview="District overview",
    grid_limits="Connection limits",
    from_newest_plan="newest plan",
    measured="measured",
    proposed="proposed",
    approved="approved",
    saving="The plan saves EUR 4.25",
    battery_label="Haus 1 · Battery",  # the house's name is its own
    approve_question="Approve plan",
    override_question="Override Haus 1 · Battery with 2.5 kW for 30 min?",
    override_in_force="until",
    incident_cause="Device not answering",
    incident_message="no soc_frac measured yet: not controlled",
    acknowledged="acknowledged",
    password_changed="Your password was changed",
    log_out="Log out",
    change_password="Change password",
    nav_audit="Audit log",
)


@pytest.mark.parametrize("texts", [GERMAN, ENGLISH], ids=["de", "en"])
def test_an_operators_full_round(
    texts: Texts, server: str, site: Site, sqlite_store: Store, tmp_path: Path
) -> None:
    """Issue 18's round in one browser: log in, the overview, a house, a plan with its
    explanation and value, approve with the confirmation, override a battery, acknowledge an
    incident, search the audit log, change the password, log out (and in with the new one)."""
    _require_chromium()
    from playwright.sync_api import expect, sync_playwright

    now = pd.Timestamp.now(tz="UTC").to_pydatetime()
    start = pd.Timestamp(now).floor("15min").to_pydatetime()
    plan = make_plan(site, sqlite_store, start=start, slots=96, summary=_VALUED_SUMMARY)
    _store_measurements(sqlite_store, site, now)
    raise_alarm(
        sqlite_store,
        site.id,
        "stale_input",
        "house-02.battery",
        Severity.CRITICAL,
        alarm_text(
            "dispatch.released",
            reason=alarm_text("stale.missing", asset="house-02.battery", quantity="soc_frac"),
        ),
        now,
    )
    new_password = "ein neues langes Passwort"
    questions: list[str] = []
    shot = texts.locale[:2]
    with sync_playwright() as playwright:
        context = _browser(playwright, tmp_path, texts.locale)
        try:
            page = context.new_page()
            page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
            # log in: the landing page is the district overview
            page.goto(f"{server}/")
            expect(page.locator("html")).to_have_attribute("lang", shot)
            expect(page.locator("h1")).to_have_text(texts.log_in)
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_have_text(texts.overview)
            expect(page.locator("#card-house-01 [data-reading=pv] .value")).to_contain_text("3")
            expect(page.locator("#card-grid")).to_contain_text(texts.grid_limits)
            page.screenshot(path=str(ARTIFACTS / f"round-{shot}-overview.png"), full_page=True)

            # a house: its card, its measured past and its planned hours
            page.click("#card-house-01 h3 a")
            expect(page.locator("#plan-source")).to_contain_text(texts.from_newest_plan)
            page.wait_for_selector("#chart-battery-soc .main-svg", timeout=15_000)
            expect(page.locator("#chart-battery-soc .legend")).to_contain_text(texts.measured)
            page.screenshot(path=str(ARTIFACTS / f"round-{shot}-house.png"), full_page=True)

            # the plan: what it does and what it is worth against local control
            page.goto(f"{server}/plans/{plan.id}")
            expect(page.locator("#plan-state")).to_have_text(texts.proposed)
            expect(page.locator("#plan-value")).to_contain_text(texts.saving)
            expect(page.locator("#devices")).to_contain_text(texts.battery_label)
            page.wait_for_selector("#chart-battery-soc .main-svg", timeout=15_000)
            expect(page.locator("#chart-battery-soc .ytitle")).to_have_text("%")
            expect(page.locator("#chart-grid .ytitle")).to_have_text("kW")
            assert page.locator("#chart-prices .xtick").count() >= 6
            page.screenshot(path=str(ARTIFACTS / f"round-{shot}-plan.png"), full_page=True)

            # approve: the browser asks first
            page.fill("input[name=note]", "im Browser geprüft")
            page.click("#approve")
            expect(page.locator("#plan-state")).to_have_text(texts.approved)
            assert texts.approve_question in questions[-1]
            assert str(plan.id) in questions[-1]

            # override a battery for half an hour (asked first), then it is in force
            page.click("nav a[href='/controls']")
            row = page.locator("[id='asset-house-01.battery']")
            row.locator("input[name=value]").fill("2.5")
            row.locator("input[name=duration_minutes]").fill("30")
            row.locator("input[name=reason]").fill("Probe")
            row.locator("form.override button[type=submit]").click()
            expect(row.locator("td.override")).to_contain_text(texts.override_in_force)
            expect(row.locator("td.override")).to_contain_text("operator")
            assert texts.override_question in questions[-1]

            # acknowledge the incident: its cause in words, then acknowledged
            incident = page.locator("table.incidents tbody tr").first
            expect(incident).to_contain_text(texts.incident_cause)
            expect(incident.locator("td.message")).to_contain_text(texts.incident_message)
            expect(incident).to_contain_text("house-02.battery")
            incident.locator("button[type=submit]").click()
            expect(page.locator("table.incidents tbody tr").first).to_contain_text(
                texts.acknowledged
            )
            page.screenshot(path=str(ARTIFACTS / f"round-{shot}-controls.png"), full_page=True)

            # search the audit log
            page.click(f"nav >> text={texts.nav_audit}")
            page.fill("input[name=q]", "override")
            page.press("input[name=q]", "Enter")
            rows = page.locator("#audit tbody tr")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("operator")
            expect(rows.first).to_contain_text("house-01.battery")

            # change the password, log out, log in with the new one
            page.click(f"text={texts.change_password}")
            page.fill("input[name=current]", PASSWORD)
            page.fill("input[name=new]", new_password)
            page.fill("input[name=repeat]", new_password)
            page.click("#change-password")
            expect(page.locator("p.notice")).to_contain_text(texts.password_changed)
            page.click(f"text={texts.log_out}")
            expect(page.locator("h1")).to_have_text(texts.log_in)
            page.fill("input[name=username]", "operator")
            page.fill("input[name=password]", new_password)
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_have_text(texts.overview)
        finally:
            context.close()
    assert get_plan(sqlite_store, plan.id).decided_by == "operator"
    actions = [e["action"] for e in read_audit(sqlite_store, actor="operator", limit=100)]
    for action in (
        "auth.login",
        "plan.approve",
        "override.add",
        "alarm.acknowledge",
        "user.update",
        "auth.logout",
    ):
        assert action in actions


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
