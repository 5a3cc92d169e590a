"""The closed-loop evaluation's optimizer state from a simulator snapshot."""

from __future__ import annotations

import pandas as pd

from energy.evaluation.snapshot_state import dispatch_state_from_snapshot
from energy.physics.district import DistrictSimulator
from energy.site import Site
from optimizer.plant import Plant

SLOT0 = pd.Timestamp("2026-01-15T06:00:00Z")


def test_dispatch_state_from_a_simulator_snapshot(site: Site) -> None:
    sim = DistrictSimulator(site, SLOT0)
    sim.advance(900)
    snapshot = sim.snapshot()
    state = dispatch_state_from_snapshot(snapshot, peak_import_kw=3.0)
    assert state.soc_frac == {a: r.soc_frac for a, r in snapshot.batteries.items()}
    assert state.tank_temp_c == {a: r.temp_c for a, r in snapshot.tanks.items()}
    assert state.hp_on == {a: r.on for a, r in snapshot.heat_pumps.items()}
    assert state.hp_minutes_in_state == {
        a: r.minutes_in_state for a, r in snapshot.heat_pumps.items()
    }
    assert state.peak_import_kw == 3.0
    state.check(Plant.from_site(site))
