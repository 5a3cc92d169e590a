"""The figures of a closed-loop run, from the simulated meters and the tariff, never from a plan.

Per slot: cost = import x import price - export x export price (EUR), CO2 = import x the grid
emission factor. Per period (the whole run, and each local calendar month):

- cost_eur: energy cost plus the peak charge on the period's peak (tariff peak_import_charge);
- grid_import_kwh, grid_export_kwh, peak_import_kw (highest 15-minute average import);
- self_sufficiency_frac = 1 - import / consumption, consumption = household load + heat pumps +
  EV charging (the site's autarky aim: the share of consumption covered locally);
- self_consumption_frac = 1 - export / PV generation;
- co2_kg; comfort_violation_kh (kelvin-hours of tanks below temp_min_c, summed over tanks);
- unserved_heat_kwh; pv_curtailed_kwh;
- battery_full_cycles: discharged energy / capacity, over all batteries together (and per
  battery for the whole run);
- ev_charging_kwh (AC energy into the EV chargers) and ev_short_kwh (energy cars lacked at
  their departures: a service failure, like unserved heat).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from energy.config import SiteConfig
from energy.evaluation.closed_loop import PolicyRun
from energy.evaluation.tracking import plan_tracking
from energy.tariff import tariff_series

__all__ = [
    "FIGURES",
    "comparison",
    "meter_slots",
    "monthly_figures",
    "period_figures",
    "run_summary",
    "slot_frame",
]

#: Figures of a period, in report order.
FIGURES = (
    "cost_eur",
    "import_cost_eur",
    "export_revenue_eur",
    "peak_charge_eur",
    "grid_import_kwh",
    "grid_export_kwh",
    "peak_import_kw",
    "self_sufficiency_frac",
    "self_consumption_frac",
    "co2_kg",
    "comfort_violation_kh",
    "unserved_heat_kwh",
    "ev_short_kwh",
    "battery_full_cycles",
    "pv_curtailed_kwh",
    "load_kwh",
    "hp_electric_kwh",
    "ev_charging_kwh",
    "pv_kwh",
)


def slot_frame(config: SiteConfig, run: PolicyRun) -> pd.DataFrame:
    """The run's per-slot records with prices, cost and CO2 per slot."""
    return meter_slots(config, run.slots)


def meter_slots(config: SiteConfig, slots: pd.DataFrame) -> pd.DataFrame:
    """Per-slot energy records (grid_import_kwh, grid_export_kwh, ...) billed under the
    config's tariff: prices, cost and CO2 per slot."""
    frame = slots.copy()
    tariff = tariff_series(config, pd.DatetimeIndex(frame.index)).frame()
    frame = frame.join(tariff)
    frame["import_cost_eur"] = frame["grid_import_kwh"] * frame["price_import_eur_per_kwh"]
    frame["export_revenue_eur"] = frame["grid_export_kwh"] * frame["price_export_eur_per_kwh"]
    frame["co2_kg"] = frame["grid_import_kwh"] * frame["co2_g_per_kwh"] / 1000.0
    return frame


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else float("nan")


def period_figures(
    config: SiteConfig, slots: pd.DataFrame, battery_capacity_kwh: float
) -> dict[str, float]:
    """Figures of one period from its rows of `slot_frame`."""
    total = slots.sum(numeric_only=True)
    peak_kw = float((slots["grid_import_kwh"] * 4.0).max()) if len(slots) else 0.0
    peak_eur = config.tariff.peak_import_charge_eur_per_kw * peak_kw
    consumption = float(total["load_kwh"] + total["hp_electric_kwh"] + total["ev_charging_kwh"])
    figures = {
        "import_cost_eur": float(total["import_cost_eur"]),
        "export_revenue_eur": float(total["export_revenue_eur"]),
        "peak_charge_eur": peak_eur,
        "cost_eur": float(total["import_cost_eur"] - total["export_revenue_eur"]) + peak_eur,
        "grid_import_kwh": float(total["grid_import_kwh"]),
        "grid_export_kwh": float(total["grid_export_kwh"]),
        "peak_import_kw": peak_kw,
        "self_sufficiency_frac": 1.0 - _ratio(float(total["grid_import_kwh"]), consumption),
        "self_consumption_frac": 1.0
        - _ratio(float(total["grid_export_kwh"]), float(total["pv_kwh"])),
        "co2_kg": float(total["co2_kg"]),
        "comfort_violation_kh": float(total["comfort_violation_kh"]),
        "unserved_heat_kwh": float(total["unserved_heat_kwh"]),
        "ev_short_kwh": float(total["ev_short_kwh"]),
        "battery_full_cycles": _ratio(float(total["battery_discharged_kwh"]), battery_capacity_kwh),
        # the difference of two sums of the same slots: clip the round-off below zero
        "pv_curtailed_kwh": max(0.0, float(total["pv_available_kwh"] - total["pv_kwh"])),
        "load_kwh": float(total["load_kwh"]),
        "hp_electric_kwh": float(total["hp_electric_kwh"]),
        "ev_charging_kwh": float(total["ev_charging_kwh"]),
        "pv_kwh": float(total["pv_kwh"]),
    }
    return {name: figures[name] for name in FIGURES}


def monthly_figures(config: SiteConfig, run: PolicyRun, slots: pd.DataFrame) -> pd.DataFrame:
    """One row per local calendar month (site time zone) touched by the run."""
    capacity = sum(b["capacity_kwh"] for b in run.batteries.values())
    local = pd.DatetimeIndex(slots.index).tz_convert(config.location.timezone)
    months = local.strftime("%Y-%m")
    rows = []
    for month, part in slots.groupby(np.asarray(months), sort=True):
        rows.append({"policy": run.policy.value, "month": month,
                     **period_figures(config, part, capacity)})  # fmt: skip
    return pd.DataFrame(rows)


def run_summary(config: SiteConfig, run: PolicyRun, slots: pd.DataFrame) -> dict[str, Any]:
    """The whole run: figures, per-battery cycles, stored energy change, plan stages, timing."""
    capacity = sum(b["capacity_kwh"] for b in run.batteries.values())
    figures = period_figures(config, slots, capacity)
    stored_eur = run.stored_energy_value_eur
    return {
        "policy": run.policy.value,
        "figures": figures,
        "stored_energy_value_eur": stored_eur,
        "cost_with_stored_energy_eur": figures["cost_eur"] - stored_eur,
        "battery_full_cycles_by_asset": {
            a: _ratio(b["discharged_kwh"], b["capacity_kwh"]) for a, b in run.batteries.items()
        },
        "stored_energy_change_kwh": run.stored_energy_change_kwh,
        "plan_stages": run.plan_stages,
        "plan_tracking": plan_tracking(slots),
        "legionella": {
            "completed": sum(t["completed"] for t in run.legionella.values()),
            "missed": sum(t["missed"] for t in run.legionella.values()),
            "by_tank": run.legionella,
        },
        "forecast_issues": run.forecast_issues,
        "timing": run.timing,
        "notes": run.notes,
    }


def comparison(summaries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Savings against the yardsticks, on costs with the stored energy valued.

    The reference a controller must beat is rule-tuned (the devices' own controllers with a
    commissioning engineer's setpoint); what is possible is the oracle. Shares are None where
    their denominator is not positive.
    """
    cost = {p: s["figures"]["cost_eur"] for p, s in summaries.items()}
    comfort = {p: s["figures"]["comfort_violation_kh"] for p, s in summaries.items()}
    # runs summarised before EV chargers were metered have neither figure
    ev_short = {p: s["figures"].get("ev_short_kwh", 0.0) for p, s in summaries.items()}
    autarky = {p: s["figures"].get("self_sufficiency_frac") for p, s in summaries.items()}
    adjusted = {p: s["cost_with_stored_energy_eur"] for p, s in summaries.items()}
    out: dict[str, Any] = {
        "cost_eur": cost,
        "cost_with_stored_energy_eur": adjusted,
        "comfort_violation_kh": comfort,
        "ev_short_kwh": ev_short,
        "self_sufficiency_frac": autarky,
    }
    for reference in ("rule", "rule-tuned"):
        if reference in adjusted:
            out[f"saving_vs_{reference.replace('-', '_')}_eur"] = {
                p: adjusted[reference] - c for p, c in adjusted.items() if p != reference
            }
    if {"rule-tuned", "mpc"} <= set(adjusted):
        tuned, mpc = adjusted["rule-tuned"], adjusted["mpc"]
        saving = _ratio(tuned - mpc, abs(tuned)) if tuned != 0 else None
        out["mpc_saving_vs_rule_tuned_frac"] = saving
        out["goal_mpc_4_percent_cheaper_than_rule_tuned"] = saving is not None and saving >= 0.04
        out["goal_mpc_comfort_not_worse_than_rule_tuned"] = (
            comfort["mpc"] <= comfort["rule-tuned"] + 1e-6
        )
        out["goal_mpc_ev_service_not_worse_than_rule_tuned"] = (
            ev_short["mpc"] <= ev_short["rule-tuned"] + 1e-6
        )
        if "oracle" in adjusted:
            possible = tuned - adjusted["oracle"]
            capture = _ratio(tuned - mpc, possible) if possible > 0 else None
            out["mpc_capture_of_oracle_saving_frac"] = capture
            out["goal_mpc_captures_75_percent_of_oracle"] = capture is not None and capture >= 0.75
    return out
