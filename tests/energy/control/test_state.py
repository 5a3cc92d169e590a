"""Freshness of the measured state: stale values are never controlled on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from energy.control.state import read_site_state
from energy.quality import Quality
from energy.site import AssetKind, Site
from energy.store import Store

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def test_fresh_values_make_every_device_controllable(
    store: Store, site: Site, measure: Callable[..., None]
) -> None:
    measure(NOW - dt.timedelta(seconds=5))
    state = read_site_state(store, site, NOW, stale_after_s=30)
    assert state.stale == {}
    assert all(state.controllable(a.id) for a in site.devices())
    optimizer_state = state.dispatch_state(site)
    batteries = {a.id for a in site.of_kind(AssetKind.BATTERY)}
    assert set(optimizer_state.soc_frac) == batteries
    assert set(optimizer_state.tank_temp_c) == {a.id for a in site.of_kind(AssetKind.TANK)}
    assert optimizer_state.soc_frac["house-01.battery"] == pytest.approx(0.5)
    assert optimizer_state.hp_on["house-01.hp"] is False
    assert optimizer_state.ev_need_kwh == {"carport-ev": pytest.approx(5.0)}


def test_a_device_reporting_stale_quality_is_not_controllable(
    store: Store, site: Site, measure: Callable[..., None]
) -> None:
    measure(NOW - dt.timedelta(seconds=5), quality={"house-02.battery": Quality.STALE})
    state = read_site_state(store, site, NOW, stale_after_s=30)
    assert set(state.stale) == {"house-02.battery"}
    assert "soc_frac quality STALE" in state.stale["house-02.battery"]
    assert not state.controllable("house-02.battery")
    assert state.controllable("house-01.battery")
    # a stale value is never handed to the optimizer: the configured state stands in
    assert "house-02.battery" not in state.dispatch_state(site).soc_frac


def test_old_or_missing_values_are_stale_with_their_age(
    store: Store, site: Site, measure: Callable[..., None]
) -> None:
    measure(NOW - dt.timedelta(seconds=45))
    state = read_site_state(store, site, NOW, stale_after_s=30)
    assert set(state.stale) == {a.id for a in site.devices()}
    assert "45 s old" in state.stale["house-01.hp"]
    empty = read_site_state(store, site, NOW + dt.timedelta(hours=1), stale_after_s=30)
    assert "no soc_frac measured yet" in empty.stale["house-03.battery"]
    assert "no need_kwh measured yet" in empty.stale["carport-ev"]


def test_a_stale_grid_meter_stops_control_of_every_device(
    store: Store, site: Site, measure: Callable[..., None]
) -> None:
    measure(NOW - dt.timedelta(seconds=5), quality={"grid.meter": Quality.INVALID})
    state = read_site_state(store, site, NOW, stale_after_s=30)
    assert state.site_inputs_stale
    assert not any(state.controllable(a.id) for a in site.devices())


def test_values_after_now_are_not_read(
    store: Store, site: Site, measure: Callable[..., None]
) -> None:
    measure(NOW + dt.timedelta(seconds=5))
    state = read_site_state(store, site, NOW, stale_after_s=30)
    assert len(state.stale) == len(list(site.devices()))
