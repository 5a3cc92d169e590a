"""The rule-tuned yardstick: the devices' own controllers with a commissioning engineer's setpoint.

A utility compares the platform against what a competent installer gets from the devices alone.
For heat pumps that is the tank thermostat's setpoint: every kelvin less raises the COP and cuts
the tank's losses, until the tank no longer keeps comfort. The sweep runs the rule policy with one
setpoint for every heat pump, in 1 K steps down from the shipped setpoint towards the bottom of
the comfort band, and picks the cheapest (cost with the stored energy valued) whose comfort
violation is no worse than the shipped controllers'. Setpoints above the shipped one only add
losses and lift, so they are not tried; the sweep stops at the first setpoint whose comfort is
worse (a lower setpoint only keeps the tank colder).

Every tuned run also has the EV chargers charging in the cheapest quarter hours before each
departure (`energy.evaluation.timed_charging`); on a site with chargers the sweep therefore runs
the shipped setpoint once more with them (listed after the shipped point, setpoint None).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import pandas as pd

from energy.config import SiteConfig
from energy.evaluation.closed_loop import EvaluationOptions, Policy, PolicyRun, run_policy
from energy.evaluation.metrics import run_summary, slot_frame
from energy.evaluation.valuation import Continuation
from energy.physics.heatpump import thermostat_target_c
from energy.site import Site

__all__ = ["SweepPoint", "ThermostatTuning", "tune_thermostat", "with_thermostat_setpoint"]

logger = logging.getLogger(__name__)

#: Comfort counts as no worse within this many kelvin-hours (round-off of the counters).
COMFORT_TOLERANCE_KH = 1e-6


@dataclass(frozen=True)
class SweepPoint:
    """One setpoint of the sweep (None: as shipped) and what it cost; ev_charging_timed: the EV
    chargers charged in the cheapest quarter hours (the tuned controllers) or on arrival."""

    setpoint_c: float | None
    cost_eur: float
    cost_with_stored_energy_eur: float
    comfort_violation_kh: float
    ev_charging_timed: bool

    def to_dict(self) -> dict[str, float | bool | None]:
        return {
            "thermostat_setpoint_c": self.setpoint_c,
            "ev_charging_timed": self.ev_charging_timed,
            "cost_eur": self.cost_eur,
            "cost_with_stored_energy_eur": self.cost_with_stored_energy_eur,
            "comfort_violation_kh": self.comfort_violation_kh,
        }


@dataclass(frozen=True)
class ThermostatTuning:
    """The sweep's choice, its run and every point tried (shipped first)."""

    setpoint_c: float | None
    run: PolicyRun
    shipped: PolicyRun
    sweep: tuple[SweepPoint, ...]


def with_thermostat_setpoint(site: Site, setpoint_c: float) -> Site:
    """The site with every heat pump's thermostat setpoint set to setpoint_c."""
    raw = site.config.model_dump()
    for house in raw["houses"]:
        if house.get("heat_pump") is not None:
            house["heat_pump"]["thermostat_setpoint_c"] = setpoint_c
    return Site.from_config(SiteConfig.model_validate(raw))


def _point(site: Site, setpoint_c: float | None, run: PolicyRun) -> SweepPoint:
    """The run's figures as the report computes them."""
    summary = run_summary(site.config, run, slot_frame(site.config, run))
    return SweepPoint(
        setpoint_c,
        summary["figures"]["cost_eur"],
        summary["cost_with_stored_energy_eur"],
        summary["figures"]["comfort_violation_kh"],
        ev_charging_timed=run.policy == Policy.RULE_TUNED and bool(site.config.ev_chargers),
    )


def _candidates_c(site: Site) -> list[float]:
    """Whole-degree setpoints below the lowest shipped one, down to the highest tank minimum."""
    pumps = [(h.heat_pump, h.tank) for h in site.config.houses if h.heat_pump and h.tank]
    if not pumps:
        return []
    shipped = min(thermostat_target_c(hp, tank) for hp, tank in pumps)
    floor_c = max(tank.temp_min_c for _, tank in pumps)
    top = math.ceil(shipped) - 1
    return [float(t) for t in range(top, math.floor(floor_c) - 1, -1)]


def tune_thermostat(
    site: Site,
    start: pd.Timestamp,
    end: pd.Timestamp,
    options: EvaluationOptions,
    status: Callable[[str], None] | None = None,
    continuation: Continuation | None = None,
) -> ThermostatTuning:
    """Sweep the thermostat setpoint over [start, end) (see the module doc); `continuation`
    values every run's stored energy (`energy.evaluation.closed_loop.run_policy`)."""
    if continuation is None:
        continuation = Continuation.after(
            site,
            start,
            end,
            options.seed,
            options.valuation_horizon_slots,
            options.optimizer_options,
        )
    shipped_run = run_policy(site, Policy.RULE, start, end, options, continuation=continuation)
    shipped = _point(site, None, shipped_run)
    points = [shipped]
    best, best_run = (
        shipped,
        replace(shipped_run, policy=Policy.RULE_TUNED, notes=list(shipped_run.notes)),
    )
    if site.config.ev_chargers:
        # the tuned controllers differ from the shipped ones at the shipped setpoint already
        best_run = run_policy(
            site, Policy.RULE_TUNED, start, end, options, continuation=continuation
        )
        best = _point(site, None, best_run)
        points.append(best)
    for setpoint in _candidates_c(site):
        if status is not None:
            status(f"rule-tuned: thermostat setpoint {setpoint:g} degC")
        run = run_policy(
            with_thermostat_setpoint(site, setpoint),
            Policy.RULE_TUNED,
            start,
            end,
            options,
            continuation=continuation,
        )
        point = _point(site, setpoint, run)
        points.append(point)
        logger.info(
            "rule-tuned: %g degC costs %.2f EUR with stored energy, comfort %.3f K h",
            setpoint,
            point.cost_with_stored_energy_eur,
            point.comfort_violation_kh,
        )
        if point.comfort_violation_kh > shipped.comfort_violation_kh + COMFORT_TOLERANCE_KH:
            break
        if point.cost_with_stored_energy_eur < best.cost_with_stored_energy_eur:
            best, best_run = point, run
    described = "as shipped" if best.setpoint_c is None else f"{best.setpoint_c:g} degC"
    best_run.notes.append(
        f"thermostat setpoint {described}, chosen by a 1 K sweep as the cheapest without worse "
        "comfort than the shipped controllers"
    )
    return ThermostatTuning(best.setpoint_c, best_run, shipped_run, tuple(points))
