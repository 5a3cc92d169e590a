"""The simulated district: every house's devices stepped together, with commands and watchdogs.

`DistrictSimulator` plays back the exogenous profiles (`energy.physics.profiles`: household load,
heat demand, PV, outdoor temperature; slot averages, held constant within each 15-minute slot) and
steps the plant: heat pumps with their local thermostats into their tanks, home batteries and
community batteries in self-consumption when no external setpoint is valid, and the meters. State
lives in numpy arrays across devices (`BatteryBank`, `HeatPumpBank`, `TankBank`), so a step costs the
same few dozen array operations for seven houses or a few hundred.

Time is simulated time (integer microseconds, UTC). `advance(seconds)` / `advance_to(t)` step at
`step_s` and split steps at slot boundaries and watchdog expiries, so results do not depend on how
a run is chopped into calls (apart from command timing). Watchdogs run on simulated time too: a
setpoint written at t is valid until t + timeout unless renewed by a write or `heartbeat`.

Per step, in this order: PV (with any valid export limit), heat pumps (decide, then tanks), house
balance, home batteries (local: cover the house's deficit / absorb its surplus), EV chargers (behind
the district's connection, outside the houses; local: full power while the car needs energy),
community batteries (local: the same against the district's net at the grid connection), meters.

Thread safety: every public method takes the simulator's lock, so a Modbus server thread may call
commands while a clock thread advances; a long `advance` holds the lock for its whole duration.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from energy.config import BatteryConfig, HeatPumpControl, HouseConfig
from energy.physics.battery import BatteryBank
from energy.physics.ev import EVChargerBank
from energy.physics.heatpump import SG_NORMAL, HeatPumpBank
from energy.physics.hygiene import HygienePrograms
from energy.physics.profiles import DEFAULT_PROFILE_MODEL, ProfileModel, district_profiles
from energy.physics.readings import (
    BatteryReading,
    ControlMode,
    DistrictSnapshot,
    EVChargerReading,
    HeatPumpReading,
    HouseReading,
    MeterReading,
    PVReading,
    TankReading,
)
from energy.physics.tank import TankBank
from energy.physics.watchdog import SetpointRegister
from energy.site import Site
from energy.timegrid import SLOT, as_utc

__all__ = ["GRID_METER_ID", "DistrictSimulator"]

logger = logging.getLogger(__name__)

GRID_METER_ID = "grid.meter"
_US_PER_S = 1_000_000
_US_PER_H = 3_600 * _US_PER_S
_SLOT_US = int(SLOT.total_seconds()) * _US_PER_S
FloatArray = npt.NDArray[np.float64]


def _to_us(value: dt.datetime | pd.Timestamp | str) -> int:
    return int(as_utc(value).value // 1_000)


def _finite(value: float, what: str, asset_id: str) -> float:
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{what} for {asset_id!r} must be a finite number; found {value!r}")
    return number


@dataclass(frozen=True)
class _Block:
    """Exogenous inputs for a run of slots starting at start_us (rows = slots)."""

    start_us: int
    temp_outdoor_c: FloatArray
    load_kw: FloatArray
    pv_kw: FloatArray
    heat_demand_kw: FloatArray

    @property
    def end_us(self) -> int:
        return self.start_us + len(self.temp_outdoor_c) * _SLOT_US


@dataclass(frozen=True)
class _Segment:
    """What a step takes from the slot's inputs and the live commands.

    It holds while the key (commands version, slot, next watchdog expiry) holds: commands are
    written only between steps, steps are split at slot boundaries and at the next expiry, so
    within a key every register's validity, every setpoint and every slot value is fixed.
    """

    key: tuple[int, int, int | None]
    temp_outdoor_c: float
    load_kw: FloatArray
    heat_demand_kw: FloatArray
    tank_demand_kw: FloatArray  # heat demand of the houses with a heat pump
    pv_available_kw: FloatArray
    pv_kw: FloatArray  # after any valid export limit
    net_kw: FloatArray  # per house: load minus PV, before heat pumps and batteries
    commands: dict[str, npt.NDArray[Any]]  # keyword arguments of HeatPumpBank.decide
    home_valid: npt.NDArray[np.bool_] | None  # valid home-battery setpoints (None: none live)
    #: valid home-battery grid targets (None: none live)
    home_grid_valid: npt.NDArray[np.bool_] | None
    ev_valid: npt.NDArray[np.bool_] | None  # valid EV charger limits (None: none live)
    community_remote: npt.NDArray[np.bool_]
    community_share_discharge: FloatArray  # local units' share of a deficit
    community_share_charge: FloatArray  # local units' share of a surplus


class _Inputs:
    """Where exogenous slot values come from: given profiles, or generated per calendar year."""

    def __init__(
        self,
        site: Site,
        seed: int,
        model: ProfileModel,
        profiles: pd.DataFrame | None,
        house_ids: list[str],
        pv_house_ids: list[str],
    ):
        self._site, self._seed, self._model = site, seed, model
        self._columns = (
            [f"{h}:load_kw" for h in house_ids],
            [f"{h}.pv:pv_kw" for h in pv_house_ids],
            [f"{h}:heat_demand_kw" for h in house_ids],
        )
        self._given = None if profiles is None else self._block(profiles)
        self.block: _Block | None = None

    def _block(self, frame: pd.DataFrame) -> _Block:
        load, pv, heat = self._columns
        missing = [c for c in ["temp_outdoor_c", *load, *pv, *heat] if c not in frame.columns]
        if missing:
            raise ValueError(
                f"profiles lack the columns {missing}; expected the layout of "
                "energy.physics.profiles.district_profiles"
            )
        index = frame.index
        if (
            not isinstance(index, pd.DatetimeIndex)
            or len(index) == 0
            or _to_us(index[0]) % _SLOT_US
            or not (index[1:] - index[:-1] == SLOT).all()
        ):
            raise ValueError(
                "profiles must be indexed by contiguous 15-minute UTC slot starts; found "
                f"{type(index).__name__} of {len(index)} entries starting {index[:1].tolist()}"
            )

        def values(columns: list[str]) -> FloatArray:
            array = frame[columns].to_numpy(dtype=float).reshape(len(frame), len(columns))
            if not np.isfinite(array).all():
                bad = [c for c in columns if not np.isfinite(frame[c].to_numpy(dtype=float)).all()]
                raise ValueError(f"profiles hold missing or infinite values in {bad}")
            return array

        return _Block(
            _to_us(index[0]),
            values(["temp_outdoor_c"])[:, 0],
            values(load),
            values(pv),
            values(heat),
        )

    def covering(self, now_us: int) -> _Block:
        block = self.block
        if block is not None and block.start_us <= now_us < block.end_us:
            return block
        if self._given is not None:
            given = self._given
            if not given.start_us <= now_us < given.end_us:
                raise ValueError(
                    f"simulated time {pd.Timestamp(now_us * 1000, tz='UTC').isoformat()} lies "
                    f"outside the given profiles [{pd.Timestamp(given.start_us * 1000, tz='UTC')}"
                    f", {pd.Timestamp(given.end_us * 1000, tz='UTC')})"
                )
            self.block = given
            return given
        year = pd.Timestamp(now_us * 1000, tz="UTC").year
        start = pd.Timestamp(year=year, month=1, day=1, tz="UTC")
        end = pd.Timestamp(year=year + 1, month=1, day=1, tz="UTC")
        logger.info("generating district profiles for %d (seed %d)", year, self._seed)
        self.block = self._block(district_profiles(self._site, start, end, self._seed, self._model))
        return self.block


class DistrictSimulator:
    """Stepped physics of the whole district with local controllers and external commands.

    site: the district; start: UTC start time; seed: profile noise seed; step_s: internal step
    (60 s or finer recommended). profiles: optional exogenous inputs in the layout of
    `district_profiles` (default: generated from the site for whatever year is simulated).
    default_watchdog_s: command timeout for devices without a configured DeviceEndpoint.

    Stepped use (evaluation): set commands, `advance(900)`, read `snapshot()`, repeat. Real-time
    use: a `SimulationClock` (energy.physics.clock) advances from a thread while commands arrive
    from others. The banks (`heat_pumps`, `tanks`, `home_batteries`, `community_batteries`) are
    public for fast array read-outs (and `ev_chargers`); treat them as read-only.

        sim = DistrictSimulator(load_site(), pd.Timestamp("2026-01-12", tz="UTC"), seed=0)
        sim.set_battery_power("house-01.battery", -2.0)    # discharge 2 kW for one watchdog
        sim.set_sg_ready("house-02.hp", 3, timeout_s=900)  # recommended on for 15 minutes
        sim.advance(900)
        sim.snapshot().batteries["house-01.battery"].soc_frac
    """

    def __init__(
        self,
        site: Site,
        start: dt.datetime | pd.Timestamp,
        seed: int = 0,
        step_s: float = 60.0,
        *,
        profiles: pd.DataFrame | None = None,
        profile_model: ProfileModel = DEFAULT_PROFILE_MODEL,
        default_watchdog_s: float = 60.0,
    ):
        if not step_s > 0:
            raise ValueError(f"step_s must be positive; found {step_s}")
        self.site = site
        self.seed = seed
        self.step_s = float(step_s)
        self._step_us = max(round(step_s * _US_PER_S), 1)
        self._now_us = _to_us(start)
        self._lock = threading.RLock()
        houses = list(site.config.houses)
        self._house_ids = [h.id for h in houses]
        self._n_houses = len(houses)

        def watchdog_s(asset_id: str) -> float:
            try:
                device = site.asset(asset_id).device
            except KeyError:
                device = None
            return device.watchdog_s if device is not None else default_watchdog_s

        pv_houses = [i for i, h in enumerate(houses) if h.pv is not None]
        self._pv_ids = [f"{houses[i].id}.pv" for i in pv_houses]
        self._pv_house = np.array(pv_houses, dtype=np.intp)
        self._pv_limits = SetpointRegister([watchdog_s(a) for a in self._pv_ids])
        self._pv_kw = np.zeros(len(pv_houses))
        self._pv_available_kw = np.zeros(len(pv_houses))
        self._pv_kwh = np.zeros(len(pv_houses))

        thermal = [(i, h) for i, h in enumerate(houses) if h.heat_pump is not None]
        for house in houses:
            if house.tank is not None and house.heat_pump is None:
                logger.warning(
                    "house %s has a tank but no heat pump: its heat is not simulated", house.id
                )
        self._hp_house = np.array([i for i, _ in thermal], dtype=np.intp)
        self._hp_ids = [f"{h.id}.hp" for _, h in thermal]
        self._tank_ids = [f"{h.id}.tank" for _, h in thermal]
        hp_configs = [h.heat_pump for _, h in thermal if h.heat_pump is not None]
        tank_configs = [h.tank for _, h in thermal if h.tank is not None]
        self.heat_pumps = HeatPumpBank(self._hp_ids, hp_configs, tank_configs, self._now_us)
        self.tanks = TankBank(
            self._tank_ids,
            tank_configs,
            [
                t.initial_temp_c if t.initial_temp_c is not None else float(target)
                for t, target in zip(tank_configs, self.heat_pumps.target_c, strict=True)
            ],
        )
        self.hygiene = HygienePrograms([t.legionella for t in tank_configs], site.tz, self._now_us)
        self._hp_setpoints = SetpointRegister([watchdog_s(a) for a in self._hp_ids])
        self._sg_states = SetpointRegister([watchdog_s(a) for a in self._hp_ids], fill=SG_NORMAL)
        self._caps_kw = np.full(len(thermal), np.inf)
        self._capped = False
        self._cop_slot = -1

        home = [(i, h) for i, h in enumerate(houses) if h.battery is not None]
        self._home_house = np.array([i for i, _ in home], dtype=np.intp)
        home_configs: list[BatteryConfig] = [h.battery for _, h in home if h.battery is not None]
        self.home_batteries = BatteryBank([f"{h.id}.battery" for _, h in home], home_configs)
        community = list(site.config.community_batteries)
        self.community_batteries = BatteryBank([b.id for b in community], community)
        self._home_setpoints = SetpointRegister([watchdog_s(a) for a in self.home_batteries.ids])
        self._home_grid_targets = SetpointRegister([watchdog_s(a) for a in self.home_batteries.ids])
        self._community_setpoints = SetpointRegister(
            [watchdog_s(a) for a in self.community_batteries.ids]
        )
        self._no_community_setpoints = np.zeros(len(community), dtype=bool)
        chargers = list(site.config.ev_chargers)
        self.ev_chargers = EVChargerBank([c.id for c in chargers], chargers, site.tz)
        self._ev_limits = SetpointRegister([watchdog_s(c.id) for c in chargers])
        self._ev_slot = -1

        self._load_kw = np.zeros(self._n_houses)
        self._heat_demand_kw = np.zeros(self._n_houses)
        self._load_kwh = np.zeros(self._n_houses)
        self._heat_demand_kwh = np.zeros(self._n_houses)
        self._house_power_kw = np.zeros(self._n_houses)
        self._house_import_kwh = np.zeros(self._n_houses)
        self._house_export_kwh = np.zeros(self._n_houses)
        self._grid_power_kw = 0.0
        self._grid_import_kwh = 0.0
        self._grid_export_kwh = 0.0
        self._temp_outdoor_c = float("nan")

        self._inputs = _Inputs(
            site, seed, profile_model, profiles, self._house_ids, [houses[i].id for i in pv_houses]
        )
        self._registers = (
            self._pv_limits,
            self._hp_setpoints,
            self._sg_states,
            self._home_setpoints,
            self._home_grid_targets,
            self._community_setpoints,
            self._ev_limits,
        )
        self._next_expiry_us: int | None = None
        # set by every write: the next expiry is recomputed once, before the next step
        self._expiry_stale = False
        # bumped by every command change (writes, releases, heartbeats, caps): see _Segment
        self._commands_version = 0
        self._segment: _Segment | None = None
        self._houses: list[HouseConfig] = houses
        block = self._inputs.covering(self._now_us)
        self._temp_outdoor_c = float(
            block.temp_outdoor_c[(self._now_us - block.start_us) // _SLOT_US]
        )

    # ------------------------------------------------------------------ time

    @property
    def now(self) -> pd.Timestamp:
        """Current simulated time (UTC)."""
        return pd.Timestamp(self._now_us * 1000, tz="UTC")

    @property
    def grid_power_kw(self) -> float:
        """The grid meter's power over the last physics step (import positive): the one reading
        a fast control loop needs, without a whole snapshot."""
        with self._lock:
            return float(self._grid_power_kw)

    def battery_soc_frac(self) -> dict[str, float]:
        """Every battery's state of charge now, by asset id."""
        with self._lock:
            return {
                asset_id: soc
                for bank in (self.home_batteries, self.community_batteries)
                for asset_id, soc in zip(bank.ids, bank.soc_frac.tolist(), strict=True)
            }

    def advance(self, seconds: float) -> None:
        """Simulate the next `seconds` of time."""
        if seconds < 0:
            raise ValueError(f"cannot advance by a negative duration ({seconds} s)")
        with self._lock:
            self._run_until(self._now_us + round(seconds * _US_PER_S))

    def advance_to(self, t: dt.datetime | pd.Timestamp | str) -> None:
        """Simulate up to time t (UTC-aware); t must not lie in the simulated past."""
        target = _to_us(t)
        with self._lock:
            if target < self._now_us:
                raise ValueError(
                    f"cannot advance to {as_utc(t).isoformat()}: the simulator is "
                    f"already at {self.now.isoformat()}"
                )
            self._run_until(target)

    def _run_until(self, target_us: int) -> None:
        if self._expiry_stale:
            self._refresh_expiry()
        while self._now_us < target_us:
            now = self._now_us
            end = min(now + self._step_us, target_us, (now // _SLOT_US + 1) * _SLOT_US)
            expiry = self._next_expiry_us
            if expiry is not None and expiry <= now:
                expiry = self._refresh_expiry()
            if expiry is not None and now < expiry < end:
                end = expiry
            self._step(end - now)

    def _refresh_expiry(self) -> int | None:
        ahead = [e for r in self._registers if (e := r.next_expiry_us(self._now_us)) is not None]
        self._next_expiry_us = min(ahead) if ahead else None
        self._expiry_stale = False
        return self._next_expiry_us

    # ------------------------------------------------------------------ physics

    def _step(self, dt_us: int) -> None:
        now = self._now_us
        dt_h = dt_us / _US_PER_H
        key = (self._commands_version, now // _SLOT_US, self._next_expiry_us)
        seg = self._segment
        if seg is None or seg.key != key:
            seg = self._segment = self._new_segment(key)
        self._temp_outdoor_c = seg.temp_outdoor_c
        load = seg.load_kw
        heat_demand = seg.heat_demand_kw
        demand = seg.tank_demand_kw
        tanks, pumps = self.tanks, self.heat_pumps
        if now // _SLOT_US != self._cop_slot:
            pumps.update_cop(self._temp_outdoor_c, tanks.temp_c)
            self._cop_slot = now // _SLOT_US

        pv = seg.pv_kw
        forced = self.hygiene.step(now, dt_us, tanks.temp_c) if len(pumps) else None
        heat = pumps.decide(
            now,
            dt_h,
            tanks.temp_c,
            tanks.headroom_kw(dt_h, demand),
            forced=forced if forced is not None and forced.any() else None,
            **seg.commands,
        )
        tanks.step(heat, demand, dt_h)

        net = seg.net_kw.copy()
        net[self._hp_house] += pumps.electric_kw

        home = self.home_batteries
        if len(home):
            target = -net[self._home_house]
            if seg.home_grid_valid is not None:
                # grid-target mode: the house's exchange with the grid held at the target
                target = np.where(
                    seg.home_grid_valid, self._home_grid_targets.values + target, target
                )
            if seg.home_valid is not None:
                target = np.where(seg.home_valid, self._home_setpoints.values, target)
            net[self._home_house] += home.apply(target, dt_h)

        grid = float(net.sum())
        chargers = self.ev_chargers
        if len(chargers):
            if now // _SLOT_US != self._ev_slot:
                chargers.begin_slot(pd.Timestamp(now // _SLOT_US * _SLOT_US * 1000, tz="UTC"))
                self._ev_slot = now // _SLOT_US
            limit = chargers.charge_max_kw
            if seg.ev_valid is not None:
                limit = np.where(seg.ev_valid, self._ev_limits.values, limit)
            grid += float(chargers.apply(limit, dt_h).sum())
        community = self.community_batteries
        if len(community):
            targets = self._community_targets(grid, dt_h, seg)
            grid += float(community.apply(targets, dt_h).sum())

        self._load_kw = load
        self._heat_demand_kw = heat_demand
        self._load_kwh += load * dt_h
        self._heat_demand_kwh += heat_demand * dt_h
        self._pv_available_kw = seg.pv_available_kw
        self._pv_kw = pv
        self._pv_kwh += pv * dt_h
        self._house_power_kw = net
        self._house_import_kwh += np.maximum(net, 0.0) * dt_h
        self._house_export_kwh += np.maximum(-net, 0.0) * dt_h
        self._grid_power_kw = grid
        if grid > 0:
            self._grid_import_kwh += grid * dt_h
        else:
            self._grid_export_kwh -= grid * dt_h
        self._now_us = now + dt_us

    def _new_segment(self, key: tuple[int, int, int | None]) -> _Segment:
        now = self._now_us
        block = self._inputs.covering(now)
        slot = (now - block.start_us) // _SLOT_US
        load = block.load_kw[slot]
        heat_demand = block.heat_demand_kw[slot]
        available = block.pv_kw[slot]
        pumps = self.heat_pumps
        # without any live command (local mode everywhere) no command masks are needed
        live = self._next_expiry_us is not None
        pv = available
        commands: dict[str, npt.NDArray[Any]] = {}
        home_valid = None
        home_grid_valid = None
        ev_valid = None
        remote = self._no_community_setpoints
        if live:
            pv = np.where(
                self._pv_limits.valid(now), np.minimum(available, self._pv_limits.values), available
            )
            sg_valid = self._sg_states.valid(now) & pumps.sg_ready
            sg_state = np.where(sg_valid, self._sg_states.values, SG_NORMAL).astype(np.int64)
            commands = {
                "setpoint_kw": self._hp_setpoints.values,
                "setpoint_valid": self._hp_setpoints.valid(now) & ~pumps.sg_ready,
                "sg_state": sg_state,
                "upper_c": pumps.thermostat_upper_c(sg_state),
            }
            home_valid = self._home_setpoints.valid(now)
            home_grid_valid = self._home_grid_targets.valid(now)
            ev_valid = self._ev_limits.valid(now)
            remote = self._community_setpoints.valid(now)
        if self._capped:
            commands["cap_kw"] = self._caps_kw
        net = load.copy()
        net[self._pv_house] -= pv
        bank = self.community_batteries

        def share(rating_kw: FloatArray) -> FloatArray:
            rating = np.where(remote, 0.0, rating_kw)
            total = float(rating.sum())
            return rating / total if total > 0 else rating

        return _Segment(
            key=key,
            temp_outdoor_c=float(block.temp_outdoor_c[slot]),
            load_kw=load,
            heat_demand_kw=heat_demand,
            tank_demand_kw=heat_demand[self._hp_house],
            pv_available_kw=available,
            pv_kw=pv,
            net_kw=net,
            commands=commands,
            home_valid=home_valid,
            home_grid_valid=home_grid_valid,
            ev_valid=ev_valid,
            community_remote=remote,
            community_share_discharge=share(bank.discharge_max_kw),
            community_share_charge=share(bank.charge_max_kw),
        )

    def _community_targets(self, houses_net_kw: float, dt_h: float, seg: _Segment) -> FloatArray:
        """Remote units follow their setpoints; local units share what is left of the net balance,
        in proportion to their power rating in the needed direction."""
        bank, register = self.community_batteries, self._community_setpoints
        remote = seg.community_remote
        residual = houses_net_kw
        if remote.any():
            residual += float(np.where(remote, bank.clamp(register.values, dt_h), 0.0).sum())
        share = seg.community_share_discharge if residual > 0 else seg.community_share_charge
        return np.where(remote, register.values, -residual * share)

    # ------------------------------------------------------------------ commands

    def _index(self, ids: list[str] | tuple[str, ...], asset_id: str, kind: str) -> int:
        try:
            return list(ids).index(asset_id)
        except ValueError:
            known = ", ".join(ids) or "none"
            raise KeyError(
                f"no {kind} {asset_id!r} in the simulated district; known {kind}s: {known}"
            ) from None

    def _battery(self, asset_id: str) -> tuple[BatteryBank, SetpointRegister, int]:
        if asset_id in self.home_batteries.ids:
            return (
                self.home_batteries,
                self._home_setpoints,
                self.home_batteries.ids.index(asset_id),
            )
        index = self._index(
            self.home_batteries.ids + self.community_batteries.ids, asset_id, "battery"
        ) - len(self.home_batteries)
        return self.community_batteries, self._community_setpoints, index

    def _written(self) -> None:
        self._expiry_stale = True
        self._commands_version += 1

    def set_battery_power(
        self, asset_id: str, power_kw: float, timeout_s: float | None = None
    ) -> float:
        """Command a battery's AC power (charging positive), clamped to its power ratings.

        Starts or renews the device's watchdog (timeout_s overrides the configured one). Returns the
        stored, clamped setpoint; the state-of-charge bounds are applied when it runs.
        """
        power = _finite(power_kw, "battery power_kw", asset_id)
        with self._lock:
            bank, register, i = self._battery(asset_id)
            clamped = min(
                max(power, -float(bank.discharge_max_kw[i])), float(bank.charge_max_kw[i])
            )
            register.write(i, clamped, self._now_us, timeout_s)
            if bank is self.home_batteries:
                self._home_grid_targets.release(i)
            self._written()
            return clamped

    def set_battery_grid_target(
        self, asset_id: str, target_kw: float, timeout_s: float | None = None
    ) -> float:
        """Put a home battery in grid-target mode: it charges or discharges so that its house
        exchanges `target_kw` with the grid (import positive), within its power ratings and state
        of charge. Local self-consumption is the target 0. Replaces a power setpoint; starts or
        renews the device's watchdog; returns the stored target."""
        target = _finite(target_kw, "battery grid target_kw", asset_id)
        with self._lock:
            i = self._index(self.home_batteries.ids, asset_id, "home battery")
            self._home_grid_targets.write(i, target, self._now_us, timeout_s)
            self._home_setpoints.release(i)
            self._written()
            return target

    def set_heat_pump_power(
        self, asset_id: str, power_kw: float, timeout_s: float | None = None
    ) -> float:
        """Command a continuous heat pump's electric power; returns the setpoint it will follow.

        Values are snapped to the nearest feasible one: 0 (off) or [electric_min_kw,
        electric_max_kw]. Starts or renews the device's watchdog.
        """
        power = _finite(power_kw, "heat pump power_kw", asset_id)
        with self._lock:
            i = self._heat_pump(asset_id, HeatPumpControl.CONTINUOUS)
            low = float(self.heat_pumps.electric_min_kw[i])
            high = float(self.heat_pumps.electric_max_kw[i])
            feasible = 0.0 if power < low / 2.0 else min(max(power, low), high)
            self._hp_setpoints.write(i, feasible, self._now_us, timeout_s)
            self._written()
            return feasible

    def set_sg_ready(self, asset_id: str, state: int, timeout_s: float | None = None) -> None:
        """Set an SG Ready heat pump's state (1 lock, 2 normal, 3 recommended on, 4 forced on)."""
        if state not in (1, 2, 3, 4):
            raise ValueError(
                f"SG Ready state for {asset_id!r} must be 1, 2, 3 or 4; found {state!r}"
            )
        with self._lock:
            i = self._heat_pump(asset_id, HeatPumpControl.SG_READY)
            self._sg_states.write(i, float(state), self._now_us, timeout_s)
            self._written()

    def set_dimming_cap(self, asset_id: str, cap_kw: float | None) -> None:
        """Grid-operator cap on a heat pump's electric power (section 14a EnWG); None lifts it.

        The cap is an external limit, not a platform setpoint: it has no watchdog and overrides
        every other command until lifted.
        """
        with self._lock:
            i = self._index(self._hp_ids, asset_id, "heat pump")
            if cap_kw is None:
                self._caps_kw[i] = np.inf
            else:
                cap = _finite(cap_kw, "dimming cap_kw", asset_id)
                if cap < 0:
                    raise ValueError(f"dimming cap for {asset_id!r} must be >= 0 kW; found {cap}")
                self._caps_kw[i] = cap
            self._capped = bool(np.isfinite(self._caps_kw).any())
            self._commands_version += 1

    def set_pv_limit(
        self, asset_id: str, limit_kw: float | None, timeout_s: float | None = None
    ) -> None:
        """Limit a PV inverter's AC output (curtailment); None releases it. Has a watchdog."""
        with self._lock:
            i = self._index(self._pv_ids, asset_id, "PV system")
            if limit_kw is None:
                self._pv_limits.release(i)
                self._commands_version += 1
                return
            house = self._houses[int(self._pv_house[i])]
            if house.pv is not None and not house.pv.curtailable:
                raise ValueError(f"PV system {asset_id!r} is configured curtailable: false")
            limit = _finite(limit_kw, "PV limit_kw", asset_id)
            if limit < 0:
                raise ValueError(f"PV limit for {asset_id!r} must be >= 0 kW; found {limit}")
            self._pv_limits.write(i, limit, self._now_us, timeout_s)
            self._written()

    def set_ev_charge_limit(
        self, asset_id: str, power_kw: float, timeout_s: float | None = None
    ) -> float:
        """Limit an EV charger's charging power (kW, clamped to [0, charge_max_kw]); returns the
        stored limit. Starts or renews the device's watchdog; without a valid limit the charger
        charges at full power while its car needs energy."""
        power = _finite(power_kw, "EV charging power_kw", asset_id)
        with self._lock:
            i = self._index(self.ev_chargers.ids, asset_id, "EV charger")
            clamped = min(max(power, 0.0), float(self.ev_chargers.charge_max_kw[i]))
            self._ev_limits.write(i, clamped, self._now_us, timeout_s)
            self._written()
            return clamped

    def _heat_pump(self, asset_id: str, control: HeatPumpControl) -> int:
        i = self._index(self._hp_ids, asset_id, "heat pump")
        actual = (
            HeatPumpControl.SG_READY
            if self.heat_pumps.sg_ready[i]
            else (HeatPumpControl.CONTINUOUS)
        )
        if actual != control:
            raise ValueError(
                f"heat pump {asset_id!r} has control {actual.value!r}; this command "
                f"needs control {control.value!r}"
            )
        return i

    def _registers_of(self, asset_id: str) -> list[tuple[SetpointRegister, int]]:
        if asset_id in self.home_batteries.ids:
            i = self.home_batteries.ids.index(asset_id)
            return [(self._home_setpoints, i), (self._home_grid_targets, i)]
        if asset_id in self.community_batteries.ids:
            _, register, i = self._battery(asset_id)
            return [(register, i)]
        if asset_id in self._hp_ids:
            i = self._hp_ids.index(asset_id)
            return [(self._hp_setpoints, i), (self._sg_states, i)]
        if asset_id in self._pv_ids:
            return [(self._pv_limits, self._pv_ids.index(asset_id))]
        if asset_id in self.ev_chargers.ids:
            return [(self._ev_limits, self.ev_chargers.ids.index(asset_id))]
        known = ", ".join(
            [
                *self.home_batteries.ids,
                *self.community_batteries.ids,
                *self._hp_ids,
                *self._pv_ids,
                *self.ev_chargers.ids,
            ]
        )
        raise KeyError(f"no commandable device {asset_id!r}; known: {known}")

    def heartbeat(self, asset_id: str) -> bool:
        """Renew the device's live command for another watchdog period; False if it had none."""
        with self._lock:
            renewed = [
                register.heartbeat(i, self._now_us) for register, i in self._registers_of(asset_id)
            ]
            self._written()
            return any(renewed)

    def release(self, asset_id: str) -> None:
        """Drop the device's external command now: it returns to its local mode."""
        with self._lock:
            for register, i in self._registers_of(asset_id):
                register.release(i)
            self._written()

    # ------------------------------------------------------------------ read-out

    def snapshot(self) -> DistrictSnapshot:
        """Every device's current reading and cumulative energy accounts."""
        with self._lock:
            now = self._now_us
            return DistrictSnapshot(
                time=self.now.to_pydatetime(),
                temp_outdoor_c=self._temp_outdoor_c,
                houses=self._house_readings(),
                meters=self._meter_readings(),
                pv=self._pv_readings(now),
                batteries=self._battery_readings(now),
                heat_pumps=self._heat_pump_readings(now),
                tanks=self._tank_readings(),
                ev_chargers=self._ev_readings(now),
            )

    # Each array is read as a whole with tolist() (Python floats, ints and bools of the same
    # values as float()/int()/bool() of its elements, at a fraction of the cost per element).

    def _house_readings(self) -> dict[str, HouseReading]:
        columns = zip(
            self._house_ids,
            self._load_kw.tolist(),
            self._heat_demand_kw.tolist(),
            self._load_kwh.tolist(),
            self._heat_demand_kwh.tolist(),
            strict=True,
        )
        return {h: HouseReading(h, *values) for h, *values in columns}

    def _meter_readings(self) -> dict[str, MeterReading]:
        columns = zip(
            self._house_ids,
            self._house_power_kw.tolist(),
            self._house_import_kwh.tolist(),
            self._house_export_kwh.tolist(),
            strict=True,
        )
        meters = {f"{h}.meter": MeterReading(f"{h}.meter", *values) for h, *values in columns}
        meters[GRID_METER_ID] = MeterReading(
            GRID_METER_ID, self._grid_power_kw, self._grid_import_kwh, self._grid_export_kwh
        )
        return meters

    def _pv_readings(self, now: int) -> dict[str, PVReading]:
        register = self._pv_limits
        columns = zip(
            self._pv_ids,
            self._pv_kw.tolist(),
            self._pv_available_kw.tolist(),
            self._pv_kwh.tolist(),
            register.valid(now).tolist(),
            register.values.tolist(),
            strict=True,
        )
        return {
            a: PVReading(
                a,
                power,
                available,
                energy,
                ControlMode.REMOTE if valid else ControlMode.LOCAL,
                limit if valid else None,
                register.remaining_s(i, now),
            )
            for i, (a, power, available, energy, valid, limit) in enumerate(columns)
        }

    def _battery_readings(self, now: int) -> dict[str, BatteryReading]:
        readings: dict[str, BatteryReading] = {}
        for bank, register, targets in (
            (self.home_batteries, self._home_setpoints, self._home_grid_targets),
            (self.community_batteries, self._community_setpoints, None),
        ):
            target_valid = (
                targets.valid(now) if targets is not None else np.zeros(len(bank), dtype=bool)
            )
            columns = zip(
                bank.ids,
                bank.soc_frac.tolist(),
                bank.energy_kwh.tolist(),
                bank.power_kw.tolist(),
                register.valid(now).tolist(),
                register.values.tolist(),
                target_valid.tolist(),
                bank.charged_kwh.tolist(),
                bank.discharged_kwh.tolist(),
                bank.conversion_loss_kwh.tolist(),
                bank.standby_loss_kwh.tolist(),
                bank.initial_energy_kwh.tolist(),
                strict=True,
            )
            for i, (asset_id, soc, energy, power, valid, setpoint, *accounts) in enumerate(columns):
                targeted, charged, discharged, conversion, standby, initial = accounts
                remaining = register.remaining_s(i, now)
                if targets is not None:
                    remaining = max(remaining, targets.remaining_s(i, now))
                readings[asset_id] = BatteryReading(
                    asset_id=asset_id,
                    soc_frac=soc,
                    energy_kwh=energy,
                    power_kw=power,
                    mode=ControlMode.REMOTE if valid or targeted else ControlMode.LOCAL,
                    setpoint_kw=setpoint if valid else None,
                    grid_target_kw=(
                        float(targets.values[i]) if targets is not None and targeted else None
                    ),
                    watchdog_remaining_s=remaining,
                    charged_kwh=charged,
                    discharged_kwh=discharged,
                    conversion_loss_kwh=conversion,
                    standby_loss_kwh=standby,
                    initial_energy_kwh=initial,
                )
        return readings

    def _heat_pump_readings(self, now: int) -> dict[str, HeatPumpReading]:
        pumps = self.heat_pumps
        sg_ready = pumps.sg_ready.tolist()
        setpoint_valid = (self._hp_setpoints.valid(now) & ~pumps.sg_ready).tolist()
        sg_valid = (self._sg_states.valid(now) & pumps.sg_ready).tolist()
        sg_values = self._sg_states.values.astype(int).tolist()
        setpoints = self._hp_setpoints.values.tolist()
        caps = self._caps_kw.tolist()
        electric, heat, cop = (a.tolist() for a in (pumps.electric_kw, pumps.heat_kw, pumps.cop))
        on = pumps.on.tolist()
        tank_temp = self.tanks.temp_c.tolist()
        flow_temp = pumps.flow_temp_c.tolist()
        electric_kwh, heat_kwh = pumps.electric_kwh.tolist(), pumps.heat_kwh.tolist()
        starts, switched_us = pumps.starts.tolist(), pumps.switched_us.tolist()
        readings = {}
        for i, asset_id in enumerate(self._hp_ids):
            sg_state = None
            if sg_ready[i]:
                sg_state = sg_values[i] if sg_valid[i] else SG_NORMAL
                remaining = self._sg_states.remaining_s(i, now)
            else:
                remaining = self._hp_setpoints.remaining_s(i, now)
            cap = caps[i]
            readings[asset_id] = HeatPumpReading(
                asset_id=asset_id,
                electric_power_kw=electric[i],
                heat_kw=heat[i],
                cop=cop[i],
                on=on[i],
                mode=ControlMode.REMOTE if setpoint_valid[i] or sg_valid[i] else ControlMode.LOCAL,
                sg_ready_state=sg_state,
                setpoint_kw=setpoints[i] if setpoint_valid[i] else None,
                dimming_cap_kw=None if math.isinf(cap) else cap,
                watchdog_remaining_s=remaining,
                tank_temp_c=tank_temp[i],
                flow_temp_c=flow_temp[i] if on[i] else tank_temp[i],
                electric_kwh=electric_kwh[i],
                heat_kwh=heat_kwh[i],
                starts=starts[i],
                minutes_in_state=(now - switched_us[i]) / 60_000_000,
            )
        return readings

    def _ev_readings(self, now: int) -> dict[str, EVChargerReading]:
        bank, register = self.ev_chargers, self._ev_limits
        valid = register.valid(now).tolist()
        limits = register.values.tolist()
        power, plugged = bank.power_kw.tolist(), bank.plugged.tolist()
        state, need = bank.vehicle_state.tolist(), bank.need_kwh.tolist()
        session, energy = bank.session_energy_kwh.tolist(), bank.energy_kwh.tolist()
        delivered, short = bank.delivered_kwh.tolist(), bank.short_kwh.tolist()
        departures = bank.departures.tolist()
        return {
            a: EVChargerReading(
                asset_id=a,
                power_kw=power[i],
                plugged=plugged[i],
                vehicle_state=state[i],
                need_kwh=need[i],
                session_energy_kwh=session[i],
                energy_kwh=energy[i],
                delivered_kwh=delivered[i],
                short_kwh=short[i],
                departures=departures[i],
                mode=ControlMode.REMOTE if valid[i] else ControlMode.LOCAL,
                setpoint_kw=limits[i] if valid[i] else None,
                watchdog_remaining_s=register.remaining_s(i, now),
            )
            for i, a in enumerate(bank.ids)
        }

    def _tank_readings(self) -> dict[str, TankReading]:
        tanks = self.tanks
        columns = zip(
            self._tank_ids,
            tanks.temp_c.tolist(),
            tanks.draw_off_kw.tolist(),
            tanks.heat_in_kwh.tolist(),
            tanks.draw_off_kwh.tolist(),
            tanks.losses_kwh.tolist(),
            tanks.stored_kwh.tolist(),
            tanks.initial_stored_kwh.tolist(),
            tanks.unserved_heat_kwh.tolist(),
            tanks.comfort_violation_kh.tolist(),
            self.hygiene.completed.tolist(),
            self.hygiene.missed.tolist(),
            strict=True,
        )
        return {a: TankReading(a, *values) for a, *values in columns}
