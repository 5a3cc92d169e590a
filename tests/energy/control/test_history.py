"""A site's forecasting history from the store: only GOOD measurements count."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy.control.history import store_history
from energy.quality import Quality
from energy.site import Site
from energy.store.engine import Store
from energy.store.measurements import write_measurements


def test_store_history_reads_good_measurements_only(store: Store, site: Site) -> None:
    times = pd.date_range("2026-03-01T00:00Z", periods=8, freq="15min")
    rows = [("house-01", "load_kw", t, 0.5 + i, int(Quality.GOOD)) for i, t in enumerate(times)]
    rows[3] = ("house-01", "load_kw", times[3], 99.0, int(Quality.STALE))
    rows += [("weather", "temp_outdoor_c", t, 4.0, int(Quality.GOOD)) for t in times]
    frame = pd.DataFrame(rows, columns=["asset_id", "quantity", "time", "value", "quality"])
    write_measurements(store, site.id, frame)
    history = store_history(store, site, times[0], times[-1] + pd.Timedelta(minutes=15))
    assert list(history.index) == list(times)
    load = history["house-01:load_kw"]
    assert load.iloc[0] == 0.5
    assert np.isnan(load.iloc[3])
    assert (history["temp_outdoor_c"] == 4.0).all()
    assert history["house-02:load_kw"].isna().all()
