"""Web benchmark: response times of the operator pages and API on a realistic store.

The default Klimaviertel with a day-long (96-slot) active plan and a proposed successor (every
battery, heat pump, tank, PV and grid quantity), 24 hours of measurements at one value per minute for
every device's power plus battery SoC and tank temperature, some job runs and alarms, on SQLite.
Requests go through the ASGI app in-process (no network), authenticated with an API token or a
session. Prints median and 95th percentile per request; asserts nothing.

    .venv/bin/python bench/web_bench.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

import energy.store.users
from energy.quality import Quality
from energy.site import AssetKind, Site, load_site
from energy.store import Store
from energy.store.jobs import finish_job_run, start_job_run
from energy.store.measurements import write_measurements
from energy.store.plans import activate_plan, decide_plan, save_plan
from energy.store.sites import sync_site
from energy.store.users import Role, create_token, create_user
from energy.web import WebSettings, create_app

PASSWORD = "benchmark password"


def _plan_values(site: Site, start: pd.Timestamp, level: float) -> pd.DataFrame:
    times = pd.date_range(start, periods=96, freq="15min")
    rng = np.random.default_rng(int(level * 10))
    rows = []
    for asset in site.assets:
        quantities = {
            AssetKind.BATTERY: ("power_kw", "soc_frac"),
            AssetKind.HEAT_PUMP: ("power_kw", "heat_kw"),
            AssetKind.TANK: ("tank_temp_c",),
            AssetKind.PV: ("pv_kw", "pv_curtailed_kw"),
        }.get(asset.kind, ())
        for quantity in quantities:
            rows += [
                (asset.id, quantity, t, level * float(v))
                for t, v in zip(times, rng.random(96), strict=True)
            ]
    for quantity in (
        "import_kw",
        "export_kw",
        "price_import_eur_per_kwh",
        "price_export_eur_per_kwh",
    ):
        rows += [
            ("grid", quantity, t, float(v)) for t, v in zip(times, rng.random(96), strict=True)
        ]
    return pd.DataFrame(rows, columns=["asset_id", "quantity", "slot_start", "value"])


def _measurements(site: Site, end: pd.Timestamp) -> pd.DataFrame:
    times = pd.date_range(end - pd.Timedelta(hours=24), end, freq="1min", inclusive="left")
    keys = [(a.id, "power_kw") for a in site.devices()]
    keys += [(a.id, "soc_frac") for a in site.of_kind(AssetKind.BATTERY)]
    keys += [(a.id, "tank_temp_c") for a in site.of_kind(AssetKind.TANK)]
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "asset_id": np.repeat([k[0] for k in keys], len(times)),
            "quantity": np.repeat([k[1] for k in keys], len(times)),
            "time": np.tile(times, len(keys)),
            "value": rng.random(len(keys) * len(times)),
            "quality": int(Quality.GOOD),
        }
    )


def _timed(client: TestClient, path: str, repeat: int, headers: dict[str, str]) -> list[float]:
    client.get(path, headers=headers)  # warm-up
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        seconds.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:200]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    # argon2 at its real cost would only slow the set-up; logins are not what is measured here
    energy.store.users._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

    site = load_site()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.from_url(f"sqlite:///{Path(tmp) / 'bench.sqlite'}")
        store.upgrade()
        sync_site(store, site)
        now = pd.Timestamp.now(tz="UTC").floor("15min")
        started = time.perf_counter()
        frame = _measurements(site, now)
        write_measurements(store, site.id, frame)
        plans = []
        for level, start in ((1.0, now - pd.Timedelta(hours=2)), (1.2, now)):
            plans.append(
                save_plan(
                    store,
                    site.id,
                    _plan_values(site, start, level),
                    created_at=start.to_pydatetime(),
                    horizon_start=start.to_pydatetime(),
                    horizon_end=(start + pd.Timedelta(hours=24)).to_pydatetime(),
                    slot_minutes=15,
                    solver_status="optimal",
                    summary={"cost_breakdown": {"import": 40.0, "feed_in": -5.0}},
                )
            )
        decide_plan(store, plans[0].id, True, "bench", now.to_pydatetime())
        activate_plan(store, plans[0].id, now.to_pydatetime())
        for job in ("forecast", "optimize", "dispatch"):
            run = start_job_run(store, site.id, job, "bench", now.to_pydatetime())
            finish_job_run(store, run, "ok", now.to_pydatetime() + dt.timedelta(seconds=2))
        create_user(store, "bench", PASSWORD, Role.OPERATOR, "bench", now.to_pydatetime())
        token, _ = create_token(store, "bench", "bench", "bench", now.to_pydatetime())
        print(
            f"store: {len(frame):,} measurements, 2 plans of "
            f"{len(_plan_values(site, now, 1.0)):,} values each "
            f"(set-up {time.perf_counter() - started:.1f} s)"
        )

        app = create_app(site, store, WebSettings(secret_key="b" * 40))
        client = TestClient(app)
        page = client.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf is not None
        client.post(
            "/login", data={"username": "bench", "password": PASSWORD, "csrf_token": csrf[1]}
        )
        bearer = {"Authorization": f"Bearer {token}"}
        proposed = plans[1].id
        cases = [
            ("page  /plans/{id} (7 charts, diff)", f"/plans/{proposed}", {}),
            ("page  /status", "/status", {}),
            ("page  /audit", "/audit", {}),
            ("api   /api/status", "/api/status", bearer),
            ("api   /api/plans/{id}/values", f"/api/plans/{proposed}/values", bearer),
            ("api   /api/plans/{id}/diff", f"/api/plans/{proposed}/diff", bearer),
            ("api   /api/measurements/latest", "/api/measurements/latest", bearer),
            ("api   /api/plans", "/api/plans", bearer),
        ]
        print(f"{'request':<40} {'median':>9} {'p95':>9}  (n={args.repeat})")
        for name, path, headers in cases:
            seconds = sorted(_timed(client, path, args.repeat, headers))
            p95 = seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))]
            print(f"{name:<40} {statistics.median(seconds) * 1e3:7.1f} ms {p95 * 1e3:7.1f} ms")
        store.dispose()


if __name__ == "__main__":
    main()
