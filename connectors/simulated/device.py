"""One simulated Modbus device: a register image described by a register map.

The image holds every register (or bit) the map defines, plus any fixed content (a SunSpec model
chain). ``update`` encodes engineering values into it by point name; ``read`` and ``write`` answer
the Modbus server. Reads of addresses the device does not define answer exception 2 (illegal data
address), as most real devices do. A write must cover whole writable points: a write touching a
read-only or undefined address answers exception 2, a value outside the point's min/max exception
3. Accepted writes are handed to ``on_write`` (point name -> engineering value) before they land in
the image; ``on_write`` may refuse them by raising ``ModbusServerError``.

Scale factors (SunSpec sunssf points) are chosen by the device: for a factor that scales a writable
point, the finest one at which the point's max still fits (fixed, so a client can rely on it); for
read-only values, the finest at which the current values fit, at least 10**-2.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from connectors.codec import CodecError, Value, decode, encode, not_implemented, raw_range
from connectors.modbus_server import ILLEGAL_DATA_ADDRESS, ILLEGAL_DATA_VALUE, ModbusServerError
from connectors.registermap import BIT_TABLES, DataType, Point, RegisterMap, RegisterTable
from connectors.simulated.faults import DeviceFaults, device_rng

__all__ = ["SimulatedDevice", "WriteHandler"]

logger = logging.getLogger(__name__)

WriteHandler = Callable[["SimulatedDevice", dict[str, Value]], None]

_FINEST_SF = -2
_COARSEST_SF = 9


class SimulatedDevice:
    """The registers of one device; ``faults`` may be replaced at any time."""

    def __init__(
        self,
        asset_id: str,
        register_map: RegisterMap,
        *,
        fixed_holding: Mapping[int, int] | None = None,
        on_write: WriteHandler | None = None,
    ):
        self.asset_id = asset_id
        self.register_map = register_map
        self.on_write = on_write
        self.faults = DeviceFaults()
        self.rng = device_rng(0, asset_id)
        self.image: dict[RegisterTable, dict[int, int]] = {t: {} for t in RegisterTable}
        self.image[RegisterTable.HOLDING].update(fixed_holding or {})
        for point in register_map.points:
            table = self.image[point.table]
            for offset in range(point.count):
                table.setdefault(point.address + offset, 0)
        self._users: dict[str, list[Point]] = {}
        for point in register_map.points:
            if point.scale_factor is not None:
                self._users.setdefault(point.scale_factor, []).append(point)
        self._fixed_sf = {
            sf: _fixed_scale_factor(users)
            for sf, users in self._users.items()
            if any(p.writable for p in users)
        }
        for sf_name, sf in self._fixed_sf.items():
            self._store(register_map.point(sf_name), encode(register_map.point(sf_name), sf))

    def set_faults(self, faults: DeviceFaults) -> None:
        """Replace the device's faults; fault values must name points of its map."""
        unknown = sorted(set(faults.values) - set(self.register_map.by_name))
        if unknown:
            raise ValueError(
                f"{self.asset_id}: fault values name unknown points {unknown}; register map "
                f"{self.register_map.name!r} has {sorted(self.register_map.by_name)}"
            )
        self.faults = faults

    # ---------------------------------------------------------------- values

    def update(self, values: Mapping[str, Value]) -> None:
        """Encode ``values`` (point name -> engineering value; None = not available).

        Frozen devices ignore updates; fault values (``faults.values``) replace the given ones.
        """
        if self.faults.frozen:
            return
        merged: dict[str, Value] = dict(values)
        merged.update(self.faults.values)
        for sf_name, users in self._users.items():
            if sf_name not in self._fixed_sf and any(p.name in merged for p in users):
                # a new factor changes what every user's registers mean: re-encode them all
                for p in users:
                    if p.name not in merged:
                        merged[p.name] = self.value(p.name)
        scale_factors = self._scale_factors(merged)
        for sf_name, sf in scale_factors.items():
            if sf_name not in self._fixed_sf:
                sf_point = self.register_map.point(sf_name)
                self._store(sf_point, encode(sf_point, sf, check_limits=False))
        for name, value in merged.items():
            point = self.register_map.point(name)
            if point.name in self._users:
                continue  # scale factors are the device's own business
            factor = scale_factors.get(point.scale_factor) if point.scale_factor else None
            self._store(point, self._encode(point, value, factor))

    def _encode(self, point: Point, value: Value, sf: int | None) -> list[int]:
        if value is None:
            return not_implemented(point) if point.sunspec_nan else _zero(point)
        try:
            return encode(point, value, sf, check_limits=False)
        except CodecError as exc:
            logger.debug("%s: cannot serve %s: %s", self.asset_id, point.name, exc)
            return not_implemented(point) if point.sunspec_nan else _zero(point)

    def _scale_factors(self, values: Mapping[str, Value]) -> dict[str, int]:
        factors = dict(self._fixed_sf)
        for sf_name, users in self._users.items():
            if sf_name in factors or not any(p.name in values for p in users):
                continue
            needed = [
                abs(float(v))
                for p in users
                if isinstance(v := values.get(p.name), int | float) and v == v
            ]
            factors[sf_name] = _finest_fitting(users, max(needed, default=0.0))
        return factors

    def value(self, name: str) -> Value:
        """The engineering value the device serves for point ``name`` now."""
        point = self.register_map.point(name)
        sf = None
        if point.scale_factor is not None:
            sf_value = self.value(point.scale_factor)
            sf = int(sf_value) if isinstance(sf_value, int) else None
            if sf is None:
                return None
        return decode(point, self._registers(point), sf)

    def _registers(self, point: Point) -> list[int]:
        table = self.image[point.table]
        return [table[point.address + i] for i in range(point.count)]

    def _store(self, point: Point, registers: Sequence[int]) -> None:
        table = self.image[point.table]
        for i, register in enumerate(registers):
            table[point.address + i] = int(register)

    # ---------------------------------------------------------------- Modbus

    def read(self, table: RegisterTable, address: int, count: int) -> list[int] | list[bool]:
        image = self.image[table]
        try:
            values = [image[a] for a in range(address, address + count)]
        except KeyError as exc:
            raise ModbusServerError(
                ILLEGAL_DATA_ADDRESS, f"{table.value} {exc.args[0]} is not defined"
            ) from None
        if table in BIT_TABLES:
            return [bool(v) for v in values]
        return values

    def write(
        self, table: RegisterTable, address: int, values: Sequence[int] | Sequence[bool]
    ) -> None:
        end = address + len(values)
        touched = [
            p
            for p in self.register_map.points
            if p.table is table and p.address < end and p.end > address
        ]
        covered = sum(min(p.end, end) - max(p.address, address) for p in touched)
        if covered != len(values):
            raise ModbusServerError(
                ILLEGAL_DATA_ADDRESS, f"{table.value} {address}..{end - 1} is not all defined"
            )
        for p in touched:
            if not p.writable:
                raise ModbusServerError(ILLEGAL_DATA_ADDRESS, f"point {p.name} is read-only")
            if p.address < address or p.end > end:
                raise ModbusServerError(
                    ILLEGAL_DATA_ADDRESS, f"write covers only part of point {p.name}"
                )
        written: dict[str, Value] = {}
        for p in touched:
            registers = [int(v) for v in values[p.address - address : p.end - address]]
            sf = None
            if p.scale_factor is not None:
                sf_value = self.value(p.scale_factor)
                sf = int(sf_value) if isinstance(sf_value, int) else 0
            try:
                value = decode(p, registers, sf)
            except CodecError as exc:
                raise ModbusServerError(ILLEGAL_DATA_VALUE, str(exc)) from None
            if isinstance(value, int | float) and not isinstance(value, bool):
                if (p.min is not None and value < p.min) or (p.max is not None and value > p.max):
                    raise ModbusServerError(
                        ILLEGAL_DATA_VALUE,
                        f"point {p.name}: {value} outside {p.min}..{p.max} {p.unit or ''}".rstrip(),
                    )
            elif value is None:
                raise ModbusServerError(ILLEGAL_DATA_VALUE, f"point {p.name}: not a value")
            written[p.name] = value
        if self.on_write is not None:
            self.on_write(self, written)
        for p in touched:
            self._store(p, [int(v) for v in values[p.address - address : p.end - address]])
        logger.debug("%s: written %s", self.asset_id, written)


def _zero(point: Point) -> list[int]:
    return [0] * point.count


def _fits(point: Point, magnitude: float, sf: int) -> bool:
    if point.dtype not in (
        DataType.INT16,
        DataType.UINT16,
        DataType.INT32,
        DataType.UINT32,
        DataType.INT64,
        DataType.UINT64,
    ):
        return True
    low, high = raw_range(point.dtype)
    return round(magnitude / 10.0**sf) <= min(high, -low if low < 0 else high) - 1


def _finest_fitting(points: Sequence[Point], magnitude: float) -> int:
    for sf in range(_FINEST_SF, _COARSEST_SF + 1):
        if all(_fits(p, magnitude, sf) for p in points):
            return sf
    return _COARSEST_SF


def _fixed_scale_factor(points: Sequence[Point]) -> int:
    magnitude = max(
        (max(abs(p.max or 0.0), abs(p.min or 0.0)) for p in points if p.writable), default=0.0
    )
    return _finest_fitting(points, magnitude)
