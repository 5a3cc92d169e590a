"""A MILP start from the LP relaxation: heat pump on/off schedules that follow the LP's energy.

HiGHS finds good heat pump schedules slowly on its own at long horizons. Given the relaxation's
electric power per slot, each heat pump is switched with a sigma-delta rule: it turns on when it has
delivered less energy than the relaxation (and may switch), and off when it has caught up (and may
switch), respecting minimum power or SG Ready levels, caps and minimum on/off times (with the
carry-over from the state). The on/off values (and SG Ready states) are handed to HiGHS as a
partial solution, which it completes and then improves.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from energy.timegrid import SLOT_HOURS, SLOT_MINUTES
from optimizer.inputs import DispatchState
from optimizer.model import SG_STATES
from optimizer.plant import HeatPumpUnit, sg_ready_levels_kw

__all__ = ["round_heat_pump_schedule"]

FloatArray = npt.NDArray[np.float64]


def round_heat_pump_schedule(
    unit: HeatPumpUnit,
    lp_power_kw: FloatArray,
    upper_kw: FloatArray,
    state: DispatchState,
) -> tuple[FloatArray, FloatArray | None]:
    """On/off per slot (0/1), and for SG Ready units the state indicators (3 x slots, for
    SG_STATES), that follow the relaxation's power `lp_power_kw` under the caps `upper_kw`."""
    cfg = unit.config
    n = len(lp_power_kw)
    dt = SLOT_HOURS
    min_on = max(1, math.ceil(cfg.min_on_minutes / SLOT_MINUTES))
    min_off = max(1, math.ceil(cfg.min_off_minutes / SLOT_MINUTES))
    levels = sg_ready_levels_kw(cfg) if unit.sg_ready else {}
    lowest = min(levels.values()) if levels else cfg.electric_min_kw
    running = bool(state.hp_on.get(unit.id, False))
    minutes = state.hp_minutes_in_state.get(unit.id)
    held = math.inf if minutes is None else minutes / SLOT_MINUTES
    on = np.zeros(n)
    sg = np.zeros((len(SG_STATES), n)) if levels else None
    deficit_kwh = 0.0
    for t in range(n):
        target = float(lp_power_kw[t])
        deficit_kwh += target * dt
        may_switch = held >= (min_on if running else min_off)
        possible = upper_kw[t] >= lowest - 1e-9
        wanted = deficit_kwh > 0.5 * lowest * dt if not running else deficit_kwh > 0
        if not possible:
            switch_to = False
        elif may_switch:
            switch_to = wanted
        else:
            switch_to = running
        if switch_to != running:
            running, held = switch_to, 0.0
        held += 1
        if not running:
            continue
        on[t] = 1.0
        if sg is not None:
            usable = [(s, p) for s, p in levels.items() if p <= upper_kw[t] + 1e-9]
            state_id, power = min(usable, key=lambda sp: (sp[1] < target, abs(sp[1] - target)))
            sg[SG_STATES.index(state_id), t] = 1.0
        else:
            power = min(max(target, cfg.electric_min_kw), float(upper_kw[t]))
        deficit_kwh -= power * dt
    return on, sg
