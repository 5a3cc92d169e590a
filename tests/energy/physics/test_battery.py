"""BatteryBank: efficiencies, limits and energy accounts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy.config import BatteryConfig
from energy.physics.battery import BatteryBank


def _bank(**overrides: float) -> BatteryBank:
    params = {
        "capacity_kwh": 10.0,
        "charge_max_kw": 5.0,
        "discharge_max_kw": 4.0,
        "charge_efficiency_frac": 0.9,
        "discharge_efficiency_frac": 0.8,
        "soc_min_frac": 0.1,
        "soc_max_frac": 0.9,
        "standby_loss_frac_per_h": 0.0,
        "initial_soc_frac": 0.5,
    }
    params.update(overrides)
    return BatteryBank(["b"], [BatteryConfig(**params)])


def test_charge_and_discharge_efficiencies():
    bank = _bank()
    bank.apply(np.array([2.0]), 1.0)
    assert bank.energy_kwh[0] == pytest.approx(5.0 + 2.0 * 0.9)
    bank.apply(np.array([-1.6]), 1.0)
    assert bank.energy_kwh[0] == pytest.approx(6.8 - 1.6 / 0.8)
    assert bank.conversion_loss_kwh[0] == pytest.approx(0.2 + 0.4)


def test_power_and_soc_limits():
    bank = _bank()
    assert bank.apply(np.array([50.0]), 0.01)[0] == pytest.approx(5.0)
    assert bank.apply(np.array([-50.0]), 0.01)[0] == pytest.approx(-4.0)
    full = _bank(initial_soc_frac=0.9)
    assert full.apply(np.array([3.0]), 0.25)[0] == 0.0
    nearly_empty = _bank(initial_soc_frac=0.12)
    # 0.2 kWh above the minimum, delivered over one hour at 80 %: 0.16 kW
    assert nearly_empty.apply(np.array([-3.0]), 1.0)[0] == pytest.approx(-0.16)
    assert nearly_empty.soc_frac[0] == pytest.approx(0.1)


def test_standby_loss_is_a_fraction_of_stored_energy():
    bank = _bank(standby_loss_frac_per_h=0.01)
    bank.apply(np.array([0.0]), 2.0)
    assert bank.standby_loss_kwh[0] == pytest.approx(5.0 * 0.02)
    assert bank.energy_kwh[0] == pytest.approx(5.0 * 0.98)


@settings(max_examples=50, deadline=None)
@given(
    targets=st.lists(st.floats(-20, 20, allow_nan=False), min_size=1, max_size=60),
    dt_h=st.sampled_from([1 / 3600, 1 / 60, 0.25, 1.0]),
    standby=st.floats(0, 0.05),
)
def test_accounts_balance_and_bounds_hold(targets, dt_h, standby):
    bank = _bank(standby_loss_frac_per_h=standby)
    for target in targets:
        power = bank.apply(np.array([target]), dt_h)[0]
        assert -4.0 - 1e-12 <= power <= 5.0 + 1e-12
        assert bank.energy_kwh[0] <= bank.energy_max_kwh[0] + 1e-9
        assert bank.energy_kwh[0] >= 0.0
    balance = (
        bank.charged_kwh
        - bank.discharged_kwh
        - (bank.energy_kwh - bank.initial_energy_kwh)
        - bank.conversion_loss_kwh
        - bank.standby_loss_kwh
    )
    assert abs(balance[0]) < 1e-9
