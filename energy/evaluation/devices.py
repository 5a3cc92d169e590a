"""The device input/output of the closed loop, replaced by the simulated district's physics.

In the live loop the dispatcher writes commands over Modbus and rewrites them every few seconds
(or feeds the device watchdog). Here commands go straight to `DistrictSimulator` with a watchdog
timeout that covers the slot, which is what that rewriting amounts to between two plans.
"""

from __future__ import annotations

from collections.abc import Iterable

from energy.control.commands import CommandKind, DeviceCommand
from energy.physics.district import DistrictSimulator

__all__ = ["apply_commands"]


def apply_commands(
    simulator: DistrictSimulator, commands: Iterable[DeviceCommand], timeout_s: float
) -> int:
    """Write each command to the simulated device; returns how many setpoints were written.

    timeout_s: the watchdog period of every written setpoint (at least one slot, so that a
    command holds until the next slot's command renews or changes it).
    """
    written = 0
    for command in commands:
        asset_id, value = command.asset_id, command.value
        if command.kind == CommandKind.RELEASE_TO_LOCAL or value is None:
            simulator.release(asset_id)
            continue
        if command.kind == CommandKind.BATTERY_POWER_KW:
            simulator.set_battery_power(asset_id, value, timeout_s)
        elif command.kind == CommandKind.BATTERY_GRID_TARGET_KW:
            simulator.set_battery_grid_target(asset_id, value, timeout_s)
        elif command.kind == CommandKind.HEAT_PUMP_POWER_KW:
            simulator.set_heat_pump_power(asset_id, value, timeout_s)
        elif command.kind == CommandKind.SG_READY_STATE:
            simulator.set_sg_ready(asset_id, round(value), timeout_s)
        elif command.kind == CommandKind.PV_LIMIT_KW:
            simulator.set_pv_limit(asset_id, value, timeout_s)
        elif command.kind == CommandKind.EV_CHARGE_LIMIT_KW:
            simulator.set_ev_charge_limit(asset_id, value, timeout_s)
        else:
            raise ValueError(
                f"command for {asset_id!r}: expected one of {[k.value for k in CommandKind]}; "
                f"found {command.kind!r}"
            )
        written += 1
    return written
