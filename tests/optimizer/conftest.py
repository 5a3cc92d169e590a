"""Small sites and inputs whose optimal plans can be worked out by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from energy.config import SiteConfig
from energy.site import Site
from energy.timegrid import SLOT_HOURS
from optimizer import GRID_ID, DispatchInputs, DispatchResult
from optimizer.plant import Plant

START = pd.Timestamp("2026-01-15T00:00:00Z")


def battery(**overrides: Any) -> dict[str, Any]:
    spec = {
        "capacity_kwh": 10.0,
        "charge_max_kw": 10.0,
        "discharge_max_kw": 10.0,
        "charge_efficiency_frac": 1.0,
        "discharge_efficiency_frac": 1.0,
        "soc_min_frac": 0.0,
        "soc_max_frac": 1.0,
        "standby_loss_frac_per_h": 0.0,
        "initial_soc_frac": 0.0,
        "cycle_cost_eur_per_kwh": 0.0,
    }
    spec.update(overrides)
    return spec


def heat_pump(**overrides: Any) -> dict[str, Any]:
    spec = {
        "source": "ground",
        "electric_min_kw": 0.0,
        "electric_max_kw": 3.0,
        "thermal_max_kw": 20.0,
        "carnot_efficiency_frac": 0.5,
        "supply_temp_c": 45.0,
        "ground_temp_c": 10.0,
        "min_on_minutes": 0,
        "min_off_minutes": 0,
    }
    spec.update(overrides)
    return spec


def tank(**overrides: Any) -> dict[str, Any]:
    spec = {
        "volume_l": 200.0,
        "temp_min_c": 40.0,
        "temp_max_c": 60.0,
        "loss_w_per_k": 0.0,
        "ambient_temp_c": 18.0,
        "initial_temp_c": 40.0,
        "comfort_penalty_eur_per_kwh": 2.0,
    }
    spec.update(overrides)
    return spec


def make_site(
    houses: list[dict[str, Any]],
    *,
    community: list[dict[str, Any]] | None = None,
    grid: dict[str, Any] | None = None,
    tariff: dict[str, Any] | None = None,
    objective: dict[str, Any] | None = None,
    ev_chargers: list[dict[str, Any]] | None = None,
) -> Site:
    """A site from compact house specs: {"id": ..., "battery": {...}, "heat_pump": {...}, ...}."""
    full_houses = []
    for spec in houses:
        house = {
            "name": spec["id"],
            "annual_electricity_kwh": 3000.0,
            "annual_space_heat_kwh": 8000.0,
            "annual_hot_water_kwh": 2000.0,
        }
        house.update(spec)
        full_houses.append(house)
    data = {
        "id": "test-site",
        "name": "Test site",
        "location": {"latitude_deg": 51.56, "longitude_deg": 7.25},
        "grid": grid or {"import_limit_kw": 100.0, "export_limit_kw": 100.0},
        "tariff": tariff or {"kind": "fixed", "fixed_price_eur_per_kwh": 0.3},
        "objective": objective or {"kind": "cost"},
        "houses": full_houses,
        "community_batteries": community or [],
        "ev_chargers": ev_chargers or [],
    }
    return Site.from_config(SiteConfig.model_validate(data))


def make_inputs(
    site: Site,
    n_slots: int,
    *,
    price: Any = 0.3,
    export_price: Any = 0.0,
    temp: Any = 5.0,
    load: dict[str, Any] | None = None,
    pv: dict[str, Any] | None = None,
    heat: dict[str, Any] | None = None,
    co2: Any = None,
    cap: dict[str, Any] | None = None,
    index: pd.DatetimeIndex | None = None,
) -> DispatchInputs:
    """Inputs with every series broadcast to n_slots; unspecified assets get zeros."""
    plant = Plant.from_site(site)

    def full(value: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, dtype=float), (n_slots,)).copy()

    load = load or {}
    pv = pv or {}
    heat = heat or {}
    if index is None:
        index = pd.date_range(START, periods=n_slots, freq="15min")
    return DispatchInputs(
        index=index,
        price_import_eur_per_kwh=full(price),
        price_export_eur_per_kwh=full(export_price),
        temp_outdoor_c=full(temp),
        load_kw={h: full(load.get(h, 0.0)) for h in plant.houses},
        pv_kw={u.id: full(pv.get(u.id, 0.0)) for u in plant.pvs},
        heat_demand_kw={h: full(heat.get(h, 0.0)) for h in plant.tank_houses},
        co2_g_per_kwh=None if co2 is None else full(co2),
        power_cap_kw={k: full(v) for k, v in (cap or {}).items()},
    )


def balance_residual(site: Site, inputs: DispatchInputs, result: DispatchResult) -> np.ndarray:
    """import - export - (loads + battery charging + heat pumps + EV charging - PV used), per
    slot (kW)."""
    plant = Plant.from_site(site)
    v = result.values
    demand = sum((inputs.load_kw[h] for h in plant.houses), np.zeros(inputs.n_slots))
    demand = demand + sum((v[(b.id, "power_kw")] for b in plant.batteries), 0.0)
    demand = demand + sum((v[(h.id, "power_kw")] for h in plant.heat_pumps), 0.0)
    demand = demand + sum((v[(c.id, "power_kw")] for c in plant.ev_chargers), 0.0)
    demand = demand - sum((v[(p.id, "power_kw")] for p in plant.pvs), 0.0)
    return v[(GRID_ID, "import_kw")] - v[(GRID_ID, "export_kw")] - demand


def battery_energy_residual(
    site: Site, state_soc: dict[str, float], result: DispatchResult
) -> float:
    """Largest mismatch of the battery energy balance over the plan (kWh)."""
    plant = Plant.from_site(site)
    worst = 0.0
    for b in plant.batteries:
        cfg = b.config
        power = result.values[(b.id, "power_kw")]
        energy = result.values[(b.id, "energy_end_kwh")]
        previous = np.concatenate([[state_soc[b.id] * cfg.capacity_kwh], energy[:-1]])
        keep = 1.0 - cfg.standby_loss_frac_per_h * SLOT_HOURS
        stored = np.where(
            power >= 0, power * cfg.charge_efficiency_frac, power / cfg.discharge_efficiency_frac
        )
        expected = keep * previous + SLOT_HOURS * stored
        worst = max(worst, float(np.abs(expected - energy).max()))
    return worst


@pytest.fixture
def site_factory() -> Callable[..., Site]:
    return make_site
