"""TankBank: energy balance, losses, unserved heat and comfort violations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy.config import TankConfig
from energy.physics.tank import TankBank
from energy.thermal import tank_capacity_kwh_per_k

CONFIG = TankConfig(volume_l=500, temp_min_c=40, temp_max_c=60, loss_w_per_k=2.0,
                    ambient_temp_c=20.0)  # fmt: skip
CAPACITY = tank_capacity_kwh_per_k(500)


def test_heat_raises_temperature_by_capacity():
    tanks = TankBank(["t"], [CONFIG], [45.0])
    tanks.step(np.array([CAPACITY * 10 + 0.05]), np.array([0.0]), 1.0)  # +10 K, + 50 W loss
    assert tanks.temp_c[0] == pytest.approx(55.0)
    assert tanks.losses_kwh[0] == pytest.approx(0.05)


def test_comfort_violation_in_kelvin_hours_and_unserved_heat():
    tanks = TankBank(["t"], [CONFIG], [40.0])
    tanks.step(np.array([0.0]), np.array([CAPACITY * 2]), 1.0)  # minus 2 K and a little loss
    assert tanks.temp_c[0] < 38.0
    assert tanks.comfort_violation_kh[0] == pytest.approx(40.0 - tanks.temp_c[0])
    tanks.step(np.array([0.0]), np.array([1000.0]), 1.0)  # far more than the tank holds
    assert tanks.temp_c[0] == pytest.approx(CONFIG.ambient_temp_c)
    assert tanks.unserved_heat_kwh[0] > 900
    assert tanks.comfort_violation_kh[0] > 20


def test_headroom_keeps_the_tank_at_its_maximum():
    tanks = TankBank(["t"], [CONFIG], [59.0])
    demand = np.array([0.3])
    heat = tanks.headroom_kw(0.25, demand)
    tanks.step(heat, demand, 0.25)
    assert tanks.temp_c[0] == pytest.approx(60.0)


@settings(max_examples=50, deadline=None)
@given(
    steps=st.lists(st.tuples(st.floats(0, 15), st.floats(0, 15)), min_size=1, max_size=50),
    dt_h=st.sampled_from([1 / 60, 0.25]),
    start_c=st.floats(20, 60),
)
def test_heat_in_equals_stored_change_plus_draw_off_plus_losses(steps, dt_h, start_c):
    tanks = TankBank(["t"], [CONFIG], [start_c])
    for heat, demand in steps:
        tanks.step(np.array([heat]), np.array([demand]), dt_h)
        assert tanks.temp_c[0] >= CONFIG.ambient_temp_c - 1e-9
    stored_change = tanks.stored_kwh - tanks.initial_stored_kwh
    balance = tanks.heat_in_kwh - stored_change - tanks.draw_off_kwh - tanks.losses_kwh
    assert abs(balance[0]) < 1e-9
    assert tanks.draw_off_kwh[0] + tanks.unserved_heat_kwh[0] == pytest.approx(
        sum(d for _, d in steps) * dt_h
    )
