"""The single path for every setpoint write: refuse, clamp, ramp, write, read back, feed the
watchdog, record.

Modbus has no authentication, so this module is the security boundary (DESIGN.md safety rule 8):
nothing else in the platform writes registers. Every attempt, refused ones included, becomes a row of
setpoint_writes (requested, clamped, written, read back, outcome); with `audit=True` (commissioning
writes from the command line) it also goes to the append-only audit log.

Steps of `SetpointWriter.write(asset_id, point, value)`:

1. Refuse before any bus traffic: unknown device or point, a point not marked writable (`access: rw`
   in its register map), a value that is not a finite number -> WriteRefusedError (recorded).
2. Clamp to the point's limits: the register map's min/max, the device's own limits where the map
   names them (`min_point`/`max_point`, read from the device now; unreadable -> no write), and an
   optional caller limit (external limits such as grid-operator dimming, rule 7).
3. Ramp: at most `ramp_per_s` x seconds since the last confirmed write (from the store); without a
   history, against the device's current value over `ramp_window_s`.
4. Minimum switching time (rule 3): a heat-pump point that switches the compressor (quantity
   setpoint_kw, sg_ready_state or on) stays on for the heat pump's min_on_minutes and off for
   its min_off_minutes, counted from the write that switched it -> outcome `held`. Changes
   within a state, releases to local mode, dimming caps and heartbeats are never held.
5. Write, then read back and compare within half a raw step of the point's scale.
6. Feed the device's watchdog or heartbeat (rule 1) when the map names one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import ssl
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, NoReturn

from sqlalchemy.exc import SQLAlchemyError

from connectors.codec import CodecError, Value, decode, scale_of
from connectors.device_client import DeviceClient, DeviceError, PointReading
from connectors.poller import DevicePoller, device_specs
from connectors.registermap import DataType, Point
from energy.config import HeatPumpConfig
from energy.quality import Quality
from energy.site import AssetKind, Site
from energy.store.audit import append_audit
from energy.store.engine import Store
from energy.store.setpoints import (
    SetpointWriteRecord,
    last_successful_write,
    record_setpoint_write,
)

__all__ = ["SetpointWriter", "WriteOutcome", "WriteRefusedError", "WriteStatus", "write_record"]

log = logging.getLogger(__name__)


class WriteStatus(StrEnum):
    OK = "ok"
    """Written as requested and confirmed by read-back."""
    CLAMPED = "clamped"
    """Limits or the ramp changed the value; what was written is confirmed by read-back."""
    MISMATCH = "mismatch"
    """The device reads back something else than was written."""
    UNCONFIRMED = "unconfirmed"
    """The write was sent but the read-back failed: the device state is unknown."""
    HELD = "held"
    """Not written: the point's minimum switching time has not passed."""
    REFUSED_NOT_WRITABLE = "refused_not_writable"
    REFUSED_INVALID = "refused_invalid"
    DEVICE_ERROR = "device_error"
    """Not written, or not known to be written: the device failed (or its limits are unreadable)."""


CONFIRMED = frozenset({WriteStatus.OK, WriteStatus.CLAMPED})

#: Heat-pump points whose changes switch the compressor (platform quantity names of the maps).
SWITCHING_QUANTITIES = frozenset({"setpoint_kw", "sg_ready_state", "on"})


class WriteRefusedError(PermissionError):
    """A write refused before any bus traffic (unknown or non-writable point, invalid value)."""

    def __init__(self, message: str, outcome: WriteOutcome | None = None):
        super().__init__(message)
        self.outcome = outcome


@dataclass(frozen=True)
class WriteOutcome:
    """What happened to one write. Values in the point's engineering unit."""

    asset_id: str
    point: str
    status: WriteStatus
    requested: float | None
    clamped: float | None = None
    written: float | None = None
    read_back: float | None = None
    detail: str = ""
    time: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    limits: tuple[float | None, float | None] = (None, None)
    feeds: tuple[WriteOutcome, ...] = ()
    """The watchdog/heartbeat writes that followed this write."""

    @property
    def confirmed(self) -> bool:
        return self.status in CONFIRMED


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _as_float(value: Value) -> float | None:
    if value is None or isinstance(value, str):
        return None
    return float(value)


def write_record(
    outcome: WriteOutcome, site_id: str, actor: str, detail: str | None = None
) -> SetpointWriteRecord:
    """The setpoint_writes row of a write attempt (`detail` replaces the outcome's own)."""
    return SetpointWriteRecord(
        time=outcome.time,
        site_id=site_id,
        asset_id=outcome.asset_id,
        point=outcome.point,
        requested=outcome.requested,
        clamped=outcome.clamped,
        written=outcome.written,
        read_back=outcome.read_back,
        outcome=outcome.status.value,
        detail=outcome.detail if detail is None else detail,
        actor=actor,
    )


class SetpointWriter:
    """Writes setpoints of a site's devices, one safe path for all of them.

    Shares the poller's DeviceClients (and so their connections, breakers and locks) when `poller`
    is given; otherwise opens its own clients on first use (`ssl_contexts`: verifying contexts
    for devices with tls: true). `actor` is recorded with every write
    ('system:dispatch', 'cli:alice').
    """

    def __init__(
        self,
        site: Site,
        store: Store | None,
        actor: str,
        *,
        poller: DevicePoller | None = None,
        ssl_contexts: Mapping[str, ssl.SSLContext] | None = None,
        audit: bool = False,
        ramp_window_s: float = 5.0,
        now: Callable[[], dt.datetime] = _utcnow,
    ):
        self.site = site
        self.store = store
        self.actor = actor
        self.audit = audit
        #: outcomes that could not be recorded (store unavailable), oldest first
        self.unrecorded: list[WriteOutcome] = []
        self.ramp_window_s = ramp_window_s
        self._poller = poller
        self._ssl_contexts = dict(ssl_contexts or {})
        self._own: dict[str, DeviceClient] = {}
        self._now = now
        self._history: dict[tuple[str, str], tuple[float, dt.datetime]] = {}
        self._switched: dict[tuple[str, str], tuple[bool, dt.datetime]] = {}
        self._heartbeat: dict[str, int] = {}

    # -- clients ------------------------------------------------------------------------------

    def _client(self, asset_id: str) -> DeviceClient:
        if self._poller is not None and asset_id in self._poller.clients:
            return self._poller.clients[asset_id]
        if asset_id not in self._own:
            try:
                (spec,) = device_specs(self.site, [asset_id])
            except KeyError as exc:
                raise WriteRefusedError(str(exc).strip("\"'")) from None
            self._own[asset_id] = DeviceClient(
                spec.asset_id,
                spec.endpoint,
                spec.register_map,
                ssl_context=self._ssl_contexts.get(asset_id),
            )
        return self._own[asset_id]

    async def close(self) -> None:
        """Close the clients this writer opened itself (a shared poller's stay open)."""
        await asyncio.gather(*(c.close() for c in self._own.values()))
        self._own.clear()

    # -- public API ---------------------------------------------------------------------------

    async def write(
        self,
        asset_id: str,
        point: str,
        value_requested: float | bool,
        *,
        limits: tuple[float | None, float | None] | None = None,
    ) -> WriteOutcome:
        """Write one setpoint through the full safety path; see the module docstring.

        `limits` (low, high) tightens the clamp further (either may be None). Raises
        WriteRefusedError for refusals; every other result is returned as a WriteOutcome.
        """
        try:
            client = self._client(asset_id)
        except WriteRefusedError as exc:
            await self._refuse(asset_id, point, WriteStatus.REFUSED_NOT_WRITABLE, str(exc), None)
        target = await self._checked_point(client, point, value_requested)
        async with client.lock:
            outcome = await self._write_locked(client, target, float(value_requested), limits)
            if outcome.confirmed and target.name not in self._feed_points(client):
                outcome = replace(outcome, feeds=await self._feed_locked(client))
        return outcome

    async def feed_watchdog(self, asset_id: str) -> tuple[WriteOutcome, ...]:
        """Renew the device's hold on our setpoints (rule 1): write its heartbeat, and its
        watchdog timeout (the endpoint's watchdog_s) where it has no heartbeat or the timeout
        is not yet confirmed. Empty when the map names neither."""
        client = self._client(asset_id)
        async with client.lock:
            return await self._feed_locked(client)

    # -- steps --------------------------------------------------------------------------------

    async def _checked_point(self, client: DeviceClient, name: str, requested: object) -> Point:
        """The point to write, or WriteRefusedError (recorded) before any bus traffic."""
        asset_id = client.asset_id
        try:
            target = client.register_map.point(name)
        except KeyError as exc:
            await self._refuse(
                asset_id,
                name,
                WriteStatus.REFUSED_NOT_WRITABLE,
                f"device {asset_id}: {exc.args[0]}; refused, nothing sent",
                requested,
            )
        status, problem = WriteStatus.REFUSED_INVALID, ""
        if not target.writable:
            status = WriteStatus.REFUSED_NOT_WRITABLE
            problem = (
                f"read-only in register map {client.register_map.name!r} (access {target.access!r})"
            )
        elif target.dtype is DataType.BOOL:
            if requested not in (0, 1) or isinstance(requested, float):
                problem = f"expected true/false (0/1) for a coil, found {requested!r}"
        elif isinstance(requested, bool) or not isinstance(requested, int | float):
            problem = f"expected a number for {target.dtype.value}, found {requested!r}"
        elif not math.isfinite(requested):
            problem = f"expected a finite number, found {requested!r}"
        if not problem:
            return target
        message = f"device {asset_id}: point {name}: {problem}; refused, nothing sent"
        await self._refuse(asset_id, name, status, message, requested)

    async def _refuse(
        self, asset_id: str, point: str, status: WriteStatus, message: str, requested: object
    ) -> NoReturn:
        """Record a refused write (who tried to write what is part of the audit trail), raise."""
        outcome = WriteOutcome(
            asset_id, point, status, _finite_or_none(requested), detail=message, time=self._now()
        )
        log.warning("write by %s refused: %s", self.actor, message)
        await self._record(outcome)
        raise WriteRefusedError(message, outcome)

    async def _write_locked(
        self,
        client: DeviceClient,
        target: Point,
        requested: float,
        extra: tuple[float | None, float | None] | None,
    ) -> WriteOutcome:
        asset_id = client.asset_id

        def result(status: WriteStatus, **fields: Any) -> WriteOutcome:
            return WriteOutcome(asset_id, target.name, status, requested, **fields)

        history = await self._last_write(asset_id, target.name)
        needed = {target.scale_factor, target.min_point, target.max_point} - {None}
        if target.ramp_per_s is not None and history is None:
            needed.add(target.name)
        try:
            current = await client.read_points(sorted(n for n in needed if n)) if needed else {}
            low, high = self._limits(target, current, extra)
            sf = _sf(target, current)
        except (DeviceError, _LimitError) as exc:
            return await self._finish(result(WriteStatus.DEVICE_ERROR, detail=str(exc)))
        value = requested if target.dtype is DataType.BOOL else _clip(requested, low, high)
        value, ramp_note = self._ramp(target, value, history, current)
        held = self._held(asset_id, target, value, history)
        if held:
            return await self._finish(
                result(WriteStatus.HELD, clamped=value, detail=held, limits=(low, high))
            )
        try:
            typed: float | bool = bool(value) if target.dtype is DataType.BOOL else value
            registers = await client.write_point(target, typed, sf)
        except (DeviceError, CodecError) as exc:
            return await self._finish(
                result(
                    WriteStatus.DEVICE_ERROR,
                    clamped=value,
                    detail=str(exc),
                    limits=(low, high),
                )
            )
        written = _as_float(decode(target, registers, sf))
        try:
            back = await client.read_points([target.name])
        except DeviceError as exc:
            return await self._finish(
                result(
                    WriteStatus.UNCONFIRMED,
                    clamped=value,
                    written=written,
                    detail=f"written, read-back failed: {exc}",
                    limits=(low, high),
                )
            )
        read_back = _as_float(back[target.name].value)
        tolerance = _tolerance(target, sf, written or 0.0)
        changed = value != requested
        notes = [n for n in (ramp_note, _clamp_note(requested, low, high, target)) if n]
        if read_back is None or written is None or abs(read_back - written) > tolerance:
            status = WriteStatus.MISMATCH
            notes.append(f"read back {read_back}, wrote {written} (tolerance {tolerance:g})")
        else:
            status = WriteStatus.CLAMPED if changed else WriteStatus.OK
        outcome = result(
            status,
            clamped=value,
            written=written,
            read_back=read_back,
            detail="; ".join(notes),
            limits=(low, high),
        )
        outcome = await self._finish(outcome)
        if outcome.confirmed and written is not None:
            key = (asset_id, target.name)
            self._history[key] = (written, outcome.time)
            switched = self._switched.get(key)
            if switched is None or switched[0] != _is_on(target, written):
                self._switched[key] = (_is_on(target, written), outcome.time)
        return outcome

    def _limits(
        self,
        target: Point,
        current: Mapping[str, PointReading],
        extra: tuple[float | None, float | None] | None,
    ) -> tuple[float | None, float | None]:
        lows = [target.min]
        highs = [target.max]
        for ref, bucket in ((target.min_point, lows), (target.max_point, highs)):
            if ref is None:
                continue
            reading = current[ref]
            value = _as_float(reading.value)
            if reading.quality is not Quality.GOOD or value is None:
                raise _LimitError(
                    f"device limit {ref} of point {target.name} unreadable "
                    f"({reading.reason or reading.quality.name}); not writing without it"
                )
            bucket.append(value)
        if extra is not None:
            lows.append(extra[0])
            highs.append(extra[1])
        low = max((v for v in lows if v is not None), default=None)
        high = min((v for v in highs if v is not None), default=None)
        if low is not None and high is not None and low > high:
            raise _LimitError(
                f"limits of point {target.name} contradict each other: low {low} > high {high}"
            )
        return low, high

    def _ramp(
        self,
        target: Point,
        value: float,
        history: tuple[float, dt.datetime] | None,
        current: Mapping[str, PointReading],
    ) -> tuple[float, str]:
        if target.ramp_per_s is None or target.dtype is DataType.BOOL:
            return value, ""
        if history is not None:
            reference, at = history
            elapsed = max(0.0, (self._now() - at).total_seconds())
            source = f"last write {reference:g} {elapsed:.1f} s ago"
        else:
            reading = current.get(target.name)
            reference_value = _as_float(reading.value) if reading is not None else None
            if reference_value is None or reading is None or reading.quality is not Quality.GOOD:
                return value, ""
            reference, elapsed = reference_value, self.ramp_window_s
            source = f"device value {reference:g}"
        step = target.ramp_per_s * elapsed
        ramped = min(max(value, reference - step), reference + step)
        if ramped == value:
            return value, ""
        return ramped, f"ramp {target.ramp_per_s:g}/s from {source}: {value:g} -> {ramped:g}"

    def _held(
        self,
        asset_id: str,
        target: Point,
        value: float,
        history: tuple[float, dt.datetime] | None,
    ) -> str:
        """Why a heat-pump switch must wait (empty when it need not).

        Applies to the points that switch the compressor (quantity setpoint_kw, sg_ready_state or
        on): a value above the point's lowest value (0, or min for an SG Ready state, where min
        is the lock) means on. Changes within one state (1.5 -> 1.8 kW) and rewrites never wait,
        and do not restart the clock; the clock starts at the confirmed write that switched.
        """
        if target.quantity not in SWITCHING_QUANTITIES:
            return ""
        try:
            asset = self.site.asset(asset_id)
        except KeyError:
            return ""
        params = asset.params
        if asset.kind is not AssetKind.HEAT_PUMP or not isinstance(params, HeatPumpConfig):
            return ""
        known = self._switched.get((asset_id, target.name))
        if known is None and history is not None:
            known = (_is_on(target, history[0]), history[1])  # after a restart: the safe side
        if known is None:
            return ""
        on, since = known
        if _is_on(target, value) == on:
            return ""
        minutes = params.min_on_minutes if on else params.min_off_minutes
        age_s = (self._now() - since).total_seconds()
        if age_s >= minutes * 60:
            return ""
        state = "on" if on else "off"
        return (
            f"heat pump switched {state} {age_s:.0f} s ago; minimum {state} time {minutes} min "
            f"not reached, {value:g} not written"
        )

    # -- watchdog / heartbeat -----------------------------------------------------------------

    @staticmethod
    def _feed_points(client: DeviceClient) -> set[str]:
        rm = client.register_map
        return {p for p in (rm.watchdog_point, rm.heartbeat_point) if p is not None}

    async def _feed_locked(self, client: DeviceClient) -> tuple[WriteOutcome, ...]:
        rm = client.register_map
        feeds: list[WriteOutcome] = []
        if rm.watchdog_point is not None:
            timeout_s = client.endpoint.watchdog_s
            confirmed = self._history.get((client.asset_id, rm.watchdog_point))
            if rm.heartbeat_point is None or confirmed is None or confirmed[0] != timeout_s:
                feeds.append(
                    await self._write_locked(client, rm.point(rm.watchdog_point), timeout_s, None)
                )
        if rm.heartbeat_point is not None:
            beat = rm.point(rm.heartbeat_point)
            low = int(beat.min or 0)
            high = int(beat.max if beat.max is not None else 0xFFFF)
            if client.asset_id not in self._heartbeat:
                # continue from what the device holds: some devices want a changed value
                self._heartbeat[client.asset_id] = await self._current_int(client, beat, low - 1)
            counter = self._heartbeat[client.asset_id] + 1
            if counter > high or counter < low:
                counter = low
            self._heartbeat[client.asset_id] = counter
            feeds.append(await self._write_locked(client, beat, float(counter), None))
        return tuple(feeds)

    @staticmethod
    async def _current_int(client: DeviceClient, point: Point, default: int) -> int:
        try:
            reading = (await client.read_points([point.name]))[point.name]
        except DeviceError:
            return default
        value = reading.value
        if reading.quality is not Quality.GOOD or not isinstance(value, int | float):
            return default
        return int(value)

    # -- recording ----------------------------------------------------------------------------

    async def _last_write(self, asset_id: str, point: str) -> tuple[float, dt.datetime] | None:
        if (asset_id, point) in self._history:
            return self._history[(asset_id, point)]
        if self.store is None:
            return None
        try:
            record = await asyncio.to_thread(
                last_successful_write, self.store, self.site.id, asset_id, point
            )
        except SQLAlchemyError as exc:
            log.warning(
                "write %s.%s: no ramp reference, the store is unavailable (%s)",
                asset_id,
                point,
                str(exc).splitlines()[0][:200],
            )
            return None
        if record is None or record.written is None:
            return None
        self._history[(asset_id, point)] = (record.written, record.time)
        return self._history[(asset_id, point)]

    async def _finish(self, outcome: WriteOutcome) -> WriteOutcome:
        outcome = replace(outcome, time=self._now())
        # a held write is the minimum switching time doing its job, not a fault
        expected = outcome.confirmed or outcome.status is WriteStatus.HELD
        level = logging.INFO if expected else logging.WARNING
        log.log(
            level,
            "write %s.%s by %s: %s (requested %s, clamped %s, written %s, read back %s) %s",
            outcome.asset_id,
            outcome.point,
            self.actor,
            outcome.status.value,
            outcome.requested,
            outcome.clamped,
            outcome.written,
            outcome.read_back,
            outcome.detail,
        )
        await self._record(outcome)
        return outcome

    async def _record(self, outcome: WriteOutcome) -> None:
        """Record the outcome; with the store unavailable it is kept in `unrecorded` (and
        logged above) for the caller to record once the store answers again."""
        if self.store is None:
            return
        try:
            await asyncio.to_thread(self._persist, outcome)
        except SQLAlchemyError as exc:
            log.error(
                "write %s.%s not recorded, the store is unavailable (%s); kept for later",
                outcome.asset_id,
                outcome.point,
                str(exc).splitlines()[0][:200],
            )
            self.unrecorded.append(outcome)

    def _persist(self, outcome: WriteOutcome) -> None:
        assert self.store is not None
        record_setpoint_write(self.store, write_record(outcome, self.site.id, self.actor))
        if self.audit:
            detail = {
                k: v for k, v in asdict(outcome).items() if k not in ("watchdog", "time", "limits")
            }
            detail["status"] = outcome.status.value
            detail["limits"] = list(outcome.limits)
            append_audit(
                self.store,
                self.actor,
                "setpoint.write",
                f"{outcome.asset_id}.{outcome.point}",
                detail,
                time=outcome.time,
            )


class _LimitError(Exception):
    """The limits of a point cannot be established."""


def _finite_or_none(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _clip(value: float, low: float | None, high: float | None) -> float:
    if low is not None and value < low:
        return low
    if high is not None and value > high:
        return high
    return value


def _clamp_note(requested: float, low: float | None, high: float | None, target: Point) -> str:
    if target.dtype is DataType.BOOL:
        return ""
    clipped = _clip(requested, low, high)
    if clipped == requested:
        return ""
    return f"clamped {requested:g} to limits [{low}, {high}]"


def _sf(target: Point, current: Mapping[str, PointReading]) -> int | None:
    if target.scale_factor is None:
        return None
    reading = current[target.scale_factor]
    if not isinstance(reading.value, int) or isinstance(reading.value, bool):
        raise _LimitError(
            f"scale factor {target.scale_factor} of point {target.name} unreadable "
            f"({reading.reason or reading.quality.name}); not writing without it"
        )
    return reading.value


def _tolerance(target: Point, sf: int | None, written: float) -> float:
    """Half a raw step for integer types; the type's rounding for floats."""
    if target.dtype is DataType.BOOL:
        return 0.0
    if target.dtype is DataType.FLOAT32:
        return abs(written) * 1e-6 + 1e-9
    if target.dtype is DataType.FLOAT64:
        return abs(written) * 1e-12 + 1e-12
    return abs(scale_of(target, sf)) / 2 + 1e-9


def _is_on(target: Point, value: float) -> bool:
    """On/off state of a switching point: above its lowest value (0, or a positive min)."""
    off = target.min if target.min is not None and target.min > 0 else 0.0
    return value > off
