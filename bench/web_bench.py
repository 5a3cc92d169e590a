"""Web benchmark: response times of the operator pages and API on a realistic store.

The default Klimaviertel with an active plan and a proposed successor of `--slots` slots (144:
36 hours; every battery, heat pump, tank, PV and grid quantity, with its comparison with local
control), 24 hours of measurements at one value per minute for every device's power plus battery
SoC and tank temperature, some job runs, on SQLite. Pages are asked for in German.

Two parts: first each request alone through the ASGI app in-process (no network), then the same
requests from N concurrent clients against the app served by uvicorn on 127.0.0.1 (one process,
as `kv run` serves it), for each N of `--concurrency`. Prints median and 95th percentile per
request and the requests per second; asserts nothing.

    .venv/bin/python bench/web_bench.py [--repeat 30] [--slots 144] [--concurrency 1,4,16]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import uvicorn
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


def _plan_values(site: Site, start: pd.Timestamp, level: float, slots: int) -> pd.DataFrame:
    times = pd.date_range(start, periods=slots, freq="15min")
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
                for t, v in zip(times, rng.random(slots), strict=True)
            ]
    for quantity in (
        "import_kw",
        "export_kw",
        "price_import_eur_per_kwh",
        "price_export_eur_per_kwh",
    ):
        rows += [
            ("grid", quantity, t, float(v)) for t, v in zip(times, rng.random(slots), strict=True)
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


def _summary(site: Site) -> dict[str, object]:
    """A plan summary as the planner stores it, with a comparison with local control."""
    assets = {
        a.id: {"saving_eur": 0.4, "shifted_kwh": 3.0}
        for a in site.assets
        if a.kind in (AssetKind.BATTERY, AssetKind.HEAT_PUMP)
    }
    return {
        "cost_breakdown": {"import_eur": 40.0, "export_revenue_eur": -5.0},
        "local_control": {
            "saving_eur": 6.5,
            "plan": {"objective_eur": 35.0},
            "local": {"objective_eur": 41.5},
            "assets": assets,
        },
    }


def _check(path: str, response: httpx.Response) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:200]}")


def _timed(client: TestClient, path: str, repeat: int, headers: dict[str, str]) -> list[float]:
    client.get(path, headers=headers)  # warm-up
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        seconds.append(time.perf_counter() - start)
        _check(path, response)  # type: ignore[arg-type]
    return seconds


def _figures(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{statistics.median(ordered) * 1e3:8.1f} ms {p95 * 1e3:8.1f} ms"


async def _concurrent(
    base: str, path: str, headers: dict[str, str], clients: int, repeat: int
) -> tuple[list[float], float]:
    """`clients` clients asking for `path` `repeat` times each; latencies and wall seconds."""
    seconds: list[float] = []

    async def one_client(client: httpx.AsyncClient) -> None:
        for _ in range(repeat):
            start = time.perf_counter()
            response = await client.get(path)
            seconds.append(time.perf_counter() - start)
            _check(path, response)

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=120
    ) as client:
        await client.get(path)  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*(one_client(client) for _ in range(clients)))
        return seconds, time.perf_counter() - started


def _serve(app: object) -> tuple[str, uvicorn.Server, threading.Thread]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="requests per case and client")
    parser.add_argument("--slots", type=int, default=144, help="slots of each plan")
    parser.add_argument(
        "--concurrency", default="1,4,16", help="comma-separated numbers of concurrent clients"
    )
    args = parser.parse_args()
    levels = [int(n) for n in args.concurrency.split(",") if n.strip()]
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
        horizon = pd.Timedelta(minutes=15 * args.slots)
        for level, start in ((1.0, now - pd.Timedelta(hours=2)), (1.2, now)):
            plans.append(
                save_plan(
                    store,
                    site.id,
                    _plan_values(site, start, level, args.slots),
                    created_at=start.to_pydatetime(),
                    horizon_start=start.to_pydatetime(),
                    horizon_end=(start + horizon).to_pydatetime(),
                    slot_minutes=15,
                    solver_status="optimal",
                    summary=_summary(site),
                )
            )
            if len(plans) == 1:  # the running plan, before its successor is proposed
                decide_plan(store, plans[0].id, True, "bench", now.to_pydatetime())
                activate_plan(store, plans[0].id, now.to_pydatetime())
        for job in ("forecast", "optimize", "dispatch"):
            run = start_job_run(store, site.id, job, "bench", now.to_pydatetime())
            finish_job_run(store, run, "ok", now.to_pydatetime() + dt.timedelta(seconds=2))
        create_user(store, "bench", PASSWORD, Role.OPERATOR, "bench", now.to_pydatetime())
        token, _ = create_token(store, "bench", "bench", "bench", now.to_pydatetime())
        print(
            f"store: {len(frame):,} measurements, 2 plans of {args.slots} slots, "
            f"{len(_plan_values(site, now, 1.0, args.slots)):,} values each "
            f"(set-up {time.perf_counter() - started:.1f} s)"
        )

        app = create_app(site, store, WebSettings(secret_key="b" * 40))
        client = TestClient(app, headers={"Accept-Language": "de"})
        page = client.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf is not None
        client.post(
            "/login", data={"username": "bench", "password": PASSWORD, "csrf_token": csrf[1]}
        )
        bearer = {"Authorization": f"Bearer {token}", "Accept-Language": "de"}
        proposed = plans[1].id
        cases = [
            ("page  /plans/{id} (charts, story, diff)", f"/plans/{proposed}"),
            ("page  /status", "/status"),
            ("page  /audit", "/audit"),
            ("page  /api/docs", "/api/docs"),
            ("api   /api/status", "/api/status"),
            ("api   /api/plans/{id}/values", f"/api/plans/{proposed}/values"),
            ("api   /api/plans/{id}/diff", f"/api/plans/{proposed}/diff"),
            ("api   /api/measurements/latest", "/api/measurements/latest"),
        ]
        print(f"\nin-process, one at a time (n={args.repeat})")
        print(f"{'request':<42} {'median':>11} {'p95':>11}")
        for name, path in cases:
            headers = bearer if name.startswith("api") else {}
            print(f"{name:<42} {_figures(_timed(client, path, args.repeat, headers))}")

        base, server, thread = _serve(app)
        try:
            for clients in levels:
                print(f"\nuvicorn on 127.0.0.1, {clients} concurrent clients x {args.repeat}")
                print(f"{'request':<42} {'median':>11} {'p95':>11} {'req/s':>8}")
                for name, path in cases:
                    # pages and API alike with the token: the session cookie is the TestClient's
                    seconds, wall = asyncio.run(
                        _concurrent(base, path, bearer, clients, args.repeat)
                    )
                    print(f"{name:<42} {_figures(seconds)} {len(seconds) / wall:8.1f}")
        finally:
            server.should_exit = True
            thread.join(timeout=10)
        store.dispose()


if __name__ == "__main__":
    main()
