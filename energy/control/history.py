"""A site's forecasting history read from the store's measurements.

Store convention (measurements): a house's load and heat demand are series of the house asset with
quantities `load_kw` and `heat_demand_kw`; PV is the `<house>.pv` asset's `pv_kw`; weather actuals
are series of the asset `weather` (WEATHER_ASSET) with the weather column names as quantities.
The frame is the one the forecasters train and issue on (`forecasting.data`'s column names).
"""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

from energy.quality import USABLE
from energy.site import Site
from energy.store.engine import Store
from energy.store.measurements import read_series
from energy.timegrid import SLOT, as_utc, slot_grid
from forecasting.features import WEATHER_COLUMNS
from forecasting.targets import site_targets

__all__ = ["WEATHER_ASSET", "store_history"]

log = logging.getLogger(__name__)

WEATHER_ASSET = "weather"


def store_history(
    store: Store, site: Site, start: dt.datetime | pd.Timestamp, end: dt.datetime | pd.Timestamp
) -> pd.DataFrame:
    """Targets and weather actuals of a site from the store's measurements (see module doc).

    Values whose quality is not usable (GOOD, SUBSTITUTED) are treated as missing.
    """
    grid = slot_grid(as_utc(start), as_utc(end))
    columns: dict[str, pd.Series] = {}
    wanted: list[tuple[str, str, str]] = []
    for target in site_targets(site):
        if target.house_id is None:
            continue
        asset, quantity = target.name.split(":")
        wanted.append((target.name, asset, quantity))
    wanted += [(name, WEATHER_ASSET, name) for name in WEATHER_COLUMNS]
    for name, asset, quantity in wanted:
        frame = read_series(store, site.id, asset, quantity, grid[0], grid[-1] + SLOT)
        # only usable values train or feed a model: a stale or invalid reading is missing, not
        # data; a derived value with a known stand-in (energy.quality.Quality.SUBSTITUTED) is data
        good = frame["value"].where(frame["quality"].isin([int(q) for q in USABLE]))
        columns[name] = good.reindex(grid)
    data = pd.DataFrame(columns, index=grid)
    empty = [name for name, values in data.items() if values.isna().all()]
    if empty:
        log.warning("store has no measurements in the window for: %s", ", ".join(empty))
    return data
