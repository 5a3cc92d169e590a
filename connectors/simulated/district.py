"""The simulated Klimaviertel served over Modbus TCP: one server per device endpoint of a site.

``SimulatedDistrict`` runs the district physics (``energy.physics.DistrictSimulator``) on a clock
(real time, or ``speed`` simulated seconds per wall second), refreshes every device's registers
from the physics snapshot a few times per wall second, and turns client writes into physics
commands. Devices sharing host and port (a gateway) are served by one server under their unit ids.

Async use::

    async with SimulatedDistrict(site, speed=60, start=t0, free_ports=True) as district:
        for d in district.devices: ...            # asset id, host, port, unit id, register map
        district.site                              # the site with the ports actually served

From synchronous code (a control loop, a test) ``DistrictThread`` runs the same in a background
thread with ``start()`` / ``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from connectors.modbus_server import ModbusTcpServer
from connectors.registermap import DataType, RegisterMap, load_register_map
from connectors.simulated.bridge import DistrictPhysics, apply_write, held_points, point_values
from connectors.simulated.device import SimulatedDevice
from connectors.simulated.faults import DeviceFaults, FaultPlan, device_rng, request_hook
from connectors.sunspec_models import sunspec_image
from energy.config import CONTROL_BOX_ID, DeviceEndpoint, SiteConfig
from energy.site import Asset, AssetKind, Site
from energy.timegrid import as_utc

__all__ = ["DistrictThread", "ServedDevice", "SimulatedDistrict"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedDevice:
    """Where one simulated device answers."""

    asset_id: str
    kind: str
    host: str
    port: int
    unit_id: int
    register_map: str
    framing: str = "tcp"  # "rtu": RTU frames over TCP, reached at socket://host:port


PhysicsFactory = Callable[[Site, dt.datetime, int], DistrictPhysics]


def _default_physics(site: Site, start: dt.datetime, seed: int) -> DistrictPhysics:
    # Imported here: the physics pulls in pvlib and demandlib, which callers that only use
    # a ready physics object (or only the device classes) should not pay for.
    from energy.physics.district import DistrictSimulator

    return DistrictSimulator(site, start, seed=seed)


class SimulatedDistrict:
    """The district's devices as Modbus TCP servers backed by the physics.

    site: the district (its device endpoints say where each device listens).
    speed: simulated seconds per wall second (1 = real time).
    start: simulated UTC start time (default: the given physics' time, else now floored to
    the minute).
    seed: physics profile seed; faults: a fault plan (its own seed drives random faults).
    free_ports: serve on free ports chosen by the OS instead of the configured ones (tests);
    ``site`` then carries the actual ports. host: serve on this address instead of the
    configured hosts. unknown_unit: a request for a unit id nobody serves answers exception 4
    ("exception") or nothing ("silent"), as gateways differ. refresh_s: wall seconds between
    register refreshes.
    physics: a ready physics object (default: a new DistrictSimulator at ``start``).
    """

    def __init__(
        self,
        site: Site,
        *,
        speed: float = 1.0,
        start: dt.datetime | None = None,
        seed: int = 0,
        faults: FaultPlan | None = None,
        free_ports: bool = False,
        host: str | None = None,
        unknown_unit: Literal["exception", "silent"] = "exception",
        refresh_s: float = 0.1,
        physics: DistrictPhysics | None = None,
        physics_factory: PhysicsFactory = _default_physics,
    ):
        if not speed > 0:
            raise ValueError(f"speed must be positive; found {speed}")
        if not refresh_s > 0:
            raise ValueError(f"refresh_s must be positive; found {refresh_s}")
        self._configured_site = site
        self.speed = float(speed)
        if start is None:
            start = (
                pd.Timestamp(physics.now).to_pydatetime()
                if physics is not None
                else dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
            )
        self.start_time = as_utc(start)
        self.seed = seed
        self.fault_plan = faults or FaultPlan()
        self.free_ports = free_ports
        self.host_override = host
        self.unknown_unit = unknown_unit
        self.refresh_s = refresh_s
        self._assets = [a for a in site.devices() if a.device is not None]
        self._io_modules = _io_modules(site)
        served_ids = [a.id for a in self._assets] + list(self._io_modules)
        unknown = sorted(set(self.fault_plan.devices) - set(served_ids))
        if unknown:
            known = ", ".join(served_ids)
            raise ValueError(f"fault plan names unknown devices {unknown}; known: {known}")
        self._maps: dict[str, RegisterMap] = {}
        self.simulated: dict[str, SimulatedDevice] = {}
        for asset in self._assets:
            endpoint = _endpoint(asset)
            register_map = load_register_map(endpoint.register_map, device=asset.id)
            self._maps[asset.id] = register_map
            device = SimulatedDevice(
                asset.id,
                register_map,
                fixed_holding=_fixed_image(asset, register_map, endpoint),
                on_write=self._write_handler(asset, endpoint),
            )
            device.set_faults(self.fault_plan.devices.get(asset.id, DeviceFaults()))
            device.rng = device_rng(self.fault_plan.seed, asset.id)
            _initialise_held(device, endpoint)
            self.simulated[asset.id] = device
        for io_id, endpoint in self._io_modules.items():
            register_map = load_register_map(endpoint.register_map, device=io_id)
            self._maps[io_id] = register_map
            device = SimulatedDevice(io_id, register_map)
            device.set_faults(self.fault_plan.devices.get(io_id, DeviceFaults()))
            device.rng = device_rng(self.fault_plan.seed, io_id)
            device.update(_io_defaults(register_map))
            self.simulated[io_id] = device
        self.physics: DistrictPhysics = physics or physics_factory(site, self.start_time, seed)
        self._servers: list[ModbusTcpServer] = []
        self._served: list[ServedDevice] = []
        self._site = site
        self._task: asyncio.Task[None] | None = None
        self._wall_start = 0.0
        self._paused_at: pd.Timestamp | None = None

    # ------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Bind every server, take the first snapshot and start the clock."""
        groups: dict[tuple[str, int, str], list[tuple[str, str, DeviceEndpoint]]] = {}
        endpoints = [(a.id, a.kind.value, _endpoint(a)) for a in self._assets]
        endpoints += [(i, "io_module", e) for i, e in self._io_modules.items()]
        for asset_id, kind, endpoint in endpoints:
            where = _listen_address(endpoint)
            if where is None:
                logger.warning(
                    "%s: only Modbus TCP and RTU over a socket:// URL are simulated; %s is not "
                    "served",
                    asset_id,
                    endpoint.serial_port,
                )
                continue
            host, port, framing = where
            groups.setdefault((self.host_override or host, port, framing), []).append(
                (asset_id, kind, endpoint)
            )
        updates: dict[str, dict[str, Any]] = {}
        try:
            for (host, port, framing), members in groups.items():
                units = {e.unit_id: self.simulated[i] for i, _, e in members}
                server = ModbusTcpServer(
                    host,
                    0 if self.free_ports else port,
                    units,
                    unknown_unit=self.unknown_unit,
                    hook=request_hook(units),
                    name=", ".join(i for i, _, _ in members),
                    framing="rtu" if framing == "rtu" else "tcp",
                )
                await server.start()
                self._servers.append(server)
                for asset_id, kind, endpoint in members:
                    if framing == "rtu":
                        updates[asset_id] = {"serial_port": f"socket://{host}:{server.port}"}
                    else:
                        updates[asset_id] = {"host": host, "port": server.port}
                    self._served.append(
                        ServedDevice(
                            asset_id,
                            kind,
                            host,
                            server.port,
                            endpoint.unit_id,
                            endpoint.register_map,
                            framing,
                        )
                    )
        except OSError:
            await self.stop()
            raise
        self._site = Site.from_config(_moved(self._configured_site.config, updates))
        self.refresh()
        self._wall_start = asyncio.get_running_loop().time()
        self._task = asyncio.create_task(self._run(), name="simulated-district")
        logger.info(
            "simulated district %s: %d devices on %d servers, speed %g, start %s",
            self._site.id,
            len(self._served),
            len(self._servers),
            self.speed,
            self.start_time.isoformat(),
        )

    async def stop(self) -> None:
        """Stop the clock and close every server and connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for server in self._servers:
            await server.stop()
        self._servers = []

    async def __aenter__(self) -> SimulatedDistrict:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ------------------------------------------------------------- running

    @property
    def site(self) -> Site:
        """The site as served (ports are the actual ones when free_ports is set)."""
        return self._site

    @property
    def devices(self) -> list[ServedDevice]:
        return list(self._served)

    def served(self, asset_id: str) -> ServedDevice:
        for d in self._served:
            if d.asset_id == asset_id:
                return d
        raise KeyError(
            f"no served device {asset_id!r}; known: {[d.asset_id for d in self._served]}"
        )

    def device(self, asset_id: str) -> SimulatedDevice:
        return self.simulated[asset_id]

    def register_map(self, asset_id: str) -> RegisterMap:
        return self._maps[asset_id]

    def clock(self) -> pd.Timestamp:
        """Simulated time the clock has reached (the physics follows at the next refresh)."""
        if self._paused_at is not None:
            return self._paused_at
        if self._task is None:
            return pd.Timestamp(self.start_time)
        elapsed = asyncio.get_running_loop().time() - self._wall_start
        return pd.Timestamp(self.start_time) + pd.Timedelta(seconds=elapsed * self.speed)

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> None:
        """Stop the clock: the physics and the registers keep their values until resume()."""
        if self._paused_at is None:
            self._paused_at = self.clock()

    def resume(self) -> None:
        """Restart the clock where it stopped."""
        if self._paused_at is None:
            return
        elapsed_s = (self._paused_at - pd.Timestamp(self.start_time)).total_seconds()
        self._wall_start = asyncio.get_running_loop().time() - elapsed_s / self.speed
        self._paused_at = None

    def set_faults(self, asset_id: str, faults: DeviceFaults | None) -> None:
        """Replace one device's faults now (None = healthy)."""
        self.simulated[asset_id].set_faults(faults or DeviceFaults())

    def switch_inputs(self, values: Mapping[str, bool], io_id: str = CONTROL_BOX_ID) -> None:
        """Switch digital inputs of a simulated I/O module (point name -> closed), as the
        control box's relays would; a fault plan's `values` for the module still win."""
        if io_id not in self._io_modules:
            raise KeyError(f"no simulated I/O module {io_id!r}; known: {list(self._io_modules)}")
        device = self.simulated[io_id]
        unknown = sorted(set(values) - set(device.register_map.by_name))
        if unknown:
            raise ValueError(f"{io_id}: unknown points {unknown}")
        device.update({name: bool(v) for name, v in values.items()})

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            if self.paused:
                continue
            try:
                self.tick()
            except Exception:
                logger.exception("simulated district: refresh failed; continuing")

    def tick(self) -> None:
        """Advance the physics to the clock and refresh every device's registers."""
        target = self.clock()
        if target > self.physics.now:
            self.physics.advance_to(target)
        self.refresh()

    def refresh(self) -> None:
        """Re-encode every device's registers from the current physics snapshot."""
        snapshot = self.physics.snapshot()
        for asset in self._assets:
            device = self.simulated[asset.id]
            device.update(point_values(asset, device.register_map, snapshot))
        for io_id in self._io_modules:  # no physics: a fault plan's values are re-applied
            self.simulated[io_id].update({})

    def status(self) -> str:
        """One line: simulated time, grid power, PV, mean SoC, heat pumps, requests served."""
        snap = self.physics.snapshot()
        grid_meters = [
            a.id for a in self._assets if a.kind is AssetKind.GRID_METER and a.id in snap.meters
        ]
        grid = sum(snap.meters[a].power_kw for a in grid_meters) if grid_meters else float("nan")
        pv = sum(p.power_kw for p in snap.pv.values())
        socs = [b.soc_frac for b in snap.batteries.values()]
        hp = sum(h.electric_power_kw for h in snap.heat_pumps.values())
        remote = sum(1 for b in snap.batteries.values() if str(b.mode) == "remote")
        requests = sum(s.requests_served for s in self._servers)
        mean_soc = 100 * sum(socs) / len(socs) if socs else float("nan")
        return (
            f"{pd.Timestamp(snap.time).strftime('%Y-%m-%d %H:%M:%S')}Z grid {grid:+.1f} kW, "
            f"PV {pv:.1f} kW, heat pumps {hp:.1f} kW, mean SoC {mean_soc:.0f} %, "
            f"remote batteries {remote}, requests {requests}"
        )

    def _write_handler(self, asset: Asset, endpoint: DeviceEndpoint) -> Any:
        def on_write(device: SimulatedDevice, written: dict[str, Any]) -> None:
            held = {
                name: device.value(name)
                for name in held_points(device.register_map)
                if name not in written
            }
            apply_write(
                self.physics, asset, device.register_map, written, held, endpoint.watchdog_s
            )
            # Show the command's effect (e.g. the clamped setpoint) once the write has landed.
            asyncio.get_running_loop().call_soon(self.refresh)

        return on_write


class DistrictThread:
    """``SimulatedDistrict`` in a background thread, for synchronous callers.

    ``start()`` returns once every server listens; ``stop()`` closes them. Keyword arguments are
    those of SimulatedDistrict. Interact with the physics only through Modbus or under
    ``call()``, which runs a function in the district's event loop.
    """

    def __init__(self, site: Site, **kwargs: Any):
        self._site = site
        self._kwargs = kwargs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.district: SimulatedDistrict | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None

    def start(self, timeout_s: float = 30.0) -> SimulatedDistrict:
        self._thread = threading.Thread(target=self._main, name="simulated-district", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError(f"simulated district did not start within {timeout_s} s")
        if self._error is not None:
            raise self._error
        assert self.district is not None
        return self.district

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            self.district = SimulatedDistrict(self._site, **self._kwargs)
            await self.district.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.district.stop()

    def call(self, function: Callable[[], Any], timeout_s: float = 10.0) -> Any:
        """Run ``function()`` inside the district's event loop and return its result."""
        if self._loop is None:
            raise RuntimeError("the district thread is not running")

        async def run() -> Any:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._thread = None
        self._loop = None

    def __enter__(self) -> SimulatedDistrict:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# ------------------------------------------------------------------ helpers


def _endpoint(asset: Asset) -> DeviceEndpoint:
    if asset.device is None:
        raise ValueError(f"asset {asset.id!r} has no device endpoint")
    return asset.device


def _fixed_image(
    asset: Asset, register_map: RegisterMap, endpoint: DeviceEndpoint
) -> Mapping[int, int] | None:
    """The SunSpec model chain of a SunSpec device (common model identifies the asset)."""
    if not register_map.sunspec_models:
        return None
    models: list[tuple[int, dict[str, Any]]] = []
    for model_id in register_map.sunspec_models:
        values: dict[str, Any] = {}
        if model_id == 1:
            values = {
                "Mn": "Klimaviertel Sim",
                "Md": register_map.name[:32],
                "Opt": asset.kind.value,
                "Vr": "1.0",
                "SN": asset.id[:32],
                "DA": endpoint.unit_id,
            }
        models.append((model_id, values))
    return sunspec_image(models)


def _initialise_held(device: SimulatedDevice, endpoint: DeviceEndpoint) -> None:
    """Held registers start at the device's defaults: watchdog from the endpoint config, no PV
    limit, switches off, setpoints and counters 0, and every point's commissioning preset."""
    values: dict[str, Any] = {}
    for name in held_points(device.register_map):
        p = device.register_map.point(name)
        if p.quantity == "watchdog_s":
            values[name] = endpoint.watchdog_s / p.quantity_factor
        elif p.quantity == "limit_pct":
            values[name] = 100.0 / p.quantity_factor
        elif p.quantity in ("remote_enable", "setpoint_enabled"):
            values[name] = p.switch_value(False)
        else:
            values[name] = 0
    for p in device.register_map.points:
        if p.preset is not None:
            values[p.name] = p.preset
    device.update(values)


def _io_modules(site: Site) -> dict[str, DeviceEndpoint]:
    """The digital I/O modules of the site that have no physics: the control box's."""
    signals = site.config.grid_signals
    if signals is None or signals.control_box is None:
        return {}
    return {CONTROL_BOX_ID: signals.control_box.device}


def _io_defaults(register_map: RegisterMap) -> dict[str, Any]:
    """An I/O module starts with every contact open and reports its process image size."""
    bits = {p.name: False for p in register_map.points if p.dtype is DataType.BOOL}
    sizes = {
        "digital_in_bits": sum(1 for p in register_map.points if p.name.startswith("di_")),
        "digital_out_bits": sum(1 for p in register_map.points if p.name.startswith("do_")),
    }
    return bits | {k: v for k, v in sizes.items() if k in register_map.by_name}


def _listen_address(endpoint: DeviceEndpoint) -> tuple[str, int, str] | None:
    """(host, port, framing) a device is served on; None for a real serial port."""
    if endpoint.protocol == "tcp":
        return endpoint.host, endpoint.port, "tcp"
    url = endpoint.serial_port or ""
    if url.startswith("socket://"):
        host, _, port = url.removeprefix("socket://").rpartition(":")
        if host and port.isdigit():
            return host, int(port), "rtu"
    return None


def _moved(config: SiteConfig, updates: Mapping[str, Mapping[str, Any]]) -> SiteConfig:
    """A copy of the site config with each served device's endpoint moved where it is served."""

    def moved(endpoint: DeviceEndpoint | None, asset_id: str) -> DeviceEndpoint | None:
        if endpoint is None or asset_id not in updates:
            return endpoint
        return endpoint.model_copy(update=dict(updates[asset_id]))

    grid = config.grid.model_copy(update={"meter": moved(config.grid.meter, "grid.meter")})
    houses = []
    for h in config.houses:
        update: dict[str, Any] = {"meter": moved(h.meter, f"{h.id}.meter")}
        for attr, suffix in (("pv", "pv"), ("heat_pump", "hp"), ("battery", "battery")):
            part = getattr(h, attr)
            if part is not None:
                update[attr] = part.model_copy(
                    update={"device": moved(part.device, f"{h.id}.{suffix}")}
                )
        houses.append(h.model_copy(update=update))
    batteries = [
        b.model_copy(update={"device": moved(b.device, b.id)}) for b in config.community_batteries
    ]
    chargers = [c.model_copy(update={"device": moved(c.device, c.id)}) for c in config.ev_chargers]
    changes: dict[str, Any] = {
        "grid": grid,
        "houses": houses,
        "community_batteries": batteries,
        "ev_chargers": chargers,
    }
    signals = config.grid_signals
    if signals is not None and signals.control_box is not None:
        box = signals.control_box
        device = moved(box.device, CONTROL_BOX_ID)
        changes["grid_signals"] = signals.model_copy(
            update={"control_box": box.model_copy(update={"device": device})}
        )
    return config.model_copy(update=changes)
