"""DispatchInputs and DispatchState: round trips and the checks against the plant."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy.site import load_site
from optimizer import DispatchInputs, DispatchState, InputError, synthetic_inputs
from optimizer.plant import Plant


@pytest.fixture(scope="module")
def site():
    return load_site()


@pytest.fixture(scope="module")
def plant(site):
    return Plant.from_site(site)


@pytest.fixture
def inputs(site):
    return synthetic_inputs(site, "2026-03-29T00:00:00+01:00", 8, seed=1)


def test_frame_round_trip(inputs):
    again = DispatchInputs.from_frame(inputs.to_frame())
    assert again.index.equals(inputs.index)
    for name, values in inputs.series().items():
        np.testing.assert_array_equal(again.series()[name], values)


def test_window_moves_the_horizon(inputs):
    later = inputs.window(2, 4)
    assert later.index[0] == inputs.index[2]
    assert later.n_slots == 4
    np.testing.assert_array_equal(later.load_kw["house-01"], inputs.load_kw["house-01"][2:6])


def test_check_accepts_good_inputs(inputs, plant):
    inputs.check(plant, 8)


def test_check_names_every_problem(inputs, plant):
    frame = inputs.to_frame().drop(columns=["house-02:load_kw"])
    frame.loc[frame.index[3], "house-01.pv:pv_kw"] = np.nan
    frame["house-01.hp:power_cap_kw"] = -1.0
    bad = DispatchInputs.from_frame(frame)
    with pytest.raises(InputError) as info:
        bad.check(plant, 9)
    text = str(info.value)
    assert "horizon: expected 9 slots; found 8" in text
    assert "'house-02:load_kw': expected it" in text
    assert "'house-01.pv:pv_kw' at 2026-03-28T23:45:00+00:00: expected a finite number" in text
    assert "'house-01.hp:power_cap_kw' at 2026-03-28T23:00:00+00:00: expected >= 0" in text


def test_check_rejects_naive_and_gapped_indexes(inputs, plant):
    naive = DispatchInputs.from_frame(inputs.to_frame().tz_localize(None))
    with pytest.raises(InputError, match="naive"):
        naive.check(plant)
    gapped = DispatchInputs.from_frame(inputs.to_frame().drop(index=inputs.index[3]))
    with pytest.raises(InputError, match="consecutive"):
        gapped.check(plant)


def test_unknown_columns_are_refused():
    frame = pd.DataFrame(
        {
            "price_import_eur_per_kwh": [0.3],
            "price_export_eur_per_kwh": [0.1],
            "temp_outdoor_c": [5.0],
            "house-01:wind_kw": [1.0],
        },
        index=pd.DatetimeIndex(["2026-01-01T00:00Z"]),
    )
    with pytest.raises(InputError, match="house-01:wind_kw"):
        DispatchInputs.from_frame(frame)


def test_state_defaults_and_checks(site, plant):
    state = DispatchState(soc_frac={"house-01.battery": 0.3}).completed(site)
    assert state.soc_frac["house-01.battery"] == 0.3
    assert state.soc_frac["house-03.battery"] == 0.5
    assert state.tank_temp_c["house-03.tank"] == 48.0
    assert dict(state.ev_need_kwh) == {}
    with pytest.raises(InputError, match=r"ev_need_kwh of 'carport-ev': expected >= 0"):
        DispatchState(ev_need_kwh={"carport-ev": -1.0}).check(plant)
    with pytest.raises(InputError, match=r"ev_need_kwh of 'carport-9'.*unknown"):
        DispatchState(ev_need_kwh={"carport-9": 1.0}).check(plant)
    with pytest.raises(InputError, match=r"house-99\.battery"):
        DispatchState(soc_frac={"house-99.battery": 0.3}).check(plant)
    with pytest.raises(InputError, match="finite"):
        DispatchState(tank_temp_c={"house-01.tank": float("nan")}).check(plant)
