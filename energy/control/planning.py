"""One planning cycle: forecasts, prices and the measured state in, a dispatch plan out.

`PlanningCycle` is the code path shared by the live control loop and the closed-loop evaluation:
the live loop wraps it with store reads (history, state) and writes (forecasts, plans); the
evaluation feeds it the simulated district. It is pure: no store, no Modbus, no clock. Everything
time-dependent arrives as arguments, so the same call gives the same plan anywhere.

Where each optimizer input comes from:

- household load, PV and heat demand: the forecaster's median (quantile 0.5) for the horizon,
  corrected by the latest measured errors when the cycle has a `nowcast` and is given the
  forecast that was in force for the last slots (`forecasting.nowcast`: errors persist over
  hours, and only the first slot of a plan is run); or, with `forecaster=None` ("perfect
  foresight"), the realised values that `history` then has to cover up to the horizon end;
- import/export prices and CO2: `energy.tariff.tariff_series` of the site configuration;
- outdoor temperature: the weather forecast's `temp_outdoor_c`;
- grid-operator limits (section 14a EnWG dimming, feed-in limits): `ExternalLimits`, while they
  are in force: caps per heat pump and the grid import and export bounds of each slot;
- the state: as measured, with a comfort reserve (`DispatchState.tank_reserve_k`, see
  TANK_RESERVE_K): the plan keeps every tank `tank_reserve_k` above its minimum, against the
  optimizer's model error. Only the lower end of the band is tightened: a tank can be planned up
  to its temp_max_c, where the real one stops.

Frames passed in are treated as immutable: their columns are cached as arrays while the same
frame object comes again (the evaluation passes one frame for a whole year).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from energy.site import Site
from energy.tariff import tariff_series
from energy.timegrid import SLOT, as_utc, floor_slot, slot_grid
from forecasting.nowcast import Nowcast
from optimizer import DispatchInputs, DispatchOptimizer, DispatchResult, DispatchState
from optimizer.plant import Plant

__all__ = [
    "MEDIAN",
    "TANK_RESERVE_K",
    "ExternalLimits",
    "Forecaster",
    "PlanningCycle",
    "PlanningInputError",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: The quantile of the forecast the optimizer plans with.
MEDIAN = 0.5
#: Default comfort reserve: the optimizer keeps every tank this much above its minimum, so that
#: model error (COP at the tank temperature, slot-average heat, discrete heat pump power) does not
#: take the real tank below it (constraint tightening of the lower comfort bound only; planning
#: with the tank seen this much colder instead would also promise heat above temp_max_c that the
#: real tank cannot take).
TANK_RESERVE_K = 2.0
#: Tariff series are computed for windows of this many days and sliced per cycle.
_TARIFF_WINDOW = pd.Timedelta(days=14)


class PlanningInputError(ValueError):
    """A forecast, weather forecast or history does not cover what the cycle needs."""


class Forecaster(Protocol):
    """What the cycle needs of a forecaster (forecasting.ForecastService fits it).

    predict returns a long frame with columns target, quantile, valid_time and value (among
    others), where target is `<house>:load_kw`, `<house>:heat_demand_kw` or `<house>.pv:pv_kw`.
    """

    def predict(
        self, issue_time: pd.Timestamp, history: pd.DataFrame, weather_forecast: pd.DataFrame
    ) -> pd.DataFrame: ...


@dataclass(frozen=True)
class ExternalLimits:
    """Limits set from outside the platform, which override the optimizer.

    heat_pump_cap_kw: grid-operator dimming cap (section 14a EnWG) per heat pump, in kW of
    electric power; battery_charge_cap_kw and ev_charge_cap_kw: the same for batteries and EV
    chargers charging; dimming_kw: what the
    controllable devices may draw together at the connection point (the sum of their caps), which
    the optimizer adds to the household load as the grid import bound of each slot.
    feed_in_limit_kw: a temporary cap on the district's export at the grid connection (the
    optimizer's export bound; PV limits when commands are made). All hold from now until `until`
    (None: until further notice).
    """

    heat_pump_cap_kw: Mapping[str, float] = field(default_factory=dict)
    feed_in_limit_kw: float | None = None
    until: pd.Timestamp | None = None
    battery_charge_cap_kw: Mapping[str, float] = field(default_factory=dict)
    dimming_kw: float | None = None
    ev_charge_cap_kw: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = [
            f"external limit {name} of {a!r}: expected a number >= 0; found {v!r}"
            for name in ("heat_pump_cap_kw", "battery_charge_cap_kw", "ev_charge_cap_kw")
            for a, v in getattr(self, name).items()
            if not (np.isfinite(v) and v >= 0)
        ]
        for name in ("feed_in_limit_kw", "dimming_kw"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value >= 0):
                problems.append(f"external limit {name}: expected a number >= 0; found {value!r}")
        if problems:
            raise ValueError("; ".join(problems))
        if self.until is not None:
            object.__setattr__(self, "until", as_utc(self.until))

    def in_force(self, slot_start: pd.Timestamp) -> bool:
        return self.until is None or as_utc(slot_start) < self.until

    def active_over(self, index: pd.DatetimeIndex) -> npt.NDArray[np.bool_]:
        """Per slot of `index`, whether the limits are in force in it."""
        if self.until is None:
            return np.ones(len(index), dtype=bool)
        return np.asarray(index < self.until)

    def grid_bounds_over(
        self, index: pd.DatetimeIndex, household_load_kw: FloatArray
    ) -> tuple[FloatArray | None, FloatArray | None]:
        """The optimizer's (import, export) bound per slot: the household load plus dimming_kw,
        and feed_in_limit_kw, while in force (inf after; None: no limit of that kind)."""
        active = self.active_over(index)
        imports = exports = None
        if self.dimming_kw is not None:
            imports = np.where(active, household_load_kw + self.dimming_kw, np.inf)
        if self.feed_in_limit_kw is not None:
            exports = np.where(active, self.feed_in_limit_kw, np.inf)
        return imports, exports

    def caps_over(
        self, index: pd.DatetimeIndex, electric_max_kw: Mapping[str, float]
    ) -> dict[str, FloatArray]:
        """Per capped heat pump or EV charger, its cap per slot of `index`; where the cap is no
        longer in force, the device's rating in `electric_max_kw` (a cap that never binds: the
        inputs must be finite)."""
        active = self.active_over(index)
        return {
            asset: np.where(active, min(float(cap), electric_max_kw[asset]), electric_max_kw[asset])
            for asset, cap in [*self.heat_pump_cap_kw.items(), *self.ev_charge_cap_kw.items()]
            if asset in electric_max_kw
        }


class PlanningCycle:
    """Builds the optimizer's inputs for an issue time and plans from the measured state.

    site: the district; optimizer: built once for `site` and re-solved warm every cycle;
    forecaster: a fitted forecaster, or None for perfect foresight (realised values taken from
    `history`, which must then reach the horizon end). horizon_slots defaults to the optimizer's.
    tank_reserve_k: kelvin the optimizer keeps every tank above its minimum (TANK_RESERVE_K).
    nowcast: the forecaster's intraday corrections (`ForecastService.nowcast()`), applied when a
    cycle is given the forecast in force for the last slots; None: the forecast as issued.
    """

    def __init__(
        self,
        site: Site,
        optimizer: DispatchOptimizer,
        forecaster: Forecaster | None,
        horizon_slots: int | None = None,
        tank_reserve_k: float = TANK_RESERVE_K,
        nowcast: Nowcast | None = None,
    ):
        if not (np.isfinite(tank_reserve_k) and tank_reserve_k >= 0):
            raise ValueError(f"tank_reserve_k: expected a number >= 0; found {tank_reserve_k!r}")
        horizon = optimizer.horizon_slots if horizon_slots is None else horizon_slots
        if horizon != optimizer.horizon_slots:
            raise ValueError(
                f"planning horizon: expected the optimizer's {optimizer.horizon_slots} slots; "
                f"found {horizon}"
            )
        self.site = site
        self.optimizer = optimizer
        self.forecaster = forecaster
        self.horizon_slots = horizon
        self.tank_reserve_k = float(tank_reserve_k)
        self.nowcast = nowcast
        plant = Plant.from_site(site)
        self._houses = plant.houses
        self._pv_ids = tuple(pv.id for pv in plant.pvs)
        self._tank_houses = plant.tank_houses
        self._hp_max_kw = {hp.id: hp.config.electric_max_kw for hp in plant.heat_pumps} | {
            ev.id: ev.config.charge_max_kw for ev in plant.ev_chargers
        }
        self._tariff: pd.DataFrame | None = None
        self._blocks: dict[str, _Block] = {}
        self._positions: dict[str, tuple[pd.Index, npt.NDArray[np.intp]]] = {}
        self._wide: tuple[pd.DataFrame, pd.DataFrame] | None = None
        #: the forecast frame behind the latest inputs (None for perfect foresight)
        self.last_forecast: pd.DataFrame | None = None
        #: the optimizer's inputs of the last plan (what the plan was made with)
        self.last_inputs: DispatchInputs | None = None
        #: day-ahead prices [EUR/MWh] for the tariff (the live loop's, from the store); None:
        #: the tariff's price file
        self.market_prices: pd.Series | None = None

    def horizon(self, issue_time: pd.Timestamp) -> pd.DatetimeIndex:
        """The slots planned at issue_time: [floor(issue), + horizon_slots)."""
        start = floor_slot(issue_time)
        return slot_grid(start, start + self.horizon_slots * SLOT)

    def inputs(
        self,
        issue_time: pd.Timestamp,
        history: pd.DataFrame,
        weather_forecast: pd.DataFrame,
        external_limits: ExternalLimits | None = None,
        forecast_in_force: pd.DataFrame | None = None,
    ) -> DispatchInputs:
        """The optimizer's inputs for the horizon starting at the slot of issue_time.

        history: measured series on the 15-minute UTC grid (columns `<house>:load_kw`,
        `<house>:heat_demand_kw`, `<house>.pv:pv_kw`, weather); weather_forecast: at least
        temp_outdoor_c for every slot of the horizon; forecast_in_force: the median forecast
        each of the last slots was planned with, as issued (index: slots before issue_time,
        columns: forecast targets; missing slots and targets are left uncorrected), for the
        nowcast.
        """
        index = self.horizon(issue_time)
        if self.forecaster is None:
            self.last_forecast = None
            values = self._realised(history, index)
        else:
            forecast = self.forecaster.predict(index[0], history, weather_forecast)
            self.last_forecast = forecast
            values = self._median(forecast, index)
            if self.nowcast is not None and forecast_in_force is not None:
                errors = self._recent_errors(history, forecast_in_force, index[0])
                values = self.nowcast.apply(values, errors)
        tariff = self._tariff_over(index)
        caps = (
            external_limits.caps_over(index, self._hp_max_kw) if external_limits is not None else {}
        )
        import_bound = export_bound = None
        if external_limits is not None:
            household = np.sum([values[f"{h}:load_kw"] for h in self._houses], axis=0)
            import_bound, export_bound = external_limits.grid_bounds_over(index, household)
        return DispatchInputs(
            index=index,
            price_import_eur_per_kwh=tariff["price_import_eur_per_kwh"],
            price_export_eur_per_kwh=tariff["price_export_eur_per_kwh"],
            co2_g_per_kwh=tariff["co2_g_per_kwh"],
            temp_outdoor_c=self._temperature(weather_forecast, index),
            load_kw={h: values[f"{h}:load_kw"] for h in self._houses},
            pv_kw={pv: values[f"{pv}:pv_kw"] for pv in self._pv_ids},
            heat_demand_kw={h: values[f"{h}:heat_demand_kw"] for h in self._tank_houses},
            power_cap_kw=caps,
            import_limit_kw=import_bound,
            export_limit_kw=export_bound,
        )

    def plan(
        self,
        issue_time: pd.Timestamp,
        state: DispatchState,
        history: pd.DataFrame,
        weather_forecast: pd.DataFrame,
        external_limits: ExternalLimits | None = None,
        forecast_in_force: pd.DataFrame | None = None,
        storage_value_eur_per_kwh: Mapping[str, float] | None = None,
    ) -> DispatchResult:
        """Inputs for issue_time, then one (warm) optimizer solve from the measured state (with
        the comfort reserve). storage_value_eur_per_kwh: what energy left in each store at the
        horizon's end is worth (a longer plan's view), instead of the tariff's terminal value."""
        inputs = self.inputs(
            issue_time, history, weather_forecast, external_limits, forecast_in_force
        )
        if storage_value_eur_per_kwh:
            inputs = replace(inputs, storage_value_eur_per_kwh=dict(storage_value_eur_per_kwh))
        self.last_inputs = inputs
        return self.optimizer.solve(inputs, self.planning_state(state))

    def planning_state(self, state: DispatchState) -> DispatchState:
        """The measured state as the optimizer gets it: with the comfort reserve."""
        return replace(state, tank_reserve_k=self.tank_reserve_k)

    # ------------------------------------------------------------------ sources

    def _columns(self) -> list[str]:
        return (
            [f"{h}:load_kw" for h in self._houses]
            + [f"{pv}:pv_kw" for pv in self._pv_ids]
            + [f"{h}:heat_demand_kw" for h in self._tank_houses]
        )

    def _block(self, frame: pd.DataFrame, columns: list[str], what: str) -> _Block:
        """The columns of frame as a _Block, reused while the same frame object comes again."""
        cached = self._blocks.get(what)
        if cached is not None and cached.frame is frame:
            return cached
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise PlanningInputError(f"{what}: expected columns {missing}; found them missing")
        block = _Block(frame, columns)
        self._blocks[what] = block
        return block

    def _window(
        self, frame: pd.DataFrame, columns: list[str], index: pd.DatetimeIndex, what: str
    ) -> dict[str, FloatArray]:
        values = self._block(frame, columns, what).rows(index)
        gaps = np.isnan(values).any(axis=1)
        if gaps.any():
            row = int(np.argmax(gaps))
            empty = [c for j, c in enumerate(columns) if np.isnan(values[row, j])]
            raise PlanningInputError(
                f"{what}: expected values for every slot of {index[0].isoformat()}.."
                f"{index[-1].isoformat()} ({len(index)} slots); found the first gap at "
                f"{index[row].isoformat()} in {', '.join(empty[:5])}"
            )
        return {c: values[:, j] for j, c in enumerate(columns)}

    def _realised(self, history: pd.DataFrame, index: pd.DatetimeIndex) -> dict[str, FloatArray]:
        values = self._window(history, self._columns(), index, "perfect foresight (history)")
        return {c: np.clip(v, 0.0, None) for c, v in values.items()}

    def _median(self, forecast: pd.DataFrame, index: pd.DatetimeIndex) -> dict[str, FloatArray]:
        cached = self._wide
        if cached is None or cached[0] is not forecast:
            median = forecast[np.isclose(forecast["quantile"].to_numpy(dtype=float), MEDIAN)]
            wide = median.pivot(index="valid_time", columns="target", values="value")
            wide.index = pd.DatetimeIndex(wide.index).tz_convert("UTC")
            cached = (forecast, wide)
            self._wide = cached
        # one cache entry for the forecast: its block is rebuilt when a new forecast comes
        values = self._window(cached[1], self._columns(), index, "median forecast")
        # quantile models can dip slightly below zero; the optimizer rejects negative demand
        return {c: np.clip(v, 0.0, None) for c, v in values.items()}

    def _recent_errors(
        self, history: pd.DataFrame, forecast_in_force: pd.DataFrame, start: pd.Timestamp
    ) -> dict[str, FloatArray]:
        """Measured minus in-force forecast over the nowcast's lookback before start (oldest
        first; NaN where either is missing)."""
        assert self.nowcast is not None
        targets = list(self.nowcast.corrections)
        slots = self.nowcast.lookback_slots
        measured = self._recent_rows(history, targets, start, slots, "history")
        planned = self._recent_rows(forecast_in_force, targets, start, slots, "in force")
        errors = measured - planned
        return {target: errors[:, j] for j, target in enumerate(targets)}

    def _recent_rows(
        self, frame: pd.DataFrame, columns: list[str], start: pd.Timestamp, slots: int, what: str
    ) -> FloatArray:
        """Values of `columns` in the `slots` slots before `start`, oldest first (NaN where the
        frame has no such slot or column). Reads only the frame's rows just before start (the
        closed loop hands over a year of history every slot) and looks the columns up once per
        set of frame columns."""
        out = np.full((slots, len(columns)), np.nan)
        if frame.empty or slots == 0:
            return out
        cached = self._positions.get(what)
        if cached is None or not (cached[0] is frame.columns or cached[0].equals(frame.columns)):
            cached = (frame.columns, frame.columns.get_indexer(columns))
            self._positions[what] = cached
        positions = cached[1]
        present = np.flatnonzero(positions >= 0)
        index = pd.DatetimeIndex(frame.index)
        end = int(index.searchsorted(start))
        begin = max(0, end - slots)
        if end == begin or len(present) == 0:
            return out
        values = frame.iloc[begin:end].to_numpy(dtype=float)[:, positions[present]]
        past = slot_grid(start - slots * SLOT, start)
        out[:, present] = _rows_at(index[begin:end], values, past)
        return out

    def _temperature(self, weather_forecast: pd.DataFrame, index: pd.DatetimeIndex) -> FloatArray:
        columns = ["temp_outdoor_c"]
        return self._window(weather_forecast, columns, index, "weather forecast")[columns[0]]

    def _tariff_over(self, index: pd.DatetimeIndex) -> dict[str, FloatArray]:
        """Tariff rows of `index`, from a cached window computed a fortnight at a time (with
        market prices handed in: computed for the horizon, they change with every fetch)."""
        if self.market_prices is not None:
            live = tariff_series(self.site.config, index, self.market_prices).frame()
            return {c: live[c].to_numpy(dtype=float) for c in live.columns}
        cached = self._tariff
        if cached is None or index[0] < cached.index[0] or index[-1] > cached.index[-1]:
            start = index[0].floor("D")
            end = max(start + _TARIFF_WINDOW, index[-1] + SLOT)
            cached = tariff_series(self.site.config, slot_grid(start, end)).frame()
            self._tariff = cached
        return self._window(cached, list(cached.columns), index, "tariff")


class _Block:
    """Named columns of a frame on the slot grid as one array, for cheap horizon windows.

    Frames handed to the cycle are treated as immutable: a block is reused while the same frame
    object comes again.
    """

    def __init__(self, frame: pd.DataFrame, columns: list[str]):
        self.frame = frame
        self.index = pd.DatetimeIndex(frame.index)
        self.values = frame[columns].to_numpy(dtype=float)

    def rows(self, index: pd.DatetimeIndex) -> FloatArray:
        """Values at the slots of `index` (NaN where missing)."""
        return _rows_at(self.index, self.values, index)


def _rows_at(grid: pd.DatetimeIndex, values: FloatArray, index: pd.DatetimeIndex) -> FloatArray:
    """The rows of `values` (one per slot of `grid`) at the slots of `index`, NaN where grid
    has no such slot."""
    n = len(index)
    first = int(grid.searchsorted(index[0]))
    last = first + n - 1
    # both grids are strictly increasing 15-minute slots: equal ends mean equal slots
    if last < len(grid) and grid[first] == index[0] and grid[last] == index[-1]:
        return values[first : last + 1]
    positions = grid.get_indexer(index)
    out = np.full((n, values.shape[1]), np.nan)
    found = positions >= 0
    out[found] = values[positions[found]]
    return out
