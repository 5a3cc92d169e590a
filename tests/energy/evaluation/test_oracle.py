"""The long view's seasonal naive expectation: what mpc's long plans see."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy.evaluation.oracle import seasonal_view
from energy.timegrid import SLOT

T = pd.Timestamp("2026-10-05T06:00:00Z")


def profiles(days_before: int, days_after: int, seed: int = 0) -> pd.DataFrame:
    index = pd.date_range(T - pd.Timedelta(days=days_before), T + pd.Timedelta(days=days_after),
                          freq=SLOT, inclusive="left")  # fmt: skip
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"house-01:load_kw": rng.random(len(index)), "temp_outdoor_c": rng.random(len(index))},
        index=index,
    )


def test_the_horizon_repeats_the_week_before() -> None:
    realised = profiles(14, 14)
    view = seasonal_view(T, realised, 7 * 96)
    future = view.loc[T:]
    assert len(future) == 7 * 96
    week_before = realised.loc[T - pd.Timedelta(days=7) : T - SLOT]
    np.testing.assert_array_equal(future.to_numpy(), week_before.to_numpy())
    pd.testing.assert_frame_equal(view.loc[: T - SLOT], realised.loc[: T - SLOT])


def test_slots_a_week_ahead_or_more_repeat_two_weeks_before() -> None:
    realised = profiles(14, 14)
    view = seasonal_view(T, realised, 8 * 96)
    late = T + pd.Timedelta(days=7)
    assert view.loc[late].equals(realised.loc[late - pd.Timedelta(days=14)].rename(late))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1000))
def test_nothing_at_or_after_t_is_read(seed: int) -> None:
    realised = profiles(8, 9)
    changed = realised.copy()
    changed.loc[T:] = profiles(8, 9, seed).loc[T:]
    pd.testing.assert_frame_equal(
        seasonal_view(T, realised, 7 * 96), seasonal_view(T, changed, 7 * 96)
    )


def test_too_short_a_history_is_named() -> None:
    with pytest.raises(ValueError, match=r"no history at 2026-09-28T06:00.*\(192 slots\)"):
        seasonal_view(T, profiles(5, 9), 7 * 96)
