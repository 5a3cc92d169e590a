"""Commissioning probe: read each configured device once and compare what it answers with its
register map.

Per device: reachable (one poll cycle answered), identified (a SunSpec device announces the models
its map names, its common model's manufacturer/model/serial are shown; a vendor map's device must
answer every mapped address), points plausible (every value decodes, lies within the point's
min/max and is not a "not implemented" sentinel; commissioning presets such as SunSpec WSetMod = 1
hold). Warnings name what the map lacks for the device kind's control (connectors.config_check).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from connectors.config_check import missing_control_points
from connectors.device_client import DeviceReading
from connectors.poller import DevicePoller
from connectors.registermap import RegisterMap, load_register_map
from connectors.sunspec_discovery import SunSpecError, scan
from energy.quality import Quality
from energy.site import Asset, Site

__all__ = ["ProbeReport", "probe_site"]

logger = logging.getLogger(__name__)

_IDENTITY_POINTS = ("Mn", "Md", "SN")


@dataclass(frozen=True)
class ProbeReport:
    """What one device answered, judged against its register map."""

    asset_id: str
    register_map: str
    reachable: bool
    identified: str
    good_points: int
    total_points: int
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.reachable and not self.problems


def _point_problems(register_map: RegisterMap, reading: DeviceReading) -> list[str]:
    problems = []
    for point in register_map.points:
        value = reading.values.get(point.name)
        if value is None:
            problems.append(f"{point.name}: not read")
        elif value.quality is not Quality.GOOD:
            problems.append(f"{point.name}: {value.reason or value.quality.name.lower()}")
        elif point.preset is not None and value.value != point.preset:
            problems.append(
                f"{point.name} reads {value.value}; the platform needs {point.preset:g} "
                f"(set it at commissioning: kv write {reading.asset_id} {point.name} "
                f"{point.preset:g})"
            )
    return problems


async def _sunspec_identity(
    asset: Asset, register_map: RegisterMap, reading: DeviceReading
) -> tuple[str, list[str]]:
    """Text naming the device, and problems when its model chain lacks the map's models."""
    names = [
        str(reading.values[p].value)
        for p in _IDENTITY_POINTS
        if p in reading.values and reading.values[p].value
    ]
    endpoint = asset.device
    assert endpoint is not None
    if endpoint.protocol != "tcp" or endpoint.tls:
        return " ".join(names) or "not identified (SunSpec scan needs plain Modbus TCP)", []
    try:
        device = await scan(endpoint.host, endpoint.port, endpoint.unit_id, timeout_s=2.0)
    except (SunSpecError, OSError, TimeoutError) as exc:
        return "not identified", [f"SunSpec scan failed: {exc}"]
    found = [m.id for m in device.models]
    missing = [m for m in register_map.sunspec_models if m not in found]
    text = f"SunSpec models {', '.join(map(str, found))}" + (
        f"; {' / '.join(names)}" if names else ""
    )
    problems = [f"SunSpec models {missing} of the map are not announced"] if missing else []
    return text, problems


async def _report(asset: Asset, register_map: RegisterMap, reading: DeviceReading) -> ProbeReport:
    assert asset.device is not None
    warnings = tuple(missing_control_points(asset, register_map))
    if not reading.ok and not reading.values:
        return ProbeReport(
            asset.id,
            asset.device.register_map,
            reachable=False,
            identified="-",
            good_points=0,
            total_points=len(register_map.points),
            problems=(reading.health.last_error or "no answer",),
            warnings=warnings,
        )
    problems = _point_problems(register_map, reading)
    if register_map.sunspec_models:
        identified, sunspec_problems = await _sunspec_identity(asset, register_map, reading)
        problems += sunspec_problems
    else:
        answered = not any(p.endswith(": not read") for p in problems)
        identified = f"{register_map.manufacturer}: " + (
            "every mapped address answered" if answered else "layout does not match"
        )
    good = sum(1 for v in reading.values.values() if v.quality is Quality.GOOD)
    return ProbeReport(
        asset.id,
        asset.device.register_map,
        reachable=True,
        identified=identified,
        good_points=good,
        total_points=len(register_map.points),
        problems=tuple(problems),
        warnings=warnings,
    )


async def probe_site(
    site: Site,
    device_ids: Sequence[str] | None = None,
    ssl_contexts: Mapping[str, ssl.SSLContext] | None = None,
) -> list[ProbeReport]:
    """Read every (or the named) device once and report each against its register map."""
    async with DevicePoller(
        site,
        None,
        device_ids=list(device_ids) if device_ids else None,
        ssl_contexts=ssl_contexts or {},
    ) as poller:
        result = await poller.poll_once()
    checks = []
    for asset_id, reading in result.devices.items():
        asset = site.asset(asset_id)
        assert asset.device is not None
        register_map = load_register_map(asset.device.register_map, device=asset_id)
        checks.append(_report(asset, register_map, reading))
    reports = list(await asyncio.gather(*checks))  # the SunSpec scans run side by side
    for report in reports:
        logger.debug("probed %s", report)
    return reports
