"""The files a site configuration refers to: every device's register map must load, and should
carry what the platform needs to control the device.

`kv config check` reports map problems with the configuration's own problems, and `kv run` refuses
to start on them (before, a missing register map passed the check and `kv run` died with a
traceback when it built the poller). Missing control points are warnings: a device whose map
cannot carry a setpoint is still measured, but the dispatcher cannot steer it (and fails each
dispatch of it), so commissioning should know before the first plan.
"""

from __future__ import annotations

from collections.abc import Callable

from connectors.registermap import DataType, RegisterMap, RegisterMapError, load_register_map
from energy.config import CONTROL_BOX_ID, ConfigIssue, HeatPumpControl
from energy.site import Asset, AssetKind, Site

__all__ = ["control_point_warnings", "missing_control_points", "referenced_file_issues"]

Need = tuple[str, Callable[[RegisterMap], bool]]


def referenced_file_issues(site: Site) -> list[ConfigIssue]:
    """One issue per problem in a referenced file, naming the device and the register map;
    the control box's contacts must be digital inputs of its map."""
    issues: list[ConfigIssue] = []
    config_file = str(site.config.source_path or "site configuration")
    endpoints = [(a.id, a.device) for a in site.devices() if a.device is not None]
    signals = site.config.grid_signals
    box = signals.control_box if signals is not None else None
    if box is not None:
        endpoints.append((CONTROL_BOX_ID, box.device))
    for device_id, endpoint in endpoints:
        where = f"device {device_id}: register_map {endpoint.register_map!r}"
        try:
            register_map = load_register_map(endpoint.register_map, device=device_id)
        except RegisterMapError as exc:
            issues.extend(
                ConfigIssue(
                    file=config_file,
                    key_path=where,
                    expected=f"a valid register map ({issue.expected})",
                    found=f"{issue.file}: {issue.key_path}: {issue.found}",
                )
                for issue in exc.issues
            )
            continue
        if box is not None and device_id == CONTROL_BOX_ID:
            issues.extend(
                ConfigIssue(
                    file=config_file,
                    key_path=f"grid_signals.control_box.contacts: point {c.point!r}",
                    expected=f"a bool point of {where}",
                    found="no such point"
                    if c.point not in register_map.by_name
                    else f"dtype {register_map.point(c.point).dtype.value}",
                )
                for c in box.contacts
                if c.point not in register_map.by_name
                or register_map.point(c.point).dtype is not DataType.BOOL
            )
    return issues


def _reads(quantity: str) -> Need:
    return (
        f"a point with quantity {quantity!r}",
        lambda m: any(p.quantity == quantity for p in m.points),
    )


def _writes(*quantities: str) -> Need:
    return (
        " and ".join(f"a writable point with quantity {q!r}" for q in quantities),
        lambda m: all(any(p.quantity == q and p.writable for p in m.points) for q in quantities),
    )


def _either(first: Need, second: Need) -> Need:
    return (f"{first[0]}, or {second[0]}", lambda m: first[1](m) or second[1](m))


_RELEASE = (
    "a writable release point (quantity 'mode', 'remote_enable', 'setpoint_enabled' or "
    "'limit_enabled')",
    lambda m: any(
        p.writable and p.quantity in ("mode", "remote_enable", "setpoint_enabled", "limit_enabled")
        for p in m.points
    ),
)
_REVERSION = (
    "a watchdog_point or heartbeat_point (the device reverts when the platform goes silent)",
    lambda m: m.watchdog_point is not None or m.heartbeat_point is not None,
)


def _needs(asset: Asset) -> list[Need]:
    """What a map must carry for the platform to measure and steer this kind of device."""
    if asset.kind is AssetKind.BATTERY:
        return [_reads("soc_frac"), _writes("setpoint_kw"), _RELEASE, _REVERSION]
    if asset.kind is AssetKind.HEAT_PUMP:
        control = asset.params_dict().get("control")
        command = (
            _either(_writes("sg_ready_state"), _writes("sg_ready_contact_a", "sg_ready_contact_b"))
            if control == HeatPumpControl.SG_READY
            else _writes("setpoint_kw")
        )
        return [_reads("tank_temp_c"), command, _RELEASE]
    if asset.kind is AssetKind.PV:
        return [_reads("power_kw"), _writes("limit_pct", "limit_enabled"), _REVERSION]
    if asset.kind is AssetKind.EV_CHARGER:
        return [_reads("need_kwh"), _writes("setpoint_kw"), _RELEASE, _REVERSION]
    if asset.kind in (AssetKind.METER, AssetKind.GRID_METER):
        return [_reads("power_kw")]
    return []


def missing_control_points(asset: Asset, register_map: RegisterMap) -> list[str]:
    """What ``register_map`` lacks for the platform to measure and control ``asset``."""
    return [description for description, present in _needs(asset) if not present(register_map)]


def control_point_warnings(site: Site) -> list[ConfigIssue]:
    """One warning per device whose (loadable) register map lacks points its kind needs."""
    warnings: list[ConfigIssue] = []
    config_file = str(site.config.source_path or "site configuration")
    for asset in site.devices():
        assert asset.device is not None
        try:
            register_map = load_register_map(asset.device.register_map, device=asset.id)
        except RegisterMapError:
            continue  # reported by referenced_file_issues
        warnings.extend(
            ConfigIssue(
                file=config_file,
                key_path=f"device {asset.id}: register_map {asset.device.register_map!r}",
                expected=missing,
                found=f"none in map {register_map.name!r} ({asset.kind.value} control needs it)",
            )
            for missing in missing_control_points(asset, register_map)
        )
    return warnings
