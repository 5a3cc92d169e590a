"""What one optimization needs besides the site: per-slot forecasts and prices, and the state now.

`DispatchInputs` holds one value per slot for every time-varying input; `DispatchState` the
measured state at the first slot's start. Both are checked against the plant before a solve, and
every problem is reported with where it is, what was expected and what was found.

Column names used in frames and files: `price_import_eur_per_kwh`, `price_export_eur_per_kwh`,
`temp_outdoor_c`, optional `co2_g_per_kwh`, and per asset `<asset_id>:<quantity>` with quantity
`load_kw` (house), `pv_kw` (PV system), `heat_demand_kw` (house with a heat pump) and the optional
§14a EnWG dimming cap `power_cap_kw` (heat pump or EV charger). EV charging sessions come from the
site configuration (`energy.ev.session_marks`), not from the inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from energy.site import Site
from energy.timegrid import SLOT, SLOT_MINUTES
from optimizer.plant import Plant

__all__ = ["SITE_COLUMNS", "DispatchInputs", "DispatchState", "InputError"]

FloatArray = npt.NDArray[np.float64]

#: Site-wide input columns; co2 is optional.
SITE_COLUMNS = ("price_import_eur_per_kwh", "price_export_eur_per_kwh", "temp_outdoor_c")
OPTIONAL_SITE_COLUMNS = ("co2_g_per_kwh",)


class InputError(ValueError):
    """Inputs or state that cannot be used; lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "; ".join(problems)
            if len(problems) == 1
            else f"{len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def _as_array(values: object) -> FloatArray:
    return np.asarray(values, dtype=float).reshape(-1)


@dataclass(frozen=True)
class DispatchInputs:
    """Per-slot inputs over a horizon; every array has one value per slot of `index`.

    Prices in EUR per kWh, powers in kW averaged over the slot, temperatures in degC and the
    emission factor in g CO2 per kWh imported.
    """

    index: pd.DatetimeIndex
    price_import_eur_per_kwh: FloatArray
    price_export_eur_per_kwh: FloatArray
    temp_outdoor_c: FloatArray
    load_kw: Mapping[str, FloatArray]
    pv_kw: Mapping[str, FloatArray]
    heat_demand_kw: Mapping[str, FloatArray]
    co2_g_per_kwh: FloatArray | None = None
    power_cap_kw: Mapping[str, FloatArray] = field(default_factory=dict)
    #: what a kWh left in a battery or tank (by asset id) at the horizon's end is worth, in
    #: objective units; replaces the tariff-derived terminal value for those stores (a longer
    #: plan's marginal values, for example)
    storage_value_eur_per_kwh: Mapping[str, float] = field(default_factory=dict)
    #: grid-operator bounds at the connection point per slot, kW (§14a dimming as an import
    #: bound, a temporary feed-in limit as an export bound; inf: none in that slot). The
    #: tighter of these and the configured grid limits applies.
    import_limit_kw: FloatArray | None = None
    export_limit_kw: FloatArray | None = None

    def __post_init__(self) -> None:
        for name in ("price_import_eur_per_kwh", "price_export_eur_per_kwh", "temp_outdoor_c"):
            object.__setattr__(self, name, _as_array(getattr(self, name)))
        for name in ("co2_g_per_kwh", "import_limit_kw", "export_limit_kw"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _as_array(getattr(self, name)))
        for name in ("load_kw", "pv_kw", "heat_demand_kw", "power_cap_kw"):
            object.__setattr__(
                self, name, {k: _as_array(v) for k, v in getattr(self, name).items()}
            )

    @property
    def n_slots(self) -> int:
        return len(self.index)

    def grid_bounds_kw(
        self, import_limit_kw: float, export_limit_kw: float
    ) -> tuple[FloatArray, FloatArray]:
        """The (import, export) bound of each slot: the configured limits, tightened where the
        per-slot grid-operator bounds are lower (never below 0)."""

        def tightened(configured: float, per_slot: FloatArray | None) -> FloatArray:
            bound = np.full(self.n_slots, configured)
            if per_slot is not None:
                bound = np.minimum(bound, np.maximum(per_slot, 0.0))
            return bound

        return (
            tightened(import_limit_kw, self.import_limit_kw),
            tightened(export_limit_kw, self.export_limit_kw),
        )

    def series(self) -> dict[str, FloatArray]:
        """Every input as `column name -> array`, the naming of frames and files."""
        out: dict[str, FloatArray] = {
            "price_import_eur_per_kwh": self.price_import_eur_per_kwh,
            "price_export_eur_per_kwh": self.price_export_eur_per_kwh,
            "temp_outdoor_c": self.temp_outdoor_c,
        }
        if self.co2_g_per_kwh is not None:
            out["co2_g_per_kwh"] = self.co2_g_per_kwh
        for quantity in ("load_kw", "pv_kw", "heat_demand_kw", "power_cap_kw"):
            for asset_id, values in getattr(self, quantity).items():
                out[f"{asset_id}:{quantity}"] = values
        return out

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.series(), index=self.index)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> DispatchInputs:
        """Build from a frame indexed by slot start (UTC-aware) with the documented columns."""
        per_asset: dict[str, dict[str, FloatArray]] = {
            "load_kw": {},
            "pv_kw": {},
            "heat_demand_kw": {},
            "power_cap_kw": {},
        }
        unknown = []
        for column in frame.columns:
            name = str(column)
            if name in SITE_COLUMNS or name in OPTIONAL_SITE_COLUMNS:
                continue
            asset_id, _, quantity = name.partition(":")
            if quantity not in per_asset:
                unknown.append(name)
                continue
            per_asset[quantity][asset_id] = frame[column].to_numpy(dtype=float)
        problems = [
            f"column {c!r}: expected a site column ({', '.join(SITE_COLUMNS)}) or "
            f"<asset_id>:<{'|'.join(per_asset)}>; found an unknown column"
            for c in unknown
        ]
        problems += [
            f"column {c!r}: expected it; found it missing"
            for c in SITE_COLUMNS
            if c not in frame.columns
        ]
        if problems:
            raise InputError(problems)
        co2 = frame["co2_g_per_kwh"].to_numpy(dtype=float) if "co2_g_per_kwh" in frame else None
        return cls(
            index=pd.DatetimeIndex(frame.index),
            price_import_eur_per_kwh=frame["price_import_eur_per_kwh"].to_numpy(dtype=float),
            price_export_eur_per_kwh=frame["price_export_eur_per_kwh"].to_numpy(dtype=float),
            temp_outdoor_c=frame["temp_outdoor_c"].to_numpy(dtype=float),
            co2_g_per_kwh=co2,
            load_kw=per_asset["load_kw"],
            pv_kw=per_asset["pv_kw"],
            heat_demand_kw=per_asset["heat_demand_kw"],
            power_cap_kw=per_asset["power_cap_kw"],
        )

    def window(self, start: int, n_slots: int) -> DispatchInputs:
        """The slots [start, start + n_slots) as new inputs (for rolling a horizon forward)."""
        cut = slice(start, start + n_slots)
        return DispatchInputs(
            index=self.index[cut],
            price_import_eur_per_kwh=self.price_import_eur_per_kwh[cut],
            price_export_eur_per_kwh=self.price_export_eur_per_kwh[cut],
            temp_outdoor_c=self.temp_outdoor_c[cut],
            co2_g_per_kwh=None if self.co2_g_per_kwh is None else self.co2_g_per_kwh[cut],
            load_kw={k: v[cut] for k, v in self.load_kw.items()},
            pv_kw={k: v[cut] for k, v in self.pv_kw.items()},
            heat_demand_kw={k: v[cut] for k, v in self.heat_demand_kw.items()},
            power_cap_kw={k: v[cut] for k, v in self.power_cap_kw.items()},
            storage_value_eur_per_kwh=dict(self.storage_value_eur_per_kwh),
            import_limit_kw=None if self.import_limit_kw is None else self.import_limit_kw[cut],
            export_limit_kw=None if self.export_limit_kw is None else self.export_limit_kw[cut],
        )

    def check(self, plant: Plant, n_slots: int | None = None) -> None:
        """Raise InputError unless the inputs fit the plant and (if given) the horizon length."""
        problems: list[str] = []
        index = self.index
        if n_slots is not None and len(index) != n_slots:
            problems.append(f"horizon: expected {n_slots} slots; found {len(index)}")
        if index.tz is None:
            problems.append("index: expected UTC-aware slot starts; found naive timestamps")
        elif len(index):
            off_grid = index[index != index.floor(f"{SLOT_MINUTES}min")]
            if len(off_grid):
                problems.append(
                    f"index: expected {SLOT_MINUTES}-minute slot starts; found "
                    f"{off_grid[0].isoformat()}"
                )
            off_step = np.asarray((index[1:] - index[:-1]) != pd.Timedelta(SLOT))
            if off_step.any():
                bad = int(np.argmax(off_step))
                problems.append(
                    f"index: expected consecutive slots; found a step from "
                    f"{index[bad].isoformat()} to {index[bad + 1].isoformat()}"
                )
        expected = {
            "load_kw": set(plant.houses),
            "pv_kw": {p.id for p in plant.pvs},
            "heat_demand_kw": set(plant.tank_houses),
        }
        for quantity, needed in expected.items():
            given = set(getattr(self, quantity))
            problems += [
                f"column '{a}:{quantity}': expected it for asset {a!r}; found it missing"
                for a in sorted(needed - given)
            ]
            problems += [
                f"column '{a}:{quantity}': expected an asset of the site with "
                f"{quantity}; found unknown asset {a!r}"
                for a in sorted(given - needed)
            ]
        capped = {hp.id for hp in plant.heat_pumps} | {c.id for c in plant.ev_chargers}
        problems += [
            f"column '{a}:power_cap_kw': expected a heat pump or EV charger of the site; found "
            f"unknown asset {a!r}"
            for a in sorted(set(self.power_cap_kw) - capped)
        ]
        stores = {b.id for b in plant.batteries} | {hp.tank_id for hp in plant.heat_pumps}
        for store, value in sorted(self.storage_value_eur_per_kwh.items()):
            if store not in stores:
                problems.append(
                    f"storage value of {store!r}: expected a battery or tank of the site; found "
                    "an unknown asset"
                )
            elif not (np.isfinite(value) and value >= 0):
                problems.append(
                    f"storage value of {store!r}: expected a finite number >= 0; found {value}"
                )
        for name, values in self.series().items():
            if len(values) != len(index):
                problems.append(
                    f"column {name!r}: expected {len(index)} values; found {len(values)}"
                )
            elif not np.isfinite(values).all():
                row = int(np.argmax(~np.isfinite(values)))
                problems.append(
                    f"column {name!r} at {index[row].isoformat()}: expected a finite "
                    f"number; found {values[row]}"
                )
            elif (
                name.endswith(("load_kw", "pv_kw", "heat_demand_kw", "power_cap_kw"))
                and (values < 0).any()
            ):
                row = int(np.argmax(values < 0))
                problems.append(
                    f"column {name!r} at {index[row].isoformat()}: expected >= 0; "
                    f"found {values[row]}"
                )
        if problems:
            raise InputError(problems)


@dataclass(frozen=True)
class DispatchState:
    """Measured state at the start of the horizon.

    `hp_on` and `hp_minutes_in_state` say whether each heat pump runs and since when, so that
    minimum on and off times carry over from the previous horizon. `peak_import_kw` is the highest
    import already reached in the billing period (a peak charge only prices what goes above it).
    `tank_reserve_k` is a comfort reserve the planner asks for: the plan keeps every tank this many
    kelvin above its temp_min_c (soft, at the tank's comfort penalty), against model error. It
    tightens only the lower end of the comfort band: temp_max_c stays where the tank really stops.
    `ev_need_kwh` is the energy each EV charger's car still needs by its departure (into the car;
    0 when no car is plugged in or it has what it needs; missing chargers count 0).
    """

    soc_frac: Mapping[str, float] = field(default_factory=dict)
    tank_temp_c: Mapping[str, float] = field(default_factory=dict)
    hp_on: Mapping[str, bool] = field(default_factory=dict)
    hp_minutes_in_state: Mapping[str, float] = field(default_factory=dict)
    peak_import_kw: float = 0.0
    tank_reserve_k: float = 0.0
    ev_need_kwh: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def initial(cls, site: Site) -> DispatchState:
        """The configuration's initial state (tanks without one start mid-band), heat pumps off."""
        plant = Plant.from_site(site)
        return cls(
            soc_frac={b.id: b.config.initial_soc_frac for b in plant.batteries},
            tank_temp_c={
                hp.tank_id: (
                    hp.tank.initial_temp_c
                    if hp.tank.initial_temp_c is not None
                    else (hp.tank.temp_min_c + hp.tank.temp_max_c) / 2.0
                )
                for hp in plant.heat_pumps
            },
        )

    def completed(self, site: Site) -> DispatchState:
        """This state with every missing battery or tank taken from the configuration."""
        base = DispatchState.initial(site)
        return DispatchState(
            soc_frac={**base.soc_frac, **self.soc_frac},
            tank_temp_c={**base.tank_temp_c, **self.tank_temp_c},
            hp_on=dict(self.hp_on),
            hp_minutes_in_state=dict(self.hp_minutes_in_state),
            peak_import_kw=self.peak_import_kw,
            tank_reserve_k=self.tank_reserve_k,
            ev_need_kwh=dict(self.ev_need_kwh),
        )

    def check(self, plant: Plant) -> None:
        """Raise InputError for unknown assets or non-finite values (out-of-bounds values are not
        errors: the plan reports them as violations)."""
        problems = []
        known = {
            "soc_frac": {b.id for b in plant.batteries},
            "tank_temp_c": {hp.tank_id for hp in plant.heat_pumps},
            "hp_on": {hp.id for hp in plant.heat_pumps},
            "hp_minutes_in_state": {hp.id for hp in plant.heat_pumps},
            "ev_need_kwh": {c.id for c in plant.ev_chargers},
        }
        for name, ids in known.items():
            values: Mapping[str, float] = getattr(self, name)
            for asset_id, value in values.items():
                if asset_id not in ids:
                    problems.append(
                        f"state {name} of {asset_id!r}: expected one of "
                        f"{', '.join(sorted(ids)) or '(none)'}; found unknown asset"
                    )
                elif not math.isfinite(float(value)):
                    problems.append(
                        f"state {name} of {asset_id!r}: expected a finite number; found {value}"
                    )
        for asset_id, need in self.ev_need_kwh.items():
            if math.isfinite(float(need)) and need < 0:
                problems.append(f"state ev_need_kwh of {asset_id!r}: expected >= 0; found {need}")
        for asset_id, minutes in self.hp_minutes_in_state.items():
            if math.isfinite(float(minutes)) and minutes < 0:
                problems.append(
                    f"state hp_minutes_in_state of {asset_id!r}: expected >= 0; found {minutes}"
                )
        if not math.isfinite(self.peak_import_kw) or self.peak_import_kw < 0:
            problems.append(
                f"state peak_import_kw: expected a finite number >= 0; found {self.peak_import_kw}"
            )
        if not math.isfinite(self.tank_reserve_k) or self.tank_reserve_k < 0:
            problems.append(
                f"state tank_reserve_k: expected a finite number >= 0; found {self.tank_reserve_k}"
            )
        if problems:
            raise InputError(problems)
