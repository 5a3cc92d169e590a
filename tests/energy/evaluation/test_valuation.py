"""The energy left in store is worth what it saves after the period."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from energy.evaluation.valuation import Continuation
from energy.physics.profiles import district_profiles
from energy.site import Site
from optimizer import DispatchState
from optimizer.plant import Plant

HORIZON_SLOTS = 96


def _continuation(site: Site, end: str) -> Continuation:
    at = pd.Timestamp(end)
    realised = district_profiles(site, at - pd.Timedelta(days=2), at + pd.Timedelta(days=2))
    return Continuation(site, at, realised, HORIZON_SLOTS)


def _fuller(site: Site, state: DispatchState, kwh: float) -> DispatchState:
    """`state` with `kwh` more in every battery (within capacity)."""
    capacity = {b.id: b.config.capacity_kwh for b in Plant.from_site(site).batteries}
    return replace(
        state,
        soc_frac={a: min(s + kwh / capacity[a], 1.0) for a, s in state.soc_frac.items()},
    )


@pytest.fixture(scope="module")
def winter(site: Site) -> Continuation:
    return _continuation(site, "2026-01-14T23:00:00Z")


@pytest.fixture(scope="module")
def summer(site: Site) -> Continuation:
    return _continuation(site, "2026-07-14T22:00:00Z")


def test_the_same_state_is_worth_nothing(site: Site, winter: Continuation) -> None:
    state = DispatchState.initial(site)
    assert winter.value_eur(state, state) == pytest.approx(0.0, abs=0.01)


def test_more_energy_in_store_is_worth_more_in_winter_than_in_summer(
    site: Site, winter: Continuation, summer: Continuation
) -> None:
    low = replace(
        DispatchState.initial(site),
        soc_frac=dict.fromkeys(DispatchState.initial(site).soc_frac, 0.2),
    )
    winter_eur = winter.value_eur(low, _fuller(site, low, 2.0))
    summer_eur = summer.value_eur(low, _fuller(site, low, 2.0))
    batteries = len(low.soc_frac)
    # a winter night's kWh displaces an import, a summer night's the next day's surplus
    assert winter_eur > 0
    assert summer_eur >= 0
    assert winter_eur > summer_eur
    # never more than the dearest import it could displace
    assert winter_eur < 2.0 * batteries * 0.6


def test_refuses_profiles_that_end_before_the_continuation(site: Site) -> None:
    at = pd.Timestamp("2026-01-14T23:00:00Z")
    realised = district_profiles(site, at - pd.Timedelta(days=1), at + pd.Timedelta(hours=6))
    with pytest.raises(ValueError, match="continuation after 2026-01-14T23:00:00"):
        Continuation(site, at, realised, HORIZON_SLOTS)


def test_each_state_is_solved_once_and_off_is_the_default(site: Site, winter: Continuation) -> None:
    initial = DispatchState.initial(site)
    pumps = [hp.id for hp in Plant.from_site(site).heat_pumps]
    off = replace(initial, hp_on=dict.fromkeys(pumps, False))
    first = winter.cost_eur(initial)
    solved = winter.solves
    assert winter.cost_eur(off) == first
    assert winter.solves == solved
    on = replace(initial, hp_on={pumps[0]: True})
    winter.cost_eur(on)
    assert winter.solves == solved + 1
