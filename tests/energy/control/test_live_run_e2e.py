"""`kv run --no-simulator` end to end: the simulated district serves the devices (on free ports),
a local replay server answers as Bright Sky (DWD MOSMIX) and the ENTSO-E Transparency Platform do,
and the controller, a separate OS process, plans with exactly the replayed weather and prices."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy.exc import SQLAlchemyError

from connectors.simulated import SimulatedDistrict
from connectors.weather import parse_bright_sky
from energy.control.timing import with_device_watchdogs
from energy.site import Site
from energy.store import Store
from energy.store.alarms import list_alarms
from energy.store.plans import list_plans
from energy.timegrid import slot_grid
from tests.connectors.replay_server import (
    ReplayServer,
    bright_sky_route,
    bright_sky_weather,
    entsoe_route,
)

pytestmark = pytest.mark.slow

KV = Path(sys.executable).parent / "kv"
HORIZON = 16
RESTART_HOLD_S = 2.0


def _temp_c(stamp: pd.Timestamp) -> float:
    return -3.0 + 0.25 * stamp.hour + 0.01 * stamp.day


def _exchange() -> pd.Series:
    now = pd.Timestamp.now(tz="UTC").floor("D")
    index = pd.date_range(now - pd.Timedelta(days=3), now + pd.Timedelta(days=4), freq="15min")
    values = 60.0 + 45.0 * np.sin(np.arange(len(index)) / 11.0)
    values[::13] = -7.5  # negative prices now and then
    return pd.Series(np.round(values, 2), index=index)


def _config(site: Site, path: Path, replay_url: str) -> Path:
    data = site.config.model_dump(mode="json", exclude={"source_path"})
    data["control"].update(
        poll_interval_s=0.5,
        dispatch_interval_s=0.5,
        horizon_slots=HORIZON,
        stale_after_s=5.0,
        lease_ttl_s=3.0,
        restart_hold_s=RESTART_HOLD_S,
    )
    data["weather"]["base_url"] = replay_url
    data["prices"].update(sources=["entsoe"], entsoe_base_url=replay_url)
    path.write_text(yaml.safe_dump({"site": data}, sort_keys=False))
    return path


def _planned(store: Store, site: Site) -> bool:
    try:
        return bool(list_plans(store, site.id, limit=1))
    except SQLAlchemyError:  # the controller has not migrated the store yet
        return False


def test_the_live_loop_plans_with_the_replayed_weather_and_prices(
    tmp_path: Path, site: Site
) -> None:
    url = f"sqlite:///{tmp_path / 'kv.sqlite'}"
    store = Store.from_url(url)
    log = tmp_path / "kv-run.log"
    exchange = _exchange()
    replay = ReplayServer({"/weather": bright_sky_route(_temp_c), "/api": entsoe_route(exchange)})

    async def scenario() -> None:
        # short device watchdogs, so that the short restart hold is valid (it must cover them)
        short = with_device_watchdogs(site, lambda _: RESTART_HOLD_S)
        async with SimulatedDistrict(short, free_ports=True, refresh_s=0.05) as district:
            config = _config(district.site, tmp_path / "site.yaml", replay.url)
            env = {
                **os.environ,
                "KV_SECRET_KEY": "k" * 40,
                "KV_ADMIN_PASSWORD": "a-long-enough-secret",
                "ENTSOE_SECURITY_TOKEN": "replay-token",
            }
            process = subprocess.Popen(
                [
                    str(KV),
                    "run",
                    "--no-simulator",
                    "--no-web",
                    "--config",
                    str(config),
                    "--url",
                    url,
                ],
                stdout=log.open("ab"),
                stderr=subprocess.STDOUT,
                env=env,
            )
            try:
                for _ in range(900):
                    if _planned(store, site):
                        break
                    await asyncio.sleep(0.1)
            finally:
                process.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(process.wait, 30) == 0, log.read_text()[-3000:]

    with replay.running():
        asyncio.run(scenario())
    plans = list_plans(store, site.id, limit=1)
    assert plans, log.read_text()[-3000:]
    plan = plans[0]
    grid = slot_grid(plan.horizon_start, plan.horizon_end)
    assert len(grid) == HORIZON
    summary = plan.summary
    assert summary["weather"]["step"] == "live"
    assert summary["weather"]["source"] == "bright-sky"
    replayed = parse_bright_sky(
        bright_sky_weather(grid[0], grid[-1] + pd.Timedelta(hours=1), _temp_c)
    ).reindex(grid)
    np.testing.assert_allclose(
        summary["inputs"]["temp_outdoor_c"], replayed["temp_outdoor_c"], atol=1e-6
    )
    assert summary["prices"]["source"] == "store"
    assert summary["prices"]["forecast_slots"] == 0
    tariff = site.config.tariff
    expected = (exchange.reindex(grid).to_numpy() / 1000 + tariff.fees_and_levies_eur_per_kwh) * (
        1 + tariff.vat_frac
    )
    np.testing.assert_allclose(summary["inputs"]["price_import_eur_per_kwh"], expected, atol=1e-6)
    paths = {path for path, _ in replay.requests}
    assert paths == {"/weather", "/api"}
    open_codes = {a["code"] for a in list_alarms(store, site.id, open_only=True)}
    assert "weather_fallback" not in open_codes
    assert "prices_missing" not in open_codes
    store.dispose()
