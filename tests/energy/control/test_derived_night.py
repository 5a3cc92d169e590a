"""A house's load is still derived while its PV inverter sleeps at night, flagged SUBSTITUTED;
by day a silent inverter leaves the slot missing (a wrong load is worse than none)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from energy.control.derived import derive_slot
from energy.control.history import store_history
from energy.quality import Quality
from energy.site import Site
from energy.store import Store
from energy.store.measurements import write_measurements

NIGHT = dt.datetime(2026, 1, 15, 1, 0, tzinfo=dt.UTC)  # 02:00 local
DAY = dt.datetime(2026, 1, 15, 11, 0, tzinfo=dt.UTC)  # noon local


def _slot_without_pv(store: Store, site: Site, start: dt.datetime) -> None:
    """House 1's meter, heat pump and battery answer three times in the slot; the PV does not."""
    values = {
        ("house-01.meter", "power_kw"): 3.0,
        ("house-01.hp", "electric_power_kw"): 1.0,
        ("house-01.battery", "power_kw"): -0.5,
    }
    rows = [
        (asset, quantity, start + dt.timedelta(minutes=minute), value, int(Quality.GOOD))
        for (asset, quantity), value in values.items()
        for minute in (1, 6, 11)
    ]
    frame = pd.DataFrame(rows, columns=["asset_id", "quantity", "time", "value", "quality"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    write_measurements(store, site.id, frame)


def _house_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["asset_id"].isin(["house-01", "house-01.pv"])]


def test_at_night_the_load_is_derived_with_the_inverter_at_zero_and_flagged(
    sqlite_store: Store, site: Site
) -> None:
    _slot_without_pv(sqlite_store, site, NIGHT)
    rows = _house_rows(derive_slot(sqlite_store, site, NIGHT))
    assert list(rows["quantity"]) == ["load_kw"]  # no PV value is invented
    (load,) = rows.itertuples()
    assert load.value == pytest.approx(3.0 - 1.0 + 0.0 + 0.5)
    assert load.quality == int(Quality.SUBSTITUTED)
    write_measurements(
        sqlite_store, site.id, rows.assign(time=pd.to_datetime(rows["time"], utc=True))
    )
    history = store_history(sqlite_store, site, NIGHT, NIGHT + dt.timedelta(minutes=15))
    assert history.loc[pd.Timestamp(NIGHT), "house-01:load_kw"] == pytest.approx(2.5)


def test_by_day_a_silent_inverter_leaves_the_load_missing(sqlite_store: Store, site: Site) -> None:
    _slot_without_pv(sqlite_store, site, DAY)
    assert _house_rows(derive_slot(sqlite_store, site, DAY)).empty
