"""What the MPC policy knows about the future: forecasts issued on a cadence, trained on the past.

- `train_forecaster`: a `forecasting.ForecastService` fitted on the simulated district's realised
  series before the evaluation starts (the same profile generator and seed: "last year" of the
  same district). Nothing from the evaluation period is seen.
- `IssuedForecasts`: issues a weather forecast (`forecasting.weather_error`, the realised weather
  plus an error growing with lead time) and the service's forecast at every issue time of the
  cadence, and hands the latest issue to every planning cycle in between, as the live loop does
  with the newest forecast in its store. The forecaster only ever receives history before its
  issue time. `in_force` gives, for the slots before a planning time, the median forecast each
  was planned with: what the nowcast measures the latest errors against (in the live loop, the
  newest stored forecast issued at or before each slot).
- `ForecastOracle` (a diagnostic for analysts): the realised values instead of the forecast for
  some target kinds, over the whole horizon or its first slots: what a better forecast of each
  would be worth (docs/evaluation.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy.control.planning import Forecaster
from energy.physics.profiles import WEATHER_COLUMNS
from energy.site import Site
from energy.timegrid import SLOT, floor_slot
from forecasting.config import ForecastConfig
from forecasting.service import ForecastService
from forecasting.targets import TargetKind, site_targets
from forecasting.weather_error import simulate_weather_forecast

__all__ = [
    "ForecastOracle",
    "IssuedForecasts",
    "LatestForecast",
    "planning_targets",
    "train_forecaster",
]

logger = logging.getLogger(__name__)


def planning_targets(site: Site) -> list[str]:
    """The forecast targets the planning cycle uses: per house load, heat demand and PV."""
    return [t.name for t in site_targets(site) if t.house_id is not None]


def train_forecaster(
    site: Site,
    history: pd.DataFrame,
    config: ForecastConfig,
    progress: Callable[[str], None] | None = None,
) -> ForecastService:
    """Fit the forecaster on `history`: realised series before the evaluation period only."""
    logger.info(
        "training the forecaster on %s..%s (%d slots)",
        history.index[0].isoformat(),
        history.index[-1].isoformat(),
        len(history),
    )
    service = ForecastService(site, config, targets=planning_targets(site))
    return service.fit(history, progress)


class IssuedForecasts:
    """Weather and demand/PV forecasts issued every `every_slots` slots (aligned to UTC midnight).

    realised: the world's realised profiles (history and actual weather). `at(t)` returns the
    (forecast frame, weather forecast) of the latest issue at or before slot t, issuing it first
    when t is an issue time; the first call issues at once, whatever the cadence.
    """

    def __init__(
        self,
        service: ForecastService,
        realised: pd.DataFrame,
        every_slots: int,
    ):
        if every_slots < 1:
            raise ValueError(f"forecast cadence: expected >= 1 slot; found {every_slots}")
        self.service = service
        self.every = every_slots * SLOT
        self.horizon_slots = service.config.horizon_slots
        self._realised = realised
        self._weather = realised[[c for c in WEATHER_COLUMNS if c in realised.columns]]
        self._issue: pd.Timestamp | None = None
        self._forecast: pd.DataFrame | None = None
        self._weather_forecast: pd.DataFrame | None = None
        self.targets = pd.Index([t.name for t in service.targets])
        # the median in force per slot of `realised`, written at each issue for the slots it
        # serves (read only for slots already past)
        self._in_force = np.full((len(realised), len(self.targets)), np.nan)
        self._index = pd.DatetimeIndex(realised.index)
        self.issues = 0
        #: wall-clock seconds spent issuing (for the run's timing figures)
        self.seconds = 0.0

    def issue_time(self, slot: pd.Timestamp) -> pd.Timestamp:
        """The latest cadence issue time at or before slot."""
        slot = floor_slot(slot)
        midnight = slot.floor("D")
        return midnight + ((slot - midnight) // self.every) * self.every

    def at(self, slot: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
        if self._issue is None:
            self._issue_at(floor_slot(slot))
        else:
            issue = self.issue_time(slot)
            if issue > self._issue:
                self._issue_at(issue)
        assert self._forecast is not None
        assert self._weather_forecast is not None
        return self._forecast, self._weather_forecast

    def _issue_at(self, issue: pd.Timestamp) -> None:
        started = time.perf_counter()
        weather = simulate_weather_forecast(
            self._weather, issue, self.horizon_slots, self.service.config.weather_error
        )
        history = self._realised.loc[: issue - SLOT]
        self._forecast = self.service.predict(issue, history, weather)
        self._weather_forecast = weather
        self._issue = issue
        self._record_in_force(issue)
        self.issues += 1
        self.seconds += time.perf_counter() - started

    def _record_in_force(self, issue: pd.Timestamp) -> None:
        """The new issue's median is in force from its issue until the next one."""
        assert self._forecast is not None
        served = self._forecast["valid_time"] < issue + self.every
        median = self._forecast[served & np.isclose(self._forecast["quantile"], 0.5)]
        wide = median.pivot(index="valid_time", columns="target", values="value")
        rows = self._index.get_indexer(pd.DatetimeIndex(wide.index).tz_convert("UTC"))
        columns = wide.reindex(columns=self.targets).to_numpy(dtype=float)
        found = rows >= 0
        self._in_force[rows[found]] = columns[found]

    def in_force(self, slot: pd.Timestamp, slots: int) -> pd.DataFrame:
        """The median forecast each of the `slots` slots before `slot` was planned with (NaN
        before the first issue)."""
        end = int(self._index.searchsorted(floor_slot(slot)))
        start = max(0, end - slots)
        return pd.DataFrame(
            self._in_force[start:end], index=self._index[start:end], columns=self.targets
        )


class LatestForecast:
    """The planning cycle's forecaster in the closed loop: the latest issued forecast."""

    def __init__(self, issued: IssuedForecasts):
        self.issued = issued

    def predict(
        self, issue_time: pd.Timestamp, history: pd.DataFrame, weather_forecast: pd.DataFrame
    ) -> pd.DataFrame:
        forecast, _ = self.issued.at(issue_time)
        return forecast


@dataclass(frozen=True)
class ForecastOracle:
    """Diagnostic: the MPC gets the realised values instead of the forecast for the target kinds
    `kinds` (load, heat, pv), in the first `slots` slots of every plan (None: the whole
    horizon). The nowcast, if on, still corrects the result; turn it off to measure the forecast
    as issued."""

    kinds: tuple[str, ...]
    slots: int | None = None

    def __post_init__(self) -> None:
        known = {k.value for k in TargetKind}
        unknown = sorted(set(self.kinds) - known)
        if unknown or not self.kinds:
            raise ValueError(
                f"forecast oracle kinds: expected one or more of {sorted(known)}; "
                f"found {list(self.kinds)}"
            )
        if self.slots is not None and self.slots < 1:
            raise ValueError(f"forecast oracle slots: expected >= 1 or None; found {self.slots}")

    def wrap(self, forecaster: Forecaster, realised: pd.DataFrame) -> Forecaster:
        return _PartlyRealised(forecaster, realised, self)


class _PartlyRealised:
    """A forecaster whose output is replaced by realised values where the oracle says."""

    def __init__(self, inner: Forecaster, realised: pd.DataFrame, oracle: ForecastOracle):
        self.inner, self.oracle = inner, oracle
        suffixes = tuple(f":{TargetKind(kind).quantity}" for kind in oracle.kinds)
        self.columns = [c for c in realised.columns if c.endswith(suffixes)]
        self.values = realised[self.columns].stack().clip(lower=0.0)

    def predict(
        self, issue_time: pd.Timestamp, history: pd.DataFrame, weather_forecast: pd.DataFrame
    ) -> pd.DataFrame:
        frame = self.inner.predict(issue_time, history, weather_forecast).copy()
        start = floor_slot(issue_time)
        replace = frame["target"].isin(self.columns) & (frame["valid_time"] >= start)
        if self.oracle.slots is not None:
            replace &= frame["valid_time"] < start + self.oracle.slots * SLOT
        rows = frame[replace]
        keys = pd.MultiIndex.from_arrays([rows["valid_time"], rows["target"]])
        frame.loc[replace, "value"] = self.values.reindex(keys).to_numpy()
        return frame
