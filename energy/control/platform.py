"""The whole platform in one process, as `kv run` starts it.

    options = PlatformOptions(speed=120)
    asyncio.run(run_platform(site, store, options, stop_event))

In order: the store is migrated and the site registered; the simulated Klimaviertel starts
serving its devices over Modbus TCP on the configured ports (unless `simulator` is off: real
devices); the first operator account is created when there is none; the control loop
(energy.control.runtime) starts; the web interface is served on uvicorn in a thread. A status
line is logged periodically. Under systemd the service manager is told when the platform is ready
and, with a watchdog, that its event loop is alive (energy.control.systemd). On stop: the control
loop releases every device to local mode and gives the site lease up, then the web server and the
simulated district stop.

Accelerated (`speed` > 1): the district's clock runs `speed` simulated seconds per wall second and
the platform's clock follows it (ScaledClock anchored on one reading of the district's clock); the
device watchdogs are lengthened for the scaled dispatch rate (energy.control.timing).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from connectors.simulated import SimulatedDistrict
from energy.control.clock import Clock, ScaledClock, WallClock
from energy.control.prices import DayAheadPrices
from energy.control.runtime import ControlRuntime, reference_year_weather
from energy.control.systemd import ServiceNotifier, watchdog_pings
from energy.control.timing import LoopTiming, accelerated_site
from energy.datahub.jobs import build_hub_jobs
from energy.site import Site
from energy.store.alarms import list_alarms
from energy.store.consent import audit_consent_changes
from energy.store.engine import Store
from energy.store.plans import active_plan
from energy.store.sites import sync_site
from energy.timegrid import SLOT
from energy.weather import WeatherActuals, WeatherFeed

__all__ = ["PlatformOptions", "bootstrap_admin", "run_platform", "web_lines"]

log = logging.getLogger(__name__)

ADMIN_NAME = "admin"


@dataclass(frozen=True)
class PlatformOptions:
    simulator: bool = True
    speed: float = 1.0
    start: dt.datetime | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    web: bool = True
    seed: int = 0
    status_every_s: float = 30.0
    free_ports: bool = False
    """serve the simulated devices on free ports instead of the configured ones (tests)"""
    echo: Callable[[str], None] = field(default=print, repr=False)
    on_started: Callable[[ControlRuntime], None] | None = field(default=None, repr=False)
    """called with the control runtime once everything runs (tests observe it)"""
    on_district: Callable[[SimulatedDistrict], None] | None = field(default=None, repr=False)
    """called with the simulated district once everything runs (tests inject faults into it)"""


def bootstrap_admin(store: Store, now: dt.datetime) -> tuple[str, str | None] | None:
    """With no user at all, create `admin` (password from KV_ADMIN_PASSWORD, else random).

    Returns (name, password shown once) when it created the account; the password is None when
    it came from the environment. The creation is audited by energy.store.users.
    """
    from energy.store.users import Role, create_user, list_users

    if list_users(store):
        return None
    given = os.environ.get("KV_ADMIN_PASSWORD")
    password = given or secrets.token_urlsafe(12)
    create_user(store, ADMIN_NAME, password, Role.ADMIN, "system:kv-run", now)
    return ADMIN_NAME, None if given else password


class _WebThread:
    """uvicorn in a thread of its own (its own event loop; no signal handlers there)."""

    def __init__(
        self,
        site: Site,
        store: Store,
        clock: Clock,
        host: str,
        port: int,
        outage: Callable[[], str | None],
        stale_after_s: float,
    ):
        import uvicorn

        from energy.web import WebSettings, create_app
        from energy.web.proxies import uvicorn_proxy_options

        # the status page calls a polled value late when the dispatch loop would (LoopTiming)
        settings = WebSettings(clock=clock.now, store_outage=outage, stale_after_s=stale_after_s)
        app = create_app(site, store, settings)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            **uvicorn_proxy_options(site),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    def start(self, timeout_s: float = 15.0) -> None:
        self.thread.start()
        waited = 0.0
        while not self.server.started and self.thread.is_alive() and waited < timeout_s:
            threading.Event().wait(0.05)
            waited += 0.05
        if not self.server.started:
            config = self.server.config
            raise OSError(f"web interface: could not listen on {config.host}:{config.port}")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10.0)


async def run_platform(
    site: Site,
    store: Store,
    options: PlatformOptions,
    stop: asyncio.Event,
    weather: WeatherFeed | None = None,
    prices: DayAheadPrices | None = None,
) -> None:
    """Run everything until `stop` is set (see module docstring). weather: the planner's
    weather feed (the live fallback chain); None: the simulator's reference-year weather.
    prices: the live day-ahead prices; None: the tariff's price file."""
    echo = options.echo
    if not options.simulator and options.speed != 1.0:
        raise ValueError("--speed needs the simulated district: real devices run in real time")
    echo(f"store: {store.url} ({store.dialect}); migrating ...")
    await asyncio.to_thread(store.upgrade)
    district: SimulatedDistrict | None = None
    clock: Clock = WallClock()
    if options.simulator:
        site = accelerated_site(site, options.speed)
        echo(f"simulated district: preparing the physics (speed {options.speed:g}x) ...")
        district = await asyncio.to_thread(
            SimulatedDistrict,
            site,
            speed=options.speed,
            start=options.start,
            seed=options.seed,
            free_ports=options.free_ports,
        )
        await district.start()
        clock = ScaledClock(district.clock().to_pydatetime(warn=False), options.speed)
        site = district.site
    await asyncio.to_thread(sync_site, store, site)
    await asyncio.to_thread(audit_consent_changes, store, site, clock.now())
    created = await asyncio.to_thread(bootstrap_admin, store, clock.now())
    timing = LoopTiming.for_site(site, clock.speed)
    weather_actuals: WeatherActuals | None = None
    if weather is None:
        weather, weather_actuals = reference_year_weather(site)
    feed = weather
    hub_jobs = build_hub_jobs(
        site,
        store,
        timing.site_seconds(timing.poll_wall_s),
        clock.now(),
        lambda issue, slots: feed.forecast(issue, slots * SLOT),
    )
    runtime = ControlRuntime(
        site,
        store,
        clock=clock,
        timing=timing,
        weather=weather,
        weather_actuals=weather_actuals,
        prices=prices,
        hub_jobs=hub_jobs,
    )
    web: _WebThread | None = None
    notifier = ServiceNotifier.from_environment()
    pings: asyncio.Task[None] | None = None
    try:
        await runtime.start()
        if options.web:
            web = _WebThread(
                site,
                store,
                clock,
                options.host,
                options.port,
                runtime.outage_note,
                timing.stale_after_s,
            )
            await asyncio.to_thread(web.start)
        _print_where(echo, site, store, options, district, runtime, created)
        notifier.ready(f"controlling {site.id}")
        pings = asyncio.create_task(watchdog_pings(notifier, stop))
        if options.on_started is not None:
            options.on_started(runtime)
        if options.on_district is not None and district is not None:
            options.on_district(district)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=options.status_every_s)
            log.info("%s", await asyncio.to_thread(_status, site, store, clock, district, runtime))
    finally:
        notifier.stopping()
        if pings is not None:
            pings.cancel()
        echo("stopping: releasing every device to local mode ...")
        problems = await runtime.stop("kv run stopped")
        if problems:
            echo(f"release failed for {sorted(problems)}: their watchdogs release them")
        if web is not None:
            await asyncio.to_thread(web.stop)
        if district is not None:
            await district.stop()
        echo("stopped: devices released, lease given up")


def web_lines(host: str, port: int) -> list[str]:
    """Where an operator starts (the district overview, the console's landing page) and where the
    API is documented."""
    return [
        f"  web interface: http://{host}:{port}/overview",
        f"  REST API:      http://{host}:{port}/api/docs",
    ]


def _print_where(
    echo: Callable[[str], None],
    site: Site,
    store: Store,
    options: PlatformOptions,
    district: SimulatedDistrict | None,
    runtime: ControlRuntime,
    created: tuple[str, str | None] | None,
) -> None:
    lines = [f"Klimaviertel platform for {site.config.name} ({site.id}) is running."]
    if options.web:
        lines += web_lines(options.host, options.port)
    lines.append(f"  store:         {store.url}")
    if created is not None:
        name, password = created
        shown = password if password is not None else "(from KV_ADMIN_PASSWORD)"
        lines.append(
            f"  first account: {name} / {shown}   <- shown once; change it at /account/password"
        )
    if district is not None:
        ports = sorted({d.port for d in district.devices})
        lines.append(
            f"  devices:       simulated, {len(district.devices)} Modbus TCP devices on "
            f"{district.devices[0].host} ports {ports[0]}-{ports[-1]}, speed {district.speed:g}x, "
            f"start {district.start_time.isoformat()}"
        )
    else:
        lines.append(f"  devices:       real, {len(list(site.devices()))} Modbus devices")
    t = runtime.timing
    lines.append(
        f"  control:       instance {runtime.instance}; poll {t.poll_wall_s:g} s, dispatch "
        f"{t.dispatch_wall_s:g} s (wall); first writes after the restart hold of "
        f"{t.restart_hold_s:g} s (site clock)"
    )
    lines.append("  stop with Ctrl-C (devices are released to local mode)")
    echo("\n".join(lines))


def _status(
    site: Site,
    store: Store,
    clock: Clock,
    district: SimulatedDistrict | None,
    runtime: ControlRuntime,
) -> str:
    """The periodic status line; never raises for the store (an outage is part of the status)."""
    now = clock.now()
    parts = [f"site clock {now.strftime('%Y-%m-%d %H:%M:%S')}Z"]
    try:
        plan = active_plan(store, site.id, now)
        alarms = list_alarms(store, site.id)
        parts += [
            f"plan v{plan.version}" if plan else "no active plan",
            f"{len(alarms)} open alarm(s)",
        ]
    except SQLAlchemyError as exc:
        runtime.runner.note_outage("status", f"{type(exc).__name__}: {exc}")
    outage = runtime.outage_note()
    if outage is not None:
        parts.append(outage)
    if district is not None:
        parts.append(district.status())
    return "; ".join(parts)
