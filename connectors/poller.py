"""Poll every Modbus device of a site concurrently, and hand the results to the store in bulk.

    poller = DevicePoller(site, store)
    result = await poller.poll_once()      # every device at once; stored unless store is None
    result.devices["house-01.battery"].values["soc"]   # PointReading(value, quality, read_time)
    await poller.close()

One DeviceClient per device lives as long as the poller, so connections persist across cycles.
Each device's poll is bounded by its own budget (timeouts, retries, breaker), and all run
concurrently: a dead device costs its own budget at most, never the others'.

Rows written per cycle (`measurements_frame`): every point read this cycle under its point name
(unit from the register map), plus, for points with a `quantity`, the platform measurement
(value x quantity_factor, unit in the name). For a device that counts as stale, every numeric point
is written at the cycle time with quality STALE and its last value (NaN if it never had one), so
that the store shows the outage rather than an old value that looks current.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import ssl
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from connectors.device_client import (
    ClientPolicy,
    ConnectionFactory,
    DeviceClient,
    DeviceHealth,
    DeviceReading,
    PointReading,
)
from connectors.registermap import DataType, RegisterMap, load_register_map
from energy.config import DeviceEndpoint
from energy.quality import Quality
from energy.site import Site
from energy.store.engine import Store
from energy.store.measurements import write_measurements

__all__ = [
    "DevicePoller",
    "DeviceSpec",
    "PollResult",
    "device_specs",
    "measurements_frame",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceSpec:
    """One device to poll: the site asset it belongs to, where it is, and its register map."""

    asset_id: str
    endpoint: DeviceEndpoint
    register_map: RegisterMap


def device_specs(site: Site, device_ids: Iterable[str] | None = None) -> list[DeviceSpec]:
    """The site's Modbus devices with their loaded register maps, optionally only `device_ids`.

    Raises KeyError for an unknown id and RegisterMapError (naming file, device and point) for a
    broken map.
    """
    devices = {a.id: a for a in site.devices()}
    wanted = list(devices) if device_ids is None else list(device_ids)
    unknown = [d for d in wanted if d not in devices]
    if unknown:
        raise KeyError(
            f"site {site.id!r}: no Modbus device {', '.join(unknown)}; known: {', '.join(devices)}"
        )
    specs = []
    for asset_id in wanted:
        endpoint = devices[asset_id].device
        assert endpoint is not None  # site.devices() yields only assets with a device
        specs.append(
            DeviceSpec(asset_id, endpoint, load_register_map(endpoint.register_map, asset_id))
        )
    return specs


@dataclass(frozen=True)
class PollResult:
    """One poll cycle of every device. Times are UTC."""

    site_id: str
    started: dt.datetime
    finished: dt.datetime
    devices: dict[str, DeviceReading]
    duration_s: float
    stored_rows: int = 0
    store_error: str | None = None
    """Why the cycle's measurements could not be stored (the readings are still valid)."""
    register_maps: Mapping[str, RegisterMap] = field(default_factory=dict, repr=False)
    """The map of every polled device (units, quantities, points never read)."""

    @property
    def health(self) -> dict[str, DeviceHealth]:
        return {asset_id: reading.health for asset_id, reading in self.devices.items()}

    @property
    def requests(self) -> int:
        return sum(reading.requests for reading in self.devices.values())

    def failed(self) -> list[str]:
        """Devices that did not answer this cycle."""
        return [asset_id for asset_id, reading in self.devices.items() if not reading.ok]

    def stale(self) -> list[str]:
        return [asset_id for asset_id, reading in self.devices.items() if reading.health.stale]

    def reading(self, asset_id: str, point: str) -> PointReading:
        return self.devices[asset_id].values[point]


@dataclass
class DevicePoller:
    """Long-lived clients for a set of devices, polled concurrently by `poll_once`.

    `site` supplies the devices (all, or `device_ids`) unless `devices` is given; `store`, when
    given, receives every cycle's measurements. `ssl_contexts` maps asset ids of devices with
    `tls: true` to caller-built, verifying SSL contexts. `policy_overrides` adjust every client's
    ClientPolicy (for example breaker_open_s).
    """

    site: Site | None = None
    store: Store | None = None
    devices: Sequence[DeviceSpec] | None = None
    device_ids: Iterable[str] | None = None
    site_id: str | None = None
    ssl_contexts: Mapping[str, ssl.SSLContext] = field(default_factory=dict)
    policy_overrides: Mapping[str, Any] = field(default_factory=dict)
    connection_factory: ConnectionFactory | None = None
    clients: dict[str, DeviceClient] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.devices is None:
            if self.site is None:
                raise ValueError("DevicePoller needs a site or an explicit list of devices")
            self.devices = device_specs(self.site, self.device_ids)
        if self.site_id is None:
            if self.site is None:
                raise ValueError("DevicePoller without a site needs site_id")
            self.site_id = self.site.id
        buses = Counter(
            s.endpoint.serial_port for s in self.devices if s.endpoint.protocol == "rtu"
        )
        for spec in self.devices:
            overrides = dict(self.policy_overrides)
            if spec.endpoint.protocol == "rtu":
                overrides.setdefault("bus_devices", buses[spec.endpoint.serial_port])
            policy = ClientPolicy.from_endpoint(spec.endpoint, **overrides)
            self.clients[spec.asset_id] = DeviceClient(
                spec.asset_id,
                spec.endpoint,
                spec.register_map,
                policy=policy,
                ssl_context=self.ssl_contexts.get(spec.asset_id),
                connection_factory=self.connection_factory,
            )

    def client(self, asset_id: str) -> DeviceClient:
        try:
            return self.clients[asset_id]
        except KeyError:
            raise KeyError(
                f"poller of site {self.site_id!r} has no device {asset_id!r}; "
                f"known: {', '.join(self.clients)}"
            ) from None

    async def poll_once(self, *, store_results: bool = True) -> PollResult:
        """Poll all devices concurrently; store the measurements if this poller has a store."""
        started = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        readings = await asyncio.gather(*(c.read_all() for c in self.clients.values()))
        duration = time.perf_counter() - t0
        result = PollResult(
            site_id=str(self.site_id),
            started=started,
            finished=dt.datetime.now(dt.UTC),
            devices={r.asset_id: r for r in readings},
            duration_s=duration,
            register_maps={s.asset_id: s.register_map for s in self.devices or ()},
        )
        failed = result.failed()
        log.debug(
            "polled %d devices in %.3f s (%d requests, %d failed)",
            len(readings),
            duration,
            result.requests,
            len(failed),
        )
        if self.store is not None and store_results:
            frame = measurements_frame(result)
            try:
                rows = await asyncio.to_thread(
                    write_measurements, self.store, result.site_id, frame
                )
            except Exception as exc:  # a store outage must not stop polling (or control)
                log.exception("storing %d measurements of site %s failed", len(frame), self.site_id)
                return replace(result, store_error=f"{type(exc).__name__}: {exc}")
            result = replace(result, stored_rows=rows)
        return result

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.clients.values()))

    async def __aenter__(self) -> DevicePoller:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


_NUMERIC_TYPES = frozenset(DataType) - {DataType.STRING}


def _number(value: object) -> float:
    if value is None or isinstance(value, str):
        return math.nan
    return float(value)  # type: ignore[arg-type]


def measurements_frame(
    result: PollResult, register_maps: Mapping[str, RegisterMap] | None = None
) -> pd.DataFrame:
    """A long frame (asset_id, quantity, time, value, quality, unit) for write_measurements.

    `register_maps` (asset id -> map; default: the maps the poller recorded in the result)
    supplies units, quantities and, for stale devices, the points never read.
    """
    rows: list[tuple[str, str, dt.datetime, float, int, str]] = []
    maps = result.register_maps if register_maps is None else register_maps
    for asset_id, reading in result.devices.items():
        register_map = maps.get(asset_id)
        points = register_map.by_name if register_map is not None else {}
        if reading.health.stale:
            names: Iterable[str] = (
                [p.name for p in register_map.points if p.dtype in _NUMERIC_TYPES]
                if register_map is not None
                else list(reading.values)
            )
            entries = []
            for name in names:
                held = reading.values.get(name)
                if name in reading.fresh and held is not None:
                    entries.append((name, held))
                else:
                    value = held.value if held is not None else None
                    entries.append(
                        (name, PointReading(value, Quality.STALE, result.started, None, ""))
                    )
        else:
            entries = [(name, reading.values[name]) for name in sorted(reading.fresh)]
        for name, point_reading in entries:
            point = points.get(name)
            if isinstance(point_reading.value, str) or (
                point is not None and point.dtype is DataType.STRING
            ):
                continue
            value = _number(point_reading.value)
            quality = int(point_reading.quality)
            unit = (point.unit if point is not None else point_reading.unit) or ""
            rows.append((asset_id, name, point_reading.read_time, value, quality, unit))
            if point is not None and point.quantity is not None:
                rows.append(
                    (
                        asset_id,
                        point.quantity,
                        point_reading.read_time,
                        value * point.quantity_factor,
                        quality,
                        "",
                    )
                )
    frame = pd.DataFrame(rows, columns=["asset_id", "quantity", "time", "value", "quality", "unit"])
    # two points may feed one quantity (a rating and its negative); the first one stands
    frame = frame.drop_duplicates(["asset_id", "quantity", "time"], ignore_index=True)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["quality"] = frame["quality"].astype("int64")
    frame["value"] = frame["value"].astype("float64")
    return frame
