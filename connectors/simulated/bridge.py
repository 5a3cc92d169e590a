"""The bridge between the district physics and the device registers.

Reading: every point of a register map names a ``quantity`` (unit in the name, e.g. ``power_kw``).
``point_values`` looks each quantity up for one device, in this order: the device's physics
reading (``BatteryReading.soc_frac``, ``MeterReading.power_kw`` ...), a few derived quantities
(control mode as 0/1, SunSpec operating state, PV limit in percent), the district
(``temp_outdoor_c``), the asset's configuration (ratings such as ``charge_max_kw``) and nominal
grid values; the point's value is the quantity divided by its ``quantity_factor``. Quantities held
by the device itself (watchdog timeout, heartbeat counter, configured limits) are not refreshed:
their registers keep what was last written.

Writing: ``apply_write`` turns the points a client wrote into physics commands (set_battery_power,
set_battery_grid_target, set_heat_pump_power, set_sg_ready, set_dimming_cap, set_pv_limit,
set_ev_charge_limit, heartbeat, release), passing the device's watchdog timeout. A command the
physics refuses answers exception 4.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from connectors.codec import Value
from connectors.modbus_server import SERVER_DEVICE_FAILURE, ModbusServerError
from connectors.registermap import SG_READY_CONTACTS, RegisterMap
from energy.site import Asset, AssetKind

__all__ = [
    "HELD_QUANTITIES",
    "NOMINAL",
    "DistrictPhysics",
    "apply_write",
    "held_points",
    "point_values",
]

logger = logging.getLogger(__name__)

#: Quantities whose registers the device holds (written by a client, never refreshed).
HELD_QUANTITIES = frozenset(
    {
        "watchdog_s",
        "heartbeat",
        "remote_enable",
        "limit_pct",
        "setpoint_enabled",
        "sg_ready_contact_a",
        "sg_ready_contact_b",
    }
)

#: Command lifetime for devices that keep a state until it is changed (the physics needs one).
NO_REVERSION_S = 86_400.0

_SG_READY_FROM_CONTACTS = {contacts: state for state, contacts in SG_READY_CONTACTS.items()}
_CONTACTS = ("sg_ready_contact_a", "sg_ready_contact_b")

#: Nominal values of a healthy low-voltage grid, served where a device reports them.
NOMINAL = {"voltage_v": 230.0, "frequency_hz": 50.0}

#: SunSpec model 103 operating states.
SUNSPEC_SLEEPING, SUNSPEC_MPPT, SUNSPEC_THROTTLED = 2, 4, 5


class DistrictPhysics(Protocol):
    """What the simulated devices need from the physics (energy.physics.DistrictSimulator)."""

    @property
    def now(self) -> Any: ...

    def advance(self, seconds: float) -> None: ...

    def advance_to(self, t: Any) -> None: ...

    def snapshot(self) -> Any: ...

    def set_battery_power(
        self, asset_id: str, power_kw: float, timeout_s: float | None = None
    ) -> float: ...

    def set_battery_grid_target(
        self, asset_id: str, target_kw: float, timeout_s: float | None = None
    ) -> float: ...

    def set_heat_pump_power(
        self, asset_id: str, power_kw: float, timeout_s: float | None = None
    ) -> float: ...

    def set_sg_ready(self, asset_id: str, state: int, timeout_s: float | None = None) -> None: ...

    def set_dimming_cap(self, asset_id: str, cap_kw: float | None) -> None: ...

    def set_pv_limit(
        self, asset_id: str, limit_kw: float | None, timeout_s: float | None = None
    ) -> None: ...

    def set_ev_charge_limit(
        self, asset_id: str, power_kw: float, timeout_s: float | None = None
    ) -> float: ...

    def heartbeat(self, asset_id: str) -> bool: ...

    def release(self, asset_id: str) -> None: ...


def _quantities(asset: Asset, snapshot: Any) -> dict[str, Any]:
    """Every quantity known about one device now (see the module docstring for the order)."""
    found: dict[str, Any] = dict(NOMINAL)
    found.update(asset.params_dict())
    found["temp_outdoor_c"] = snapshot.temp_outdoor_c
    try:
        reading = snapshot.device(asset.id)
    except KeyError:
        reading = None
    if reading is not None and dataclasses.is_dataclass(reading):
        for f in dataclasses.fields(reading):
            found[f.name] = getattr(reading, f.name)
    mode = found.get("mode")
    if mode is not None:
        found["mode"] = 1 if str(mode) == "remote" else 0
    if asset.kind is AssetKind.PV and reading is not None:
        limit = found.get("limit_kw")
        peak = float(found.get("peak_kw") or 0.0)
        found["limit_enabled"] = 0 if limit is None else 1
        if limit is not None and found.get("available_kw", 0.0) > limit:
            found["operating_state"] = SUNSPEC_THROTTLED
        elif found.get("power_kw", 0.0) > 0:
            found["operating_state"] = SUNSPEC_MPPT
        else:
            found["operating_state"] = SUNSPEC_SLEEPING
        found["limit_pct"] = 100.0 if limit is None or peak <= 0 else 100.0 * limit / peak
    for key in ("setpoint_kw", "grid_target_kw", "dimming_cap_kw", "sg_ready_state"):
        if key in found and found[key] is None:
            found[key] = 0
    if "on" in found and isinstance(found["on"], bool):
        found["on"] = int(found["on"])
    return found


def held_points(register_map: RegisterMap) -> frozenset[str]:
    """Points whose registers the device holds: held quantities, and the setpoint of a map that
    gates it with a setpoint_enabled switch (SunSpec WSet, SMA 40149 are settings the device
    keeps while disabled)."""
    gated = any(p.quantity == "setpoint_enabled" for p in register_map.points)
    return frozenset(
        p.name
        for p in register_map.points
        if p.quantity in HELD_QUANTITIES or (gated and p.quantity == "setpoint_kw")
    )


def point_values(asset: Asset, register_map: RegisterMap, snapshot: Any) -> dict[str, Value]:
    """Engineering values of the map's points for one device (points without a source omitted)."""
    quantities = _quantities(asset, snapshot)
    held = held_points(register_map)
    values: dict[str, Value] = {}
    for point in register_map.points:
        q = point.quantity
        if q is None or point.name in held or q not in quantities:
            continue
        raw = quantities[q]
        if raw is None:
            values[point.name] = None
        elif isinstance(raw, bool | int | float):
            values[point.name] = float(raw) / point.quantity_factor
        elif isinstance(raw, str):
            values[point.name] = raw
    return values


def _quantity(register_map: RegisterMap, written: Mapping[str, Value]) -> dict[str, float]:
    result: dict[str, float] = {}
    for name, value in written.items():
        point = register_map.point(name)
        if point.quantity is None or not isinstance(value, bool | int | float):
            continue
        if point.on_value is not None:
            result[point.quantity] = 1.0 if point.is_on(value) else 0.0
        else:
            result[point.quantity] = float(value) * point.quantity_factor
    return result


def apply_write(
    physics: DistrictPhysics,
    asset: Asset,
    register_map: RegisterMap,
    written: Mapping[str, Value],
    held: Mapping[str, Value],
    default_watchdog_s: float,
) -> None:
    """Turn written points into physics commands; ``held`` = the device's held point values.

    Raises ModbusServerError(4) when the physics refuses a command (e.g. an SG Ready state for a
    continuously controlled heat pump).
    """
    q = _quantity(register_map, written)
    held_q = _quantity(register_map, held)
    timeout_s = q.get("watchdog_s") or held_q.get("watchdog_s") or default_watchdog_s
    if register_map.watchdog_point is None and any(
        p.quantity in _CONTACTS for p in register_map.points
    ):
        timeout_s = NO_REVERSION_S  # SG Ready inputs without a reversion timer (Stiebel ISG)
    if any(p.quantity == "setpoint_enabled" for p in register_map.points):
        q = _gated(q, held_q)
    try:
        _command(physics, asset, q, held_q, timeout_s)
    except (ValueError, KeyError) as exc:
        raise ModbusServerError(SERVER_DEVICE_FAILURE, str(exc)) from None


def _gated(q: Mapping[str, float], held: Mapping[str, float]) -> dict[str, float]:
    """Commands of a device whose setpoint acts only while its enable switch is on.

    While disabled, written setpoints and SG Ready contacts are only stored. Switching on applies
    the stored ones; switching off releases (``setpoint_enabled`` 0 is handled as a release).
    """
    result = dict(q)
    enabled = q.get("setpoint_enabled", held.get("setpoint_enabled", 0.0))
    if enabled != 1:
        for key in ("setpoint_kw", *_CONTACTS):
            result.pop(key, None)
        return result
    if "setpoint_enabled" in q:
        for key in ("setpoint_kw", *_CONTACTS):
            if key not in result and key in held:
                result[key] = held[key]
    return result


def _command(
    physics: DistrictPhysics,
    asset: Asset,
    q: Mapping[str, float],
    held: Mapping[str, float],
    timeout_s: float,
) -> None:
    if q.get("mode") == 0 or q.get("remote_enable") == 0 or q.get("setpoint_enabled") == 0:
        physics.release(asset.id)
        return
    if asset.kind is AssetKind.BATTERY and "setpoint_kw" in q:
        physics.set_battery_power(asset.id, q["setpoint_kw"], timeout_s)
    if asset.kind is AssetKind.BATTERY and "grid_target_kw" in q:
        physics.set_battery_grid_target(asset.id, q["grid_target_kw"], timeout_s)
    if asset.kind is AssetKind.HEAT_PUMP:
        if "dimming_cap_kw" in q:
            cap = q["dimming_cap_kw"]
            physics.set_dimming_cap(asset.id, cap if cap > 0 else None)
        if "setpoint_kw" in q:
            physics.set_heat_pump_power(asset.id, q["setpoint_kw"], timeout_s)
        if "sg_ready_state" in q:
            physics.set_sg_ready(asset.id, round(q["sg_ready_state"]), timeout_s)
        if any(c in q for c in _CONTACTS):
            a, b = (bool(q.get(c, held.get(c, 0.0))) for c in _CONTACTS)
            physics.set_sg_ready(asset.id, _SG_READY_FROM_CONTACTS[(a, b)], timeout_s)
    if asset.kind is AssetKind.EV_CHARGER and "setpoint_kw" in q:
        physics.set_ev_charge_limit(asset.id, q["setpoint_kw"], timeout_s)
    if asset.kind is AssetKind.PV and ("limit_enabled" in q or "limit_pct" in q):
        enabled = q.get("limit_enabled")
        params = asset.params_dict()
        peak = float(params.get("peak_kw", 0.0))
        pct = q.get("limit_pct", held.get("limit_pct", 100.0))
        if enabled == 0:
            physics.set_pv_limit(asset.id, None)
        elif enabled == 1 or physics.snapshot().device(asset.id).limit_kw is not None:
            physics.set_pv_limit(asset.id, peak * pct / 100.0, timeout_s)
    commands = {"setpoint_kw", "grid_target_kw", "sg_ready_state", "limit_enabled", *_CONTACTS}
    if "heartbeat" in q and not (q.keys() & commands):
        physics.heartbeat(asset.id)
