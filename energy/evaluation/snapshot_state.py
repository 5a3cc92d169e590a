"""The optimizer's state read from a simulator snapshot, for the closed-loop evaluation (the
live loop reads its state from the store: energy.control.state)."""

from __future__ import annotations

from energy.physics.readings import DistrictSnapshot
from optimizer import DispatchState

__all__ = ["dispatch_state_from_snapshot"]


def dispatch_state_from_snapshot(
    snapshot: DistrictSnapshot, peak_import_kw: float = 0.0
) -> DispatchState:
    """The optimizer's state from a simulator snapshot (closed-loop evaluation), with each heat
    pump's minutes in its on/off state as the unit reports them; peak_import_kw: the billing
    period's peak so far."""
    return DispatchState(
        soc_frac={a: r.soc_frac for a, r in snapshot.batteries.items()},
        tank_temp_c={a: r.temp_c for a, r in snapshot.tanks.items()},
        hp_on={a: r.on for a, r in snapshot.heat_pumps.items()},
        hp_minutes_in_state={a: r.minutes_in_state for a, r in snapshot.heat_pumps.items()},
        peak_import_kw=max(0.0, float(peak_import_kw)),
        ev_need_kwh={a: r.need_kwh for a, r in snapshot.ev_chargers.items()},
    )
