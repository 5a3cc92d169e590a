"""The dispatch job: the active plan's current slot, written through the single write path.

Every cycle (control.dispatch_interval_s) `Dispatcher.dispatch_once(now)`:

1. activates an operator-approved plan that is newer than the active one, and expires plans past
   their horizon (a plan never runs past its horizon);
2. reads the fresh state (energy.control.state), the overrides and modes in force;
3. turns the active plan's slot into one DeviceCommand per controllable asset with the shared
   `commands_for_slot` (manual mode, overrides, the plan, then external limits: §14a dimming and
   feed-in limits override any plan);
4. replaces the command of every device with stale inputs (and of every device when the grid
   meter is stale) by a release to local mode; no plan covering the slot releases every
   automatic device too;
5. writes each device concurrently through `connectors.writer.SetpointWriter` (clamp, ramp,
   minimum switching time, write, read back, watchdog/heartbeat, setpoint_writes record); a
   device already released is not written again until it is commanded, and a setpoint that is
   unchanged, confirmed less than REWRITE_AFTER_S ago and held by a device reporting remote mode
   is renewed by feeding the device's watchdog only (safety rule 1 either way);
6. raises or clears the alarms `no_valid_plan`, `stale_input` (per device; not for a PV
   inverter silent at night, which is asleep) and `write_failed`
   (per device), so the operator sees every reason the loop is not controlling.

The dispatcher holds no state that the store does not also have: the set of devices it released
is a cache (after a restart every device is released once more, which is idempotent).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pandas as pd

from connectors.registermap import SG_READY_CONTACTS, RegisterMap, load_register_map
from connectors.writer import SetpointWriter, WriteOutcome, WriteRefusedError, WriteStatus
from energy.alarm_texts import alarm_text
from energy.control.balancing import DistrictBalancer
from energy.control.capabilities import grid_target_batteries
from energy.control.commands import (
    CommandKind,
    DeviceCommand,
    commands_for_slot,
    plan_values_at,
)
from energy.control.planner import dimming_limits, promote_approved
from energy.control.planning import ExternalLimits
from energy.control.state import GRID_METER_ID, SiteState, read_site_state
from energy.site import CONTROLLABLE_KINDS, AssetKind, Site
from energy.solar import sun_is_down
from energy.store.alarms import Severity, clear_alarm, list_alarms, raise_alarm
from energy.store.controls import active_overrides, asset_modes_of
from energy.store.engine import Store
from energy.store.plans import PlanRecord, active_plan, expire_plans, read_plan_values
from optimizer.plant import Plant

__all__ = ["DeviceWrite", "DispatchReport", "Dispatcher", "device_writes"]

log = logging.getLogger(__name__)

#: write outcomes that are not a device fault (held = minimum switching time, by design)
_FINE = frozenset({WriteStatus.OK, WriteStatus.CLAMPED, WriteStatus.HELD})
#: an unchanged setpoint is rewritten this often (site seconds); in between the watchdog is fed
REWRITE_AFTER_S = 60.0
ExternalLimitsSource = Callable[[SiteState], ExternalLimits | None]


@dataclass(frozen=True)
class DeviceWrite:
    """One register write a command needs: point name and value in the point's unit."""

    point: str
    value: float | bool
    limits: tuple[float | None, float | None] | None = None


def _point_by_quantity(register_map: RegisterMap, quantity: str) -> str | None:
    for point in register_map.points:
        if point.quantity == quantity and point.writable:
            return point.name
    return None


def _off(register_map: RegisterMap, name: str) -> float | bool:
    return register_map.point(name).switch_value(False)


def _on(register_map: RegisterMap, name: str) -> float | bool:
    return register_map.point(name).switch_value(True)


def _enable(register_map: RegisterMap) -> list[DeviceWrite]:
    """The enable switch that makes a written setpoint act (SunSpec WSetEna, SMA 40151)."""
    name = _point_by_quantity(register_map, "setpoint_enabled")
    return [] if name is None else [DeviceWrite(name, _on(register_map, name))]


def _sg_ready_contact_writes(
    register_map: RegisterMap, state: int, need: Callable[[str], str]
) -> list[DeviceWrite]:
    """Contacts that open are written first (A before B), then those that close (B before A):
    between the two writes the heat pump may see normal or recommended-on, never a lock or a
    forced run that neither the old nor the new state asked for."""
    if state not in SG_READY_CONTACTS:
        raise ValueError(f"SG Ready state must be 1..4; found {state}")
    target = dict(
        zip(("sg_ready_contact_a", "sg_ready_contact_b"), SG_READY_CONTACTS[state], strict=True)
    )
    order = [("sg_ready_contact_a", False), ("sg_ready_contact_b", False)]
    order += [("sg_ready_contact_b", True), ("sg_ready_contact_a", True)]
    writes = []
    for quantity, closed in order:
        if target[quantity] is closed:
            name = need(quantity)
            writes.append(DeviceWrite(name, register_map.point(name).switch_value(closed)))
    return writes


def device_writes(
    site: Site, register_map: RegisterMap, command: DeviceCommand
) -> list[DeviceWrite]:
    """The register writes of one command on one device, from its register map's quantities.

    setpoint_kw and grid_target_kw points take kW / quantity_factor; SG Ready takes the state (or
    the two SG Ready contacts); a PV limit is written as percent of the configured peak power,
    then enabled; a map with a setpoint_enabled switch gets it switched on after the setpoint. A
    release writes mode 0 (or remote_enable false, limit_enabled 0, setpoint_enabled off). Raises
    ValueError when the map cannot carry the command.
    """
    asset_id = command.asset_id

    def need(quantity: str) -> str:
        name = _point_by_quantity(register_map, quantity)
        if name is None:
            raise ValueError(
                f"device {asset_id}: register map {register_map.name!r} has no writable point "
                f"with quantity {quantity!r} for a {command.kind.value} command"
            )
        return name

    if command.kind is CommandKind.RELEASE_TO_LOCAL:
        for quantity in ("mode", "remote_enable", "limit_enabled", "setpoint_enabled"):
            name = _point_by_quantity(register_map, quantity)
            if name is not None:
                return [DeviceWrite(name, _off(register_map, name))]
        need("mode")
    assert command.value is not None
    if command.kind in (
        CommandKind.BATTERY_POWER_KW,
        CommandKind.HEAT_PUMP_POWER_KW,
        CommandKind.EV_CHARGE_LIMIT_KW,
    ):
        name = need("setpoint_kw")
        factor = register_map.point(name).quantity_factor
        return [DeviceWrite(name, command.value / factor), *_enable(register_map)]
    if command.kind is CommandKind.BATTERY_GRID_TARGET_KW:
        name = need("grid_target_kw")
        factor = register_map.point(name).quantity_factor
        return [DeviceWrite(name, command.value / factor), *_enable(register_map)]
    if command.kind is CommandKind.SG_READY_STATE:
        state = round(command.value)
        if _point_by_quantity(register_map, "sg_ready_state") is not None:
            return [DeviceWrite(need("sg_ready_state"), float(state))]
        return [*_sg_ready_contact_writes(register_map, state, need), *_enable(register_map)]
    if command.kind is CommandKind.PV_LIMIT_KW:
        peak_kw = float(site.asset(asset_id).params_dict().get("peak_kw") or 0.0)
        if peak_kw <= 0:
            raise ValueError(f"device {asset_id}: PV limit needs a configured peak_kw > 0")
        pct = min(max(100.0 * command.value / peak_kw, 0.0), 100.0)
        enable = need("limit_enabled")
        return [DeviceWrite(need("limit_pct"), pct), DeviceWrite(enable, _on(register_map, enable))]
    raise ValueError(f"device {asset_id}: unknown command kind {command.kind!r}")


@dataclass
class DispatchReport:
    """What one dispatch cycle decided and wrote."""

    time: dt.datetime
    plan: PlanRecord | None = None
    commands: list[DeviceCommand] = field(default_factory=list)
    outcomes: dict[str, list[WriteOutcome]] = field(default_factory=dict)
    released: list[str] = field(default_factory=list)
    stale: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


class Dispatcher:
    """Writes the active plan's current slot to the devices (see module docstring)."""

    def __init__(
        self,
        site: Site,
        store: Store,
        writer: SetpointWriter,
        stale_after_s: float,
        external_limits: ExternalLimitsSource | None = None,
    ):
        self.site = site
        self.store = store
        self.writer = writer
        self.stale_after_s = stale_after_s
        self.external_limits = external_limits or (lambda state: dimming_limits(site, state))
        self.plant = Plant.from_site(site)
        self.maps = {
            a.id: load_register_map(a.device.register_map, a.id)
            for a in site.devices()
            if a.device is not None
        }
        self.controllable = [a.id for a in site.devices() if a.kind in CONTROLLABLE_KINDS]
        self.grid_target_batteries = grid_target_batteries(site, self.maps)
        control = site.config.control
        self.balancer = (
            DistrictBalancer(self.plant, control.balancing_gain) if control.balancing else None
        )
        self._released: set[str] = set()
        #: per battery, the power setpoint (kW) last written, for the balancing deadband
        self._battery_kw: dict[str, float] = {}
        self._pv_ids = frozenset(a.id for a in site.of_kind(AssetKind.PV))
        #: per asset, the writes last confirmed and when (site clock): unchanged -> feed only
        self._confirmed: dict[str, tuple[tuple[tuple[str, float], ...], dt.datetime]] = {}
        #: the write outcomes of the latest release_all
        self.last_outcomes: list[WriteOutcome] = []
        self._plan_values: tuple[int, pd.DataFrame] | None = None

    # -- one cycle ----------------------------------------------------------------------------

    def _read(
        self, now: dt.datetime
    ) -> tuple[PlanRecord | None, pd.DataFrame, SiteState, dict, dict]:
        promote_approved(self.store, self.site, now)
        expire_plans(
            self.store,
            self.site.id,
            now,
            proposal_valid=self.site.config.control.proposal_valid,
        )
        plan = active_plan(self.store, self.site.id, now)
        if plan is None:
            values = pd.DataFrame(columns=["asset_id", "quantity", "slot_start", "value"])
        elif self._plan_values is not None and self._plan_values[0] == plan.id:
            values = self._plan_values[1]
        else:
            values = read_plan_values(self.store, plan.id)
            self._plan_values = (plan.id, values)
        state = read_site_state(self.store, self.site, now, self.stale_after_s)
        overrides = active_overrides(self.store, self.site.id, now)
        modes = asset_modes_of(self.store, self.site.id)
        return plan, values, state, overrides, modes

    def commands(
        self,
        now: dt.datetime,
        plan: PlanRecord | None,
        values: pd.DataFrame,
        state: SiteState,
        overrides: dict,
        modes: dict,
    ) -> list[DeviceCommand]:
        """The commands of this cycle, balanced, with stale devices released (steps 3 and 4)."""
        slot_start = pd.Timestamp(now)
        limits = self.external_limits(state)
        commands = commands_for_slot(
            self.site,
            values,
            slot_start,
            state=state.dispatch_state(self.site),
            overrides=overrides,
            modes=modes,
            external_limits=limits,
            plant=self.plant,
            grid_target_batteries=self.grid_target_batteries,
        )
        if self.balancer is not None:
            commands = self.balancer.adjust(
                commands,
                plan_values_at(values, slot_start),
                slot_start,
                None if state.site_inputs_stale else state.value(GRID_METER_ID, "power_kw"),
                {
                    b.id: soc
                    for b in self.plant.batteries
                    if b.id not in state.stale
                    and (soc := state.value(b.id, "soc_frac")) is not None
                },
                limits.battery_charge_cap_kw
                if limits is not None and limits.in_force(slot_start)
                else None,
            )
            commands = [self._outside_deadband(c) for c in commands]
        safe = []
        for command in commands:
            if not state.controllable(command.asset_id):
                command = DeviceCommand(
                    command.asset_id, CommandKind.RELEASE_TO_LOCAL, None, "stale"
                )
            safe.append(command)
        return safe

    def _outside_deadband(self, command: DeviceCommand) -> DeviceCommand:
        """A plan's battery power setpoint within `control.balancing_deadband_kw` of the one
        last written keeps that one: balancing moves setpoints every cycle, and every write is a
        row of the append-only setpoint log, so only moves worth a write are written (overrides
        and limits are written as they are)."""
        last = self._battery_kw.get(command.asset_id)
        if (
            last is None
            or command.kind is not CommandKind.BATTERY_POWER_KW
            or command.source != "plan"
            or command.value is None
            or abs(command.value - last) >= self.site.config.control.balancing_deadband_kw
        ):
            return command
        return replace(command, value=last)

    async def dispatch_once(self, now: dt.datetime) -> DispatchReport:
        plan, values, state, overrides, modes = await asyncio.to_thread(self._read, now)
        commands = self.commands(now, plan, values, state, overrides, modes)
        report = DispatchReport(time=now, plan=plan, commands=commands, stale=dict(state.stale))
        results = await asyncio.gather(*(self._execute(c, now, state) for c in commands))
        for command, (outcomes, problem) in zip(commands, results, strict=True):
            if outcomes:
                report.outcomes[command.asset_id] = outcomes
            if problem:
                report.failed[command.asset_id] = problem
            elif command.kind is CommandKind.RELEASE_TO_LOCAL and outcomes:
                report.released.append(command.asset_id)
        await asyncio.to_thread(self._alarms, report)
        return report

    async def _execute(
        self,
        command: DeviceCommand,
        now: dt.datetime | None = None,
        state: SiteState | None = None,
    ) -> tuple[list[WriteOutcome], str]:
        asset_id = command.asset_id
        releasing = command.kind is CommandKind.RELEASE_TO_LOCAL
        if releasing and asset_id in self._released:
            return [], ""
        try:
            writes = device_writes(self.site, self.maps[asset_id], command)
        except ValueError as exc:
            return [], str(exc)
        key = tuple((w.point, float(w.value)) for w in writes)
        if not releasing and self._unchanged(asset_id, key, now, state):
            # safety rule 1 by the watchdog feed alone: the live setpoint is renewed
            feeds = list(await self.writer.feed_watchdog(asset_id))
            bad = [f for f in feeds if f.status not in _FINE]
            if not bad:
                return feeds, ""
            self._confirmed.pop(asset_id, None)
            return feeds, f"watchdog feed: {bad[0].status.value} {bad[0].detail}".strip()
        outcomes: list[WriteOutcome] = []
        self._confirmed.pop(asset_id, None)
        for write in writes:
            try:
                outcome = await self.writer.write(
                    asset_id, write.point, write.value, limits=write.limits
                )
            except WriteRefusedError as exc:
                return outcomes, str(exc)
            outcomes.append(outcome)
            if outcome.status not in _FINE:
                return outcomes, f"{write.point}: {outcome.status.value} {outcome.detail}".strip()
        if releasing:
            self._released.add(asset_id)
        else:
            self._released.discard(asset_id)
            if now is not None and all(o.status is not WriteStatus.HELD for o in outcomes):
                self._confirmed[asset_id] = (key, now)
        if command.kind is CommandKind.BATTERY_POWER_KW and command.value is not None:
            self._battery_kw[asset_id] = command.value
        else:
            self._battery_kw.pop(asset_id, None)
        return outcomes, ""

    def _unchanged(
        self,
        asset_id: str,
        key: tuple[tuple[str, float], ...],
        now: dt.datetime | None,
        state: SiteState | None,
    ) -> bool:
        """The same setpoint was confirmed less than REWRITE_AFTER_S ago and the device reports
        remote mode (so its watchdog holds our setpoint): a feed suffices."""
        confirmed = self._confirmed.get(asset_id)
        if confirmed is None or now is None or state is None or confirmed[0] != key:
            return False
        if (now - confirmed[1]).total_seconds() >= REWRITE_AFTER_S:
            return False
        mode = state.value(asset_id, "mode")
        return mode is not None and mode >= 0.5

    def _stale_for_alarms(self, report: DispatchReport) -> dict[str, str]:
        """The stale devices worth an alarm: a PV inverter silent while the sun is down is
        asleep, which is normal (it is still released to local mode, as every stale device)."""
        stale = dict(report.stale)
        inverters = [a for a in stale if a in self._pv_ids]
        if inverters and sun_is_down(self.site.config.location, report.time):
            for asset_id in inverters:
                del stale[asset_id]
        return stale

    def _alarms(self, report: DispatchReport) -> None:
        """Raise what is wrong and clear what is not, touching only alarms that change (one read
        of the open alarms per cycle instead of a query per device)."""
        now, site_id = report.time, self.site.id
        open_now = {
            (a["code"], a["source"])
            for a in list_alarms(self.store, site_id)
            if a["code"] in ("no_valid_plan", "stale_input", "write_failed")
        }
        wanted: dict[tuple[str, str], tuple[Severity, str]] = {}
        if report.plan is None:
            wanted[("no_valid_plan", "dispatch")] = (
                Severity.WARNING,
                alarm_text("dispatch.no_plan", now_at=now),
            )
        for asset_id, reason in self._stale_for_alarms(report).items():
            wanted[("stale_input", asset_id)] = (
                Severity.CRITICAL,
                alarm_text("dispatch.released", reason=reason),
            )
        for asset_id, problem in report.failed.items():
            wanted[("write_failed", asset_id)] = (
                Severity.CRITICAL,
                alarm_text("dispatch.write_failed", asset=asset_id, problem=problem),
            )
        for (code, source), (severity, message) in wanted.items():
            raise_alarm(self.store, site_id, code, source, severity, message, now)
            if (code, source) not in open_now:  # logged when it starts, not every cycle
                log.warning("alarm %s (%s): %s", code, source, message)
        written = {c.asset_id for c in report.commands}
        for code, source in open_now - set(wanted):
            if code == "write_failed" and source not in written:
                continue  # not attempted this cycle: the failure stands
            clear_alarm(self.store, site_id, code, source, now)
            log.info("alarm %s (%s) cleared", code, source)

    # -- release ------------------------------------------------------------------------------

    def forget_released(self) -> None:
        """Release every device again at its next release command (its state is unknown)."""
        self._released.clear()
        self._confirmed.clear()

    async def release_all(self, reason: str) -> dict[str, str]:
        """Hand every controllable device back to local mode now (shutdown, store outage).

        Returns the problems per device (empty when every release was confirmed); the write
        outcomes are in `last_outcomes`.
        """
        self._released.clear()
        commands = [
            DeviceCommand(a, CommandKind.RELEASE_TO_LOCAL, None, reason) for a in self.controllable
        ]
        results = await asyncio.gather(*(self._execute(c) for c in commands))
        self.last_outcomes = [o for outcomes, _ in results for o in outcomes]
        problems = {c.asset_id: p for c, (_, p) in zip(commands, results, strict=True) if p}
        for asset_id, problem in problems.items():
            log.warning("release of %s failed (%s): %s", asset_id, reason, problem)
        return problems
