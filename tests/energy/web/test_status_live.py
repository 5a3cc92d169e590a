"""The status page against the running platform: a healthy simulated district at night is green,
and a device taken down turns it red with one incident.

The platform runs as `kv run` runs it (simulated Klimaviertel over Modbus TCP, control loop, web
interface) at an accelerated clock; the test reads /api/status, the data of the /status page, with
an API token. Waits are bounded in wall seconds only to end a hung run; what is asserted is what
the page says, and when, in the site's (simulated) time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.simulated import DeviceFaults, SimulatedDistrict
from energy.control.platform import PlatformOptions, run_platform
from energy.control.runtime import ControlRuntime
from energy.site import Site
from energy.store import Store
from energy.store.users import Role, create_token, create_user
from tests.ports import free_port

pytestmark = pytest.mark.slow

START = dt.datetime(2026, 12, 6, 0, 29, tzinfo=dt.UTC)  # night: every inverter asleep
SPEED = 4.0  # the first plan takes wall seconds to solve: at 4x, well inside two site minutes
GREEN_WITHIN = dt.timedelta(minutes=2)
STAYS_GREEN_FOR = dt.timedelta(minutes=3)  # past 00:30, when the first slot is derived
DOWN = "house-01.battery"
HUNG_S = 180.0


def _not_ok(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (light["name"], light["level"], light["text"])
        for light in report["lights"]
        if light["level"] not in ("ok", "info")
    ]


def _device(report: dict[str, Any], asset_id: str) -> dict[str, Any]:
    light = next(x for x in report["lights"] if x["name"] == "Device communication")
    return next(r for r in light["rows"] if r["asset_id"] == asset_id)


def test_a_healthy_district_is_green_and_a_device_down_is_one_red_incident(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KV_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("KV_ADMIN_PASSWORD", "a-long-enough-secret")
    monkeypatch.setenv("KV_DATA_DIR", str(tmp_path / "data"))
    store = Store.from_url(f"sqlite:///{tmp_path / 'kv.sqlite'}")
    store.upgrade()
    create_user(store, "viewer", "a-long-enough-secret", Role.VIEWER, "test", START)
    token, _ = create_token(store, "viewer", "status", "test", START)
    port = free_port()
    runtimes: list[ControlRuntime] = []
    districts: list[SimulatedDistrict] = []
    options = PlatformOptions(
        speed=SPEED,
        start=START,
        port=port,
        free_ports=True,
        echo=lambda _: None,
        on_started=runtimes.append,
        on_district=districts.append,
    )

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_platform(site, store, options, stop))
        loop = asyncio.get_running_loop()
        try:
            while not (runtimes and districts):
                assert not task.done(), "the platform stopped while starting"
                await asyncio.sleep(0.1)
            runtime, district = runtimes[0], districts[0]
            started = runtime.clock.now()
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30
            ) as client:

                async def status() -> dict[str, Any]:
                    response = await client.get("/api/status")
                    assert response.status_code == 200, response.text
                    return dict(response.json())

                deadline = loop.time() + HUNG_S
                report = await status()
                before_green = [(report["time"], _not_ok(report))]
                while report["overall"] != "ok":
                    assert loop.time() < deadline, before_green
                    await asyncio.sleep(0.2)
                    report = await status()
                    before_green.append((report["time"], _not_ok(report)))
                green_at = dt.datetime.fromisoformat(report["time"])
                assert green_at - started <= GREEN_WITHIN, (started, before_green)

                while dt.datetime.fromisoformat(report["time"]) < green_at + STAYS_GREEN_FOR:
                    assert loop.time() < deadline + HUNG_S, "the site clock does not advance"
                    await asyncio.sleep(0.2)
                    report = await status()
                    assert report["overall"] == "ok", (report["time"], _not_ok(report))
                freshness = next(x for x in report["lights"] if x["name"] == "Data freshness")
                assert any(r["cadence"] == "per slot" for r in freshness["rows"])
                pv = _device(report, "house-01.pv")
                assert pv["level"] in ("ok", "info")
                page = await client.get("/status")
                assert page.status_code == 200
                assert "Dauer [s, Echtzeit]" in page.text  # German: no Accept-Language sent

                district.set_faults(DOWN, DeviceFaults(no_response_probability=1.0))
                deadline = loop.time() + HUNG_S
                while _device(report, DOWN)["level"] != "bad" or len(report["incidents"]) != 1:
                    assert loop.time() < deadline, (_device(report, DOWN), report["incidents"])
                    await asyncio.sleep(0.2)
                    report = await status()
                assert report["overall"] == "bad"
                (incident,) = report["incidents"]
                assert incident["sources"] == [DOWN]
                others = [r for r in _rows(report) if r["asset_id"] != DOWN]
                assert all(r["level"] != "bad" for r in others), others
                first_count = incident["count"]

                seen = dt.datetime.fromisoformat(report["time"])
                while dt.datetime.fromisoformat(report["time"]) < seen + dt.timedelta(minutes=1):
                    assert loop.time() < deadline + HUNG_S, "the site clock does not advance"
                    await asyncio.sleep(0.2)
                    report = await status()
                (incident,) = report["incidents"]  # still one incident, not one per poll
                assert incident["sources"] == [DOWN]
                assert incident["count"] > first_count
                assert "stale_input" in incident["codes"]  # with write_failed: one fault
                assert len([a for a in report["alarms"] if a["source"] == DOWN]) <= 2
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)

    asyncio.run(scenario())
    store.dispose()


def _rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    light = next(x for x in report["lights"] if x["name"] == "Device communication")
    return list(light["rows"])
