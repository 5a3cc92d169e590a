"""The blocks of a decomposed district: each house alone, and the district's shared assets.

Houses are coupled only through the grid connection (its limits, its peak charge and the power
balance at it), so the district's LP falls apart into one block per house (its PV, heat pump,
tank and battery) and one block of the shared assets (community batteries, EV chargers), tied
together by the balance. Each block is the project's own formulation (`optimizer.model`) of a
one-house site whose connection never binds: its import minus export is the block's net demand
at the district connection, priced per slot by the price the coordinator (optimizer.decomposition)
sets. Houses with the same equipment share one built and compiled template model (the model
depends on the equipment only; everything per house is a Param value), so a district of 2000
houses of a few kinds compiles a few models, not 2000.

A block's LP is taken from its template's loaded HiGHS model once per solve (`BlockLp`); for each
price only the 2 x slots costs of its import and export change, and the block re-solves from its
previous basis (`BlockSolver`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import highspy
import numpy as np
import numpy.typing as npt

from energy.config import GridConfig, HouseConfig, SiteConfig
from energy.site import Site
from energy.timegrid import SLOT_HOURS
from optimizer.highs_backend import HighsBackend, SolverError, check_status
from optimizer.inputs import DispatchInputs, DispatchState
from optimizer.model import (
    CopLinearisation,
    DispatchModel,
    build_model,
    coefficients,
    direction_slots,
)
from optimizer.options import OptimizerOptions
from optimizer.plant import Plant
from optimizer.result import PlanValues

__all__ = [
    "BLOCK_HOUSE",
    "SHARED_BLOCK",
    "BlockLp",
    "BlockProblem",
    "BlockSolution",
    "BlockSolver",
    "BlockSpec",
    "BlockTemplate",
    "block_problem",
    "block_specs",
    "template_config",
    "templates_of",
]

FloatArray = npt.NDArray[np.float64]

#: The id of the shared block (community batteries and EV chargers).
SHARED_BLOCK = "shared"
#: The id every house takes inside its template model (its assets: block.pv, block.battery, ...).
BLOCK_HOUSE = "block"
#: A block's own connection limit: far above anything a house or the shared assets draw, so that
#: it never binds (the district's limits are the coordinator's).
BLOCK_CONNECTION_KW = 1.0e4
_PARTS = ("pv", "heat_pump", "tank", "battery")


@dataclass(frozen=True)
class BlockSpec:
    """One block: a house (`house_id` set) or the shared assets; `template` names its model."""

    id: str
    house_id: str | None
    template: str


def _equipment_key(house: HouseConfig) -> str:
    """What a house's block model depends on: its equipment without device addresses."""
    parts = {}
    for part in _PARTS:
        config = getattr(house, part)
        parts[part] = None if config is None else config.model_dump(mode="json", exclude={"device"})
    return json.dumps(parts, sort_keys=True)


def block_specs(config: SiteConfig) -> list[BlockSpec]:
    """The blocks of a site in site order: its houses, then the shared block if it has shared
    assets."""
    specs = [BlockSpec(h.id, h.id, _equipment_key(h)) for h in config.houses]
    if config.community_batteries or config.ev_chargers:
        specs.append(BlockSpec(SHARED_BLOCK, None, SHARED_BLOCK))
    return specs


def template_config(config: SiteConfig, spec: BlockSpec) -> SiteConfig:
    """The one-house site of a block's template model: the house renamed to BLOCK_HOUSE (or, for
    the shared block, a house without equipment beside the shared assets), a connection that
    never binds and no peak charge (the coordinator prices both)."""
    if spec.house_id is None:
        house = HouseConfig(
            id=BLOCK_HOUSE,
            name=BLOCK_HOUSE,
            annual_electricity_kwh=1.0,
            annual_space_heat_kwh=0.0,
            annual_hot_water_kwh=0.0,
        )
        shared = {
            "community_batteries": list(config.community_batteries),
            "ev_chargers": list(config.ev_chargers),
        }
    else:
        source = next(h for h in config.houses if h.id == spec.house_id)
        house = source.model_copy(update={"id": BLOCK_HOUSE, "name": BLOCK_HOUSE, "meter": None})
        shared = {"community_batteries": [], "ev_chargers": []}
    # model_copy does not validate again: the site-wide checks (unique device addresses, feed-in
    # caps, network fee assets) are the whole site's and have passed there
    return config.model_copy(
        update={
            "houses": [house],
            **shared,
            "grid": GridConfig(
                import_limit_kw=BLOCK_CONNECTION_KW, export_limit_kw=BLOCK_CONNECTION_KW
            ),
            "tariff": config.tariff.model_copy(update={"peak_import_charge_eur_per_kw": 0.0}),
            "grid_signals": None,
        }
    )


def _renamed(asset_id: str, house_id: str | None) -> str:
    """The site's id of a template asset id (block.pv -> house-007.pv)."""
    if house_id is None or not (asset_id == BLOCK_HOUSE or asset_id.startswith(f"{BLOCK_HOUSE}.")):
        return asset_id
    return house_id + asset_id[len(BLOCK_HOUSE) :]


@dataclass(frozen=True)
class BlockProblem:
    """One solve's data of a block, under its template's asset ids (views of the site's series,
    no copies)."""

    spec: BlockSpec
    inputs: DispatchInputs
    state: DispatchState
    linearisation: CopLinearisation | None


def block_problem(
    spec: BlockSpec,
    plant: Plant,
    inputs: DispatchInputs,
    state: DispatchState,
    linearisation: CopLinearisation | None,
) -> BlockProblem:
    """Cut a block's inputs, state and COP linearisation out of the site's (`plant`: the whole
    site's; `state` completed)."""
    house = spec.house_id
    if house is None:
        pvs, pumps = [], []
        stores = [b.id for b in plant.batteries if b.house_id is None]
        capped = [c.id for c in plant.ev_chargers]
        load = {BLOCK_HOUSE: np.zeros(inputs.n_slots)}
    else:
        pvs = [u.id for u in plant.pvs if u.house_id == house]
        pumps = [i for i, p in enumerate(plant.heat_pumps) if p.house_id == house]
        stores = [b.id for b in plant.batteries if b.house_id == house]
        stores += [plant.heat_pumps[i].tank_id for i in pumps]
        capped = [plant.heat_pumps[i].id for i in pumps]
        load = {BLOCK_HOUSE: inputs.load_kw[house]}
    heat = {BLOCK_HOUSE: inputs.heat_demand_kw[house]} if house is not None and pumps else {}

    def local(asset_id: str) -> str:
        return BLOCK_HOUSE + asset_id[len(house) :] if house is not None else asset_id

    block_inputs = DispatchInputs(
        index=inputs.index,
        price_import_eur_per_kwh=inputs.price_import_eur_per_kwh,
        price_export_eur_per_kwh=inputs.price_export_eur_per_kwh,
        temp_outdoor_c=inputs.temp_outdoor_c,
        co2_g_per_kwh=inputs.co2_g_per_kwh,
        load_kw=load,
        pv_kw={local(u): inputs.pv_kw[u] for u in pvs},
        heat_demand_kw=heat,
        power_cap_kw={local(a): inputs.power_cap_kw[a] for a in capped if a in inputs.power_cap_kw},
        storage_value_eur_per_kwh={
            local(s): v for s, v in inputs.storage_value_eur_per_kwh.items() if s in stores
        },
    )
    pump_ids = [plant.heat_pumps[i].id for i in pumps]
    tank_ids = [plant.heat_pumps[i].tank_id for i in pumps]
    battery_ids = [s for s in stores if s not in tank_ids]
    block_state = DispatchState(
        soc_frac={local(b): state.soc_frac[b] for b in battery_ids},
        tank_temp_c={local(t): state.tank_temp_c[t] for t in tank_ids},
        hp_on={local(p): state.hp_on[p] for p in pump_ids if p in state.hp_on},
        hp_minutes_in_state={
            local(p): state.hp_minutes_in_state[p]
            for p in pump_ids
            if p in state.hp_minutes_in_state
        },
        tank_reserve_k=state.tank_reserve_k,
        ev_need_kwh={c: v for c, v in state.ev_need_kwh.items() if c in capped and house is None},
    )
    block_linearisation = None
    if linearisation is not None:
        block_linearisation = CopLinearisation(
            linearisation.tank_temp_start_c[pumps],
            linearisation.heat_kw[pumps],
            linearisation.electricity_value_eur_per_kwh,
        )
    return BlockProblem(spec, block_inputs, block_state, block_linearisation)


class BlockTemplate:
    """A template model: built from `template_config`, compiled and loaded into HiGHS once."""

    def __init__(self, config: SiteConfig, options: OptimizerOptions):
        self.site = Site.from_config(config)
        self.plant = Plant.from_site(self.site)
        built_model = build_model(config, self.plant, options)
        self.backend = HighsBackend(built_model)
        self.model: DispatchModel = built_model.released()
        self.net_columns = np.concatenate(
            [self.backend.columns_of("imp"), self.backend.columns_of("exp")]
        ).astype(np.int32)

    def lp(self, problem: BlockProblem, site_batteries: int) -> BlockLp:
        """The block's LP for one solve: its Param values pushed into the template's HiGHS
        model, its battery direction rows where the whole site has them (a site of
        `site_batteries` batteries), the template's own connection direction rows left out (the
        coordinator has the district's), then copied out."""
        model, backend = self.model, self.backend
        coeffs = coefficients(model, problem.inputs, problem.state, problem.linearisation)
        backend.push(coeffs.params)
        battery, _ = direction_slots(
            model.options,
            site_batteries,
            coeffs.import_weight_per_kwh,
            -coeffs.params["cost_export"] / SLOT_HOURS,
        )
        nb = len(self.plant.batteries)
        rows = np.repeat(battery[None, :], nb, axis=0).reshape(-1)
        backend.set_rows_active("bat_ch_dir", rows)
        backend.set_rows_active("bat_dis_dir", rows)
        closed = np.zeros(model.n_slots, dtype=bool)
        backend.set_rows_active("dir_imp", closed)
        backend.set_rows_active("dir_exp", closed)
        return BlockLp(
            spec=problem.spec,
            lp=backend.highs.getLp(),
            cop=coeffs.cop,
            pv_upper_kw=coeffs.params["pv_ub"],
            hot_cost=coeffs.params["hot_cost"],
        )


@dataclass
class BlockLp:
    """A block's LP of one solve, with what turning its solution into plan series needs and the
    basis of its latest solve (the next price starts from it)."""

    spec: BlockSpec
    lp: highspy.HighsLp
    cop: FloatArray
    pv_upper_kw: FloatArray
    hot_cost: FloatArray
    basis: highspy.HighsBasis | None = field(default=None, repr=False)


@dataclass(frozen=True)
class BlockSolution:
    """A block's answer to a price: its net demand at the connection per slot (kW) and its
    objective with and without the priced exchange."""

    net_kw: FloatArray
    objective: float  # own cost + price x net demand
    own_cost: float  # the block's share of the district objective (without the priced exchange)


class BlockSolver:
    """One HiGHS instance solving block after block: each block's LP is passed in, its exchange
    priced, and it re-solves from the block's previous basis (a HiGHS instance per block would
    hold about 2.7 MB each: 5 GB for 2000 houses)."""

    def __init__(self) -> None:
        self.highs = highspy.Highs()
        self.highs.setOptionValue("output_flag", False)
        self.highs.setOptionValue("solver", "simplex")

    def price(self, block: BlockLp, template: BlockTemplate, price: FloatArray) -> BlockSolution:
        """Solve the block with its net demand priced at `price` (objective units per kW and
        slot, i.e. per kWh times the slot length)."""
        n = len(price)
        h = self.highs
        check_status(h.passModel(block.lp), "passModel")
        cols = template.net_columns
        check_status(
            h.changeColsCost(2 * n, cols, np.concatenate([price, -price])), "changeColsCost"
        )
        if block.basis is not None:
            check_status(h.setBasis(block.basis), "setBasis")
        x = self._run(block)
        block.basis = h.getBasis()
        net = x[cols[:n]] - x[cols[n:]]
        objective = float(h.getInfo().objective_function_value)
        return BlockSolution(net, objective, objective - float(price @ net))

    def fixed(
        self, block: BlockLp, template: BlockTemplate, net_kw: FloatArray
    ) -> tuple[float, PlanValues]:
        """The block's cheapest plan with its net demand fixed at `net_kw` (a convex combination
        of its earlier answers, so it exists): its own cost and plan series under site ids."""
        n = len(net_kw)
        h = self.highs
        check_status(h.passModel(block.lp), "passModel")
        cols = template.net_columns
        check_status(h.changeColsCost(2 * n, cols, np.zeros(2 * n)), "changeColsCost")
        imp, exp = np.maximum(net_kw, 0.0), np.maximum(-net_kw, 0.0)
        bounds = np.concatenate([imp, exp])
        check_status(h.changeColsBounds(2 * n, cols, bounds, bounds), "changeColsBounds")
        if block.basis is not None:
            check_status(h.setBasis(block.basis), "setBasis")
        x = self._run(block)
        cost = float(h.getInfo().objective_function_value)
        return cost, _plan_values(block, template, x)

    def _run(self, block: BlockLp) -> FloatArray:
        h = self.highs
        check_status(h.run(), "run")
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise SolverError(
                f"block {block.spec.id}: HiGHS ended with model status "
                f"{h.modelStatusToString(status)!r}"
            )
        return np.asarray(h.getSolution().col_value, dtype=float)


def _plan_values(block: BlockLp, template: BlockTemplate, x: FloatArray) -> PlanValues:
    """A block's plan series under the site's asset ids, as `DispatchOptimizer` reports them."""
    be = template.backend
    plant = template.plant
    house = block.spec.house_id
    n = template.model.n_slots

    def var(name: str, rows: int) -> FloatArray:
        return x[be.columns_of(name)].reshape(rows, n)

    values: PlanValues = {}
    nb, nh, npv, nc = (
        len(plant.batteries),
        len(plant.heat_pumps),
        len(plant.pvs),
        len(plant.ev_chargers),
    )
    if nb:
        power, energy = var("ch", nb) - var("dis", nb), var("e", nb)
        for b, unit in enumerate(plant.batteries):
            asset = _renamed(unit.id, house)
            values[(asset, "power_kw")] = power[b]
            values[(asset, "energy_end_kwh")] = energy[b]
            values[(asset, "soc_end_frac")] = energy[b] / unit.config.capacity_kwh
    if npv:
        pv = var("pv", npv)
        for j, pv_unit in enumerate(plant.pvs):
            asset = _renamed(pv_unit.id, house)
            values[(asset, "power_kw")] = pv[j]
            values[(asset, "curtailed_kw")] = np.maximum(block.pv_upper_kw[j] - pv[j], 0.0)
    if nh:
        hp, q, hot = var("hp", nh), var("q", nh), var("hot", nh)
        for h, pump in enumerate(plant.heat_pumps):
            asset, tank = _renamed(pump.id, house), _renamed(pump.tank_id, house)
            values[(asset, "power_kw")] = hp[h]
            values[(asset, "heat_kw")] = block.cop[h] * hp[h]
            values[(asset, "cop")] = block.cop[h]
            values[(asset, "on")] = (hp[h] > 1e-6).astype(float)
            values[(asset, "warm_tank_cost_eur")] = block.hot_cost[h] * hot[h]
            values[(tank, "energy_end_kwh")] = q[h]
            values[(tank, "temp_end_c")] = pump.tank.temp_min_c + q[h] / pump.capacity_kwh_per_k
    if nc:
        ev, need = var("ev", nc), var("ev_need", nc)
        for c, charger in enumerate(plant.ev_chargers):
            values[(charger.id, "power_kw")] = ev[c]
            values[(charger.id, "need_end_kwh")] = need[c]
    return values


def templates_of(config: SiteConfig, specs: list[BlockSpec]) -> Mapping[str, SiteConfig]:
    """The template site of every template the blocks name (one per kind of house)."""
    out: dict[str, SiteConfig] = {}
    for spec in specs:
        if spec.template not in out:
            out[spec.template] = template_config(config, spec)
    return out
