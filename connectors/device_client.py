"""One long-lived client per Modbus device: timeouts, retries, reconnect backoff, circuit breaker and
the quality of every value it reads.

A DeviceClient owns one connection (connectors.modbus_adapter.ModbusConnection) for the life of the
process and reuses it across poll cycles; the poller and the setpoint writer share it. Its guards
keep a misbehaving device from costing the others anything:

- every request is bounded by `timeout_s` and retried `retries` times;
- a lost connection is re-opened only after an exponential backoff (capped);
- after `breaker_failures` consecutive failed requests the circuit breaker opens and the device is
  skipped at once (no bus traffic, no waiting) until a trial request is due.

Quality of values (energy.quality.Quality): a point read this cycle is GOOD, or INVALID when the
device answered but the value is unusable (exception response for its block, SunSpec 'not
implemented', undecodable, NaN, or outside a read-only point's min/max: the plausible range; on a
writable point min/max are write limits, and a device may report a value outside them, such as 0
for an SG Ready state while it runs under continuous control). When the device fails to answer,
the last values are kept with their original read time; after `stale_after_failures` consecutive
failed cycles they are reported STALE. A value that cannot be read is never reported as zero.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from connectors.codec import CodecError, Value, decode, encode
from connectors.frozen import FrozenTracker
from connectors.modbus_adapter import (
    ModbusConnection,
    ModbusConnectionError,
    ModbusError,
    ModbusExceptionResponse,
    ModbusTimeout,
)
from connectors.registermap import (
    Point,
    ReadBlock,
    RegisterMap,
    RegisterTable,
    plan_reads,
)
from connectors.resilience import Backoff, BreakerState, CircuitBreaker, Clock
from energy.config import DeviceEndpoint
from energy.quality import Quality

__all__ = [
    "ClientPolicy",
    "ConnectionFactory",
    "DeviceClient",
    "DeviceError",
    "DeviceHealth",
    "DeviceReading",
    "DeviceUnavailableError",
    "PointReading",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

ConnectionFactory = Callable[
    [DeviceEndpoint, "ClientPolicy", ssl.SSLContext | None], ModbusConnection
]

#: Exception codes a gateway sends when the device behind it does not answer: not a live device.
GATEWAY_EXCEPTION_CODES = frozenset({10, 11})
#: Grace beyond the adapter's own timeout before a request is cancelled from outside.
_GUARD_S = 0.5


class DeviceError(RuntimeError):
    """A request to a device failed (timeout, connection lost, exception response)."""

    def __init__(self, asset_id: str, message: str, *, answered: bool = False):
        super().__init__(f"device {asset_id}: {message}")
        self.asset_id = asset_id
        self.answered = answered
        """True when the device answered (an exception response): it is alive."""


class DeviceUnavailableError(DeviceError):
    """The request was not sent: the circuit breaker is open or a reconnect is not yet due."""


@dataclass(frozen=True)
class ClientPolicy:
    """How patient a client is with its device. Times in seconds."""

    timeout_s: float = 1.0
    retries: int = 1
    stale_after_failures: int = 3
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    breaker_failures: int = 3
    breaker_open_s: float = 10.0
    breaker_open_max_s: float = 120.0
    bus_devices: int = 1
    """Devices sharing this device's serial bus: a request may queue behind one of each."""

    @classmethod
    def from_endpoint(cls, endpoint: DeviceEndpoint, **overrides: Any) -> ClientPolicy:
        """Timeout, retries and staleness from the site config; the rest from defaults."""
        base = cls(
            timeout_s=endpoint.timeout_s,
            retries=endpoint.retries,
            stale_after_failures=endpoint.stale_after_failures,
        )
        return replace(base, **overrides)


@dataclass(frozen=True)
class PointReading:
    """A value with the time it was read from the device (UTC) and its quality."""

    value: Value
    quality: Quality
    read_time: dt.datetime
    unit: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class DeviceHealth:
    """How a device's client fares: `stale` once consecutive_failures reaches the endpoint's
    stale_after_failures; `breaker` open means requests are skipped until a trial is due."""

    asset_id: str
    connected: bool
    consecutive_failures: int
    breaker: BreakerState
    stale: bool
    last_error: str | None
    last_success: dt.datetime | None


@dataclass(frozen=True)
class DeviceReading:
    """The outcome of one poll of one device.

    `fresh` names the points read in this cycle; every other entry of `values` is held from an
    earlier cycle (quality STALE once the device counts as stale).
    """

    asset_id: str
    time: dt.datetime
    ok: bool
    values: dict[str, PointReading]
    fresh: frozenset[str]
    health: DeviceHealth
    requests: int = 0


@dataclass
class _State:
    consecutive_failures: int = 0
    last_error: str | None = None
    last_success: dt.datetime | None = None
    values: dict[str, PointReading] = field(default_factory=dict)
    invalid_reasons: dict[str, str] = field(default_factory=dict)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DeviceClient:
    """The long-lived client of one device. Not safe for concurrent use by several tasks at once
    for the same device; the poller and writer serialize through `lock`."""

    def __init__(
        self,
        asset_id: str,
        endpoint: DeviceEndpoint,
        register_map: RegisterMap,
        *,
        policy: ClientPolicy | None = None,
        ssl_context: ssl.SSLContext | None = None,
        connection_factory: ConnectionFactory | None = None,
        clock: Clock = time.monotonic,
        now: Callable[[], dt.datetime] = _utcnow,
    ):
        if endpoint.tls and ssl_context is None:
            raise ValueError(
                f"device {asset_id}: endpoint has tls: true; expected a caller-supplied "
                "ssl.SSLContext that verifies the server, found none"
            )
        if ssl_context is not None and (
            ssl_context.verify_mode == ssl.CERT_NONE or not ssl_context.check_hostname
        ):
            raise ValueError(
                f"device {asset_id}: expected an ssl.SSLContext that verifies the server's "
                "certificate and host name; found one with verification switched off"
            )
        self.asset_id = asset_id
        self.endpoint = endpoint
        self.register_map = register_map
        self._frozen = FrozenTracker(register_map)
        self.policy = policy or ClientPolicy.from_endpoint(endpoint)
        self.blocks: list[ReadBlock] = plan_reads(register_map)
        self.lock = asyncio.Lock()
        self._ssl_context = ssl_context
        self._factory = connection_factory or _default_connection
        self._connection: ModbusConnection | None = None
        self._now = now
        self._backoff = Backoff(
            initial_s=self.policy.reconnect_initial_s,
            max_s=self.policy.reconnect_max_s,
            jitter_frac=0.1,
            clock=clock,
        )
        self._breaker = CircuitBreaker(
            failure_threshold=self.policy.breaker_failures,
            open_s=self.policy.breaker_open_s,
            open_max_s=max(self.policy.breaker_open_max_s, self.policy.breaker_open_s),
            clock=clock,
        )
        self._state = _State()

    # -- health -------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connection is not None and self._connection.connected

    @property
    def stale(self) -> bool:
        return self._state.consecutive_failures >= self.policy.stale_after_failures

    def health(self) -> DeviceHealth:
        return DeviceHealth(
            asset_id=self.asset_id,
            connected=self.connected,
            consecutive_failures=self._state.consecutive_failures,
            breaker=self._breaker.state,
            stale=self.stale,
            last_error=self._state.last_error,
            last_success=self._state.last_success,
        )

    # -- connection ---------------------------------------------------------------------------

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                await connection.close()
            except Exception as exc:  # closing a broken socket may fail in many ways
                log.debug("device %s: error while closing: %s", self.asset_id, exc)

    async def _ensure_connected(self) -> ModbusConnection:
        if self._connection is not None and self._connection.connected:
            return self._connection
        await self.close()
        connection = self._factory(self.endpoint, self.policy, self._ssl_context)
        try:
            await asyncio.wait_for(connection.connect(), self.policy.timeout_s + 1 + _GUARD_S)
        except (TimeoutError, ModbusError, OSError) as exc:
            delay = self._backoff.failed()
            try:
                await connection.close()
            except Exception as close_exc:  # a half-open socket; nothing more to do
                log.debug("device %s: close after failed connect: %s", self.asset_id, close_exc)
            raise DeviceError(
                self.asset_id,
                f"cannot connect to {_where(self.endpoint)}: {_describe(exc)}; "
                f"retry in {delay:.1f} s",
            ) from exc
        self._backoff.succeeded()
        self._connection = connection
        log.info("device %s: connected to %s", self.asset_id, _where(self.endpoint))
        return connection

    async def request(self, what: str, call: Callable[[ModbusConnection], Awaitable[T]]) -> T:
        """Run one request with the device's timeout, retries, breaker and reconnect policy.

        Raises DeviceUnavailableError without bus traffic while the breaker is open or a reconnect is
        not due; DeviceError(answered=True) on an exception response; DeviceError otherwise.
        """
        if not self.connected and not self._backoff.ready():
            raise DeviceUnavailableError(
                self.asset_id, f"not connected; next reconnect in {self._backoff.wait_s():.1f} s"
            )
        if not self._breaker.allow():
            raise DeviceUnavailableError(
                self.asset_id,
                f"circuit breaker open after {self._breaker.failures} failures; "
                f"trial in {self._breaker.retry_in_s():.1f} s",
            )
        last: BaseException | None = None
        try:
            try:
                connection = await self._ensure_connected()
            except DeviceError:
                self._breaker.record_failure()
                raise
            for attempt in range(self.policy.retries + 1):
                try:
                    # asyncio.timeout, not wait_for: no extra task per request
                    async with asyncio.timeout(self._request_guard_s):
                        result = await call(connection)
                except ModbusExceptionResponse as exc:
                    if exc.code in GATEWAY_EXCEPTION_CODES:
                        last = exc
                        break
                    self._breaker.record_success()
                    raise DeviceError(self.asset_id, f"{what}: {exc}", answered=True) from exc
                except (TimeoutError, ModbusTimeout) as exc:
                    last = exc
                    log.debug("device %s: %s timed out (try %d)", self.asset_id, what, attempt + 1)
                except (ModbusConnectionError, OSError) as exc:
                    last = exc
                    await self.close()
                    self._backoff.failed()
                    break
                except ModbusError as exc:
                    last = exc
                    log.debug("device %s: %s: %s (try %d)", self.asset_id, what, exc, attempt + 1)
                else:
                    self._breaker.record_success()
                    return result
        except DeviceError:
            raise
        except asyncio.CancelledError:
            self._breaker.record_failure()
            await self.close()
            raise
        except Exception:
            # not a device fault; still settle the breaker, so that a half-open trial never hangs
            self._breaker.record_failure()
            raise
        self._breaker.record_failure()
        raise DeviceError(self.asset_id, f"{what}: {_describe(last)}") from last

    # -- reading ------------------------------------------------------------------------------

    async def read_block(self, block: ReadBlock) -> list[int] | list[bool]:
        what = f"read {block.table.value} {block.address}+{block.count}"
        return await self.request(
            what, lambda conn: conn.read(block.table, block.address, block.count)
        )

    @property
    def _request_guard_s(self) -> float:
        """Outer bound of one request: its timeout plus grace, times the devices it may queue
        behind on a shared serial bus (the adapter's bus lock is taken inside the request)."""
        return (self.policy.timeout_s + _GUARD_S) * self.policy.bus_devices

    @property
    def cycle_budget_s(self) -> float:
        """The longest one poll of this device may take: a connect plus every block's budget."""
        per_request = self._request_guard_s * (self.policy.retries + 1)
        return self.policy.timeout_s + 1 + _GUARD_S + per_request * max(1, len(self.blocks))

    async def read_all(self) -> DeviceReading:
        """Poll every point of the map once, within `cycle_budget_s`. Never raises for device
        faults: they end up in the reading's health and in the quality of its values."""
        async with self.lock:
            try:
                async with asyncio.timeout(self.cycle_budget_s):
                    return await self._read_blocks(self.blocks, track_health=True)
            except TimeoutError:
                failure = DeviceError(
                    self.asset_id, f"poll exceeded its budget of {self.cycle_budget_s:.1f} s"
                )
            except Exception as exc:  # a bug or an unforeseen library error: one device only
                log.exception("device %s: unexpected error while polling", self.asset_id)
                await self.close()
                failure = DeviceError(self.asset_id, f"unexpected {type(exc).__name__}: {exc}")
            return self._reading({}, failure, self._now(), track_health=True, requests=0)

    async def read_points(self, names: Iterable[str]) -> dict[str, PointReading]:
        """Read the named points now (for the writer); raises DeviceError when the device fails."""
        points = [self.register_map.point(n) for n in names]
        reading = await self._read_blocks(plan_reads(self.register_map, points), raise_on=True)
        return {n: reading.values[n] for n in names}

    async def _read_blocks(
        self, blocks: Sequence[ReadBlock], *, track_health: bool = False, raise_on: bool = False
    ) -> DeviceReading:
        raw: dict[str, tuple[Point, Sequence[int | bool]]] = {}
        invalid: dict[str, str] = {}
        failure: DeviceError | None = None
        requests = 0
        read_time = self._now()
        for block in blocks:
            if failure is not None:
                break
            try:
                requests += 1
                values = await self.read_block(block)
            except DeviceError as exc:
                if isinstance(exc, DeviceUnavailableError):
                    requests -= 1  # nothing was sent
                if not exc.answered:
                    failure = exc
                    continue
                for point in block.points:
                    invalid[point.name] = str(exc)
                continue
            read_time = self._now()
            for point in block.points:
                raw[point.name] = (point, values[block.slice_for(point)])
        if failure is not None and raise_on:
            raise failure
        fresh = self._decode(raw, invalid, read_time)
        return self._reading(
            fresh, failure, read_time, track_health=track_health, requests=requests
        )

    def _reading(
        self,
        fresh: dict[str, PointReading],
        failure: DeviceError | None,
        read_time: dt.datetime,
        *,
        track_health: bool,
        requests: int,
    ) -> DeviceReading:
        if track_health:
            fresh = self._frozen.assess(fresh)
            self._log_invalid(fresh)
            self._update_health(fresh, failure)
        values = dict(self._state.values) if track_health else {}
        values.update(fresh)
        values = {p.name: values[p.name] for p in self.register_map.points if p.name in values}
        if self.stale and track_health:
            values = {
                name: reading
                if name in fresh
                else replace(reading, quality=Quality.STALE, reason=self._state.last_error or "")
                for name, reading in values.items()
            }
        return DeviceReading(
            asset_id=self.asset_id,
            time=self._now(),
            ok=failure is None,
            values=values,
            fresh=frozenset(fresh),
            health=self.health(),
            requests=requests,
        )

    def _log_invalid(self, fresh: dict[str, PointReading]) -> None:
        """Log a point's invalid reason when it appears or changes, and its recovery; not every
        cycle (a device polled every few seconds would flood the log)."""
        reasons = self._state.invalid_reasons
        for name, reading in fresh.items():
            if reading.quality is Quality.INVALID:
                if reasons.get(name) != reading.reason:
                    log.warning(
                        "device %s: point %s invalid: %s", self.asset_id, name, reading.reason
                    )
                    reasons[name] = reading.reason
            elif reasons.pop(name, None) is not None:
                log.info("device %s: point %s valid again", self.asset_id, name)

    def _update_health(self, fresh: dict[str, PointReading], failure: DeviceError | None) -> None:
        state = self._state
        state.values.update(fresh)
        if failure is None:
            if state.consecutive_failures:
                log.info(
                    "device %s: answering again after %d failed polls",
                    self.asset_id,
                    state.consecutive_failures,
                )
            state.consecutive_failures = 0
            state.last_error = None
            state.last_success = self._now()
            return
        state.consecutive_failures += 1
        state.last_error = str(failure)
        if state.consecutive_failures == self.policy.stale_after_failures:
            log.warning(
                "%s; values stale after %d failed polls", failure, state.consecutive_failures
            )
        elif isinstance(failure, DeviceUnavailableError):
            log.debug("%s", failure)
        else:
            log.info("%s (failed poll %d)", failure, state.consecutive_failures)

    def _decode(
        self,
        raw: dict[str, tuple[Point, Sequence[int | bool]]],
        invalid: dict[str, str],
        read_time: dt.datetime,
    ) -> dict[str, PointReading]:
        out: dict[str, PointReading] = {}
        for name, reason in invalid.items():
            point = self.register_map.point(name)
            out[name] = PointReading(None, Quality.INVALID, read_time, point.unit, reason)
        scale_factors: dict[str, Value] = {}
        ordered = sorted(raw.values(), key=lambda item: item[0].scale_factor is not None)
        for point, registers in ordered:
            value, reason = self._decode_point(point, registers, scale_factors)
            scale_factors[point.name] = value
            quality = Quality.GOOD if not reason else Quality.INVALID
            out[point.name] = PointReading(value, quality, read_time, point.unit, reason)
        return out

    def _decode_point(
        self, point: Point, registers: Sequence[int | bool], scale_factors: dict[str, Value]
    ) -> tuple[Value, str]:
        sf: int | None = None
        if point.scale_factor is not None:
            sf_value = scale_factors.get(point.scale_factor)
            if sf_value is None and point.scale_factor not in scale_factors:
                sf_value = self._state.values.get(point.scale_factor, _NO_READING).value
            if not isinstance(sf_value, int | float) or isinstance(sf_value, bool):
                return None, f"scale factor {point.scale_factor} unavailable"
            sf = int(sf_value)
        try:
            value = decode(point, registers, sf)
        except CodecError as exc:
            return None, str(exc)
        if value is None:
            return None, "not implemented (SunSpec sentinel or NaN)"
        if isinstance(value, float) and not math.isfinite(value):
            return None, f"not a finite number ({value})"
        if isinstance(value, int | float) and not isinstance(value, bool) and not point.writable:
            if point.min is not None and value < point.min:
                return value, f"{value} below the point's minimum {point.min}"
            if point.max is not None and value > point.max:
                return value, f"{value} above the point's maximum {point.max}"
        return value, ""

    # -- writing ------------------------------------------------------------------------------

    async def write_point(
        self, point: Point, value: float | int | bool, scale_factor: int | None = None
    ) -> list[int]:
        """Encode and write one point (limits must have been applied by the caller); returns the
        registers written. Raises CodecError or DeviceError."""
        if not point.writable:
            raise PermissionError(
                f"device {self.asset_id}: point {point.name} is not writable (access "
                f"{point.access})"
            )
        if point.table is RegisterTable.COIL:
            bit = bool(value)
            await self.request(
                f"write coil {point.address}", lambda conn: conn.write_coil(point.address, bit)
            )
            return [int(bit)]
        registers = encode(point, value, scale_factor)
        await self.request(
            f"write holding {point.address}+{len(registers)}",
            lambda conn: conn.write_registers(point.address, registers),
        )
        return registers


_NO_READING = PointReading(None, Quality.INVALID, dt.datetime.min.replace(tzinfo=dt.UTC))


def _default_connection(
    endpoint: DeviceEndpoint, policy: ClientPolicy, ssl_context: ssl.SSLContext | None
) -> ModbusConnection:
    """Retries and reconnects are the DeviceClient's business: the adapter does neither."""
    if endpoint.protocol == "rtu":
        assert endpoint.serial_port is not None  # the config validator guarantees it
        return ModbusConnection.rtu(
            endpoint.serial_port, endpoint.baudrate, endpoint.unit_id, policy.timeout_s
        )
    return ModbusConnection(
        endpoint.host,
        endpoint.port,
        endpoint.unit_id,
        policy.timeout_s,
        ssl_context,
        retries=0,
        reconnect_delay_s=policy.reconnect_initial_s,
        reconnect_delay_max_s=policy.reconnect_max_s,
    )


def _where(endpoint: DeviceEndpoint) -> str:
    if endpoint.protocol == "rtu":
        return f"{endpoint.serial_port} unit {endpoint.unit_id}"
    return f"{endpoint.host}:{endpoint.port} unit {endpoint.unit_id}"


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "failed"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
