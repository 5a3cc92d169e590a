"""SunSpec discovery: find 'SunS', walk the model chain, decode every known model without a map.

For commissioning an unknown device: `scan(host, port, unit_id)` looks for the 'SunS' marker at
the base addresses 40000, 50000 and 0 (holding registers), then reads each model's header (ID, L)
and body in requests of at most 125 registers until the end marker (ID 0xFFFF). Known models are
decoded with the SunSpec Alliance's model definitions (pysunspec2's JSON, which the simulated
district uses too), their repeating groups laid out by count, and every value scaled by its
scale factor (value = raw x 10**sf). 'Not implemented' sentinels decode to None. Unknown models
are listed with their id and length and no points.

Registers are decoded by connectors.codec (big-endian words and bytes, as SunSpec prescribes).
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.codec import CodecError, Value, decode
from connectors.modbus_adapter import ModbusConnection, ModbusExceptionResponse, ModbusTimeout
from connectors.registermap import DataType, Point, RegisterTable

__all__ = [
    "SUNSPEC_BASE_ADDRESSES",
    "SunSpecDevice",
    "SunSpecError",
    "SunSpecModel",
    "SunSpecPoint",
    "discover",
    "scan",
]

log = logging.getLogger(__name__)

SUNSPEC_BASE_ADDRESSES = (40000, 50000, 0)
MARKER = (0x5375, 0x6E53)  # 'SunS'
END_ID = 0xFFFF
MAX_MODELS = 256
MAX_REQUEST = 125

ReadHolding = Callable[[int, int], Awaitable[Sequence[int]]]

# SunSpec point types -> codec data type and whether the type's sentinel means 'not implemented'
_TYPES: dict[str, tuple[DataType, bool]] = {
    "int16": (DataType.INT16, True),
    "sunssf": (DataType.INT16, True),
    "uint16": (DataType.UINT16, True),
    "enum16": (DataType.UINT16, True),
    "bitfield16": (DataType.UINT16, True),
    "count": (DataType.UINT16, False),
    "acc16": (DataType.UINT16, False),
    "int32": (DataType.INT32, True),
    "uint32": (DataType.UINT32, True),
    "enum32": (DataType.UINT32, True),
    "bitfield32": (DataType.UINT32, True),
    "acc32": (DataType.UINT32, False),
    "ipaddr": (DataType.UINT32, False),
    "int64": (DataType.INT64, True),
    "uint64": (DataType.UINT64, True),
    "bitfield64": (DataType.UINT64, True),
    "acc64": (DataType.UINT64, False),
    "float32": (DataType.FLOAT32, True),
    "float64": (DataType.FLOAT64, True),
    "string": (DataType.STRING, True),
}
_SKIPPED = {"pad", "ipv6addr", "eui48"}


class SunSpecError(RuntimeError):
    """No SunSpec device found, or a model chain that cannot be walked."""


@dataclass(frozen=True)
class SunSpecPoint:
    name: str
    value: Value
    unit: str | None
    type: str
    label: str = ""


@dataclass(frozen=True)
class SunSpecModel:
    id: int
    name: str
    address: int
    length: int
    known: bool
    points: tuple[SunSpecPoint, ...] = ()

    def point(self, name: str) -> SunSpecPoint:
        for p in self.points:
            if p.name == name:
                return p
        raise KeyError(f"SunSpec model {self.id} ({self.name}) has no point {name!r}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "address": self.address,
            "points": [{"name": p.name, "value": p.value, "unit": p.unit} for p in self.points],
        }


@dataclass(frozen=True)
class SunSpecDevice:
    base_address: int
    models: tuple[SunSpecModel, ...] = field(default_factory=tuple)

    def model(self, model_id: int) -> SunSpecModel:
        for m in self.models:
            if m.id == model_id:
                return m
        found = ", ".join(str(m.id) for m in self.models)
        raise KeyError(f"device has no SunSpec model {model_id}; found {found}")

    def as_json(self) -> list[dict[str, Any]]:
        """The `kv sunspec scan --json` document: a list of models with their points."""
        return [m.as_dict() for m in self.models]


@functools.cache
def _definition(model_id: int) -> Mapping[str, Any] | None:
    from sunspec2.device import get_model_def

    try:
        definition: Mapping[str, Any] = get_model_def(model_id)
    except Exception:  # pysunspec2 raises plain Exception for an unknown model
        return None
    return definition


async def _read(read: ReadHolding, address: int, count: int) -> list[int]:
    out: list[int] = []
    while count > 0:
        n = min(count, MAX_REQUEST)
        out.extend(int(r) for r in await read(address, n))
        address += n
        count -= n
    return out


async def _find_base(read: ReadHolding, bases: Sequence[int]) -> int:
    tried = []
    for base in bases:
        try:
            marker = tuple(await read(base, 2))
        except (ModbusExceptionResponse, ModbusTimeout) as exc:
            tried.append(f"{base}: {exc}")  # some devices stay silent on unused addresses
            continue
        if marker == MARKER:
            return base
        tried.append(f"{base}: found {marker[0]:#06x} {marker[1]:#06x}")
    raise SunSpecError("no 'SunS' marker (0x5375 0x6e53) at any base address; " + "; ".join(tried))


async def discover(
    read: ReadHolding, bases: Sequence[int] = SUNSPEC_BASE_ADDRESSES
) -> SunSpecDevice:
    """Walk and decode the model chain through `read(address, count)` (holding registers)."""
    base = await _find_base(read, bases)
    log.info("SunSpec marker at %d", base)
    address = base + 2
    models: list[SunSpecModel] = []
    for _ in range(MAX_MODELS):
        model_id, length = await _read(read, address, 2)
        if model_id == END_ID:
            return SunSpecDevice(base, tuple(models))
        if address + 2 + length > 65536:
            raise SunSpecError(
                f"model {model_id} at {address}: length {length} runs past register 65535"
            )
        body = await _read(read, address + 2, length) if length else []
        models.append(_decode_model(model_id, address, length, body))
        address += 2 + length
    raise SunSpecError(f"more than {MAX_MODELS} models from base {base}: no end marker found")


async def scan(
    host: str,
    port: int = 502,
    unit_id: int = 1,
    *,
    timeout_s: float = 2.0,
    ssl_context: ssl.SSLContext | None = None,
    bases: Sequence[int] = SUNSPEC_BASE_ADDRESSES,
) -> SunSpecDevice:
    """Connect to a device and discover its SunSpec models."""
    async with ModbusConnection(host, port, unit_id, timeout_s, ssl_context) as conn:

        async def read(address: int, count: int) -> list[int]:
            return [int(r) for r in await conn.read(RegisterTable.HOLDING, address, count)]

        return await discover(read, bases)


# -- decoding ---------------------------------------------------------------------------------


def _decode_model(model_id: int, address: int, length: int, body: list[int]) -> SunSpecModel:
    definition = _definition(model_id)
    if definition is None:
        log.info("SunSpec model %d at %d (L=%d) unknown: listed without points", *(model_id,
                 address, length))  # fmt: skip
        return SunSpecModel(model_id, f"unknown_{model_id}", address, length, known=False)
    group = definition["group"]
    registers = [model_id, length, *body]
    points: list[SunSpecPoint] = []
    _decode_group(group, registers, 0, "", {}, points)
    visible = tuple(p for p in points if p.name not in ("ID", "L"))
    return SunSpecModel(model_id, group["name"], address, length, known=True, points=visible)


def _size(pdef: Mapping[str, Any]) -> int:
    return int(pdef.get("size", 1))


def _group_size(gdef: Mapping[str, Any]) -> int:
    """Registers of one instance of a group with no repeating subgroups of variable count."""
    total = sum(_size(p) for p in gdef.get("points", []))
    for sub in gdef.get("groups", []):
        count = sub.get("count")
        total += _group_size(sub) * (count if isinstance(count, int) and count > 0 else 1)
    return total


def _decode_group(
    gdef: Mapping[str, Any],
    registers: list[int],
    offset: int,
    prefix: str,
    outer: Mapping[str, Value],
    out: list[SunSpecPoint],
) -> int:
    """Decode one group instance at `offset`; returns the offset after it."""
    raw: dict[str, tuple[Mapping[str, Any], list[int]]] = {}
    for pdef in gdef.get("points", []):
        size = _size(pdef)
        if offset + size <= len(registers):
            raw[pdef["name"]] = (pdef, registers[offset : offset + size])
        offset += size
    scope: dict[str, Value] = dict(outer)
    for name, (pdef, regs) in raw.items():
        if pdef["type"] == "sunssf" or pdef.get("sf") is None:
            scope[name] = _decode_point(pdef, regs, None)
    for name, (pdef, regs) in raw.items():
        if pdef["type"] in _SKIPPED:
            continue
        sf_ref = pdef.get("sf")
        if sf_ref is not None and pdef["type"] != "sunssf":
            sf = sf_ref if isinstance(sf_ref, int) else scope.get(sf_ref)
            value: Value = (
                _decode_point(pdef, regs, int(sf)) if isinstance(sf, int | float) else None
            )
            scope[name] = value
        else:
            value = scope[name]
        out.append(
            SunSpecPoint(
                prefix + name, value, pdef.get("units"), pdef["type"], pdef.get("label", "")
            )
        )
    for sub in gdef.get("groups", []):
        count = sub.get("count")
        if count is None:
            repeats = 1
        elif isinstance(count, str):
            counted = scope.get(count)
            repeats = int(counted) if isinstance(counted, int | float) else 0
        elif count == 0:
            size = _group_size(sub)
            repeats = max(0, (len(registers) - offset) // size) if size else 0
        else:
            repeats = int(count)
        for index in range(repeats):
            if offset >= len(registers):
                break
            label = (
                f"{prefix}{sub['name']}[{index + 1}]."
                if count is not None
                else (f"{prefix}{sub['name']}.")
            )
            offset = _decode_group(sub, registers, offset, label, scope, out)
    return offset


def _decode_point(pdef: Mapping[str, Any], registers: list[int], sf: int | None) -> Value:
    kind = pdef["type"]
    if kind not in _TYPES:
        return None
    dtype, sentinel = _TYPES[kind]
    point = Point(
        name="p",
        address=0,
        dtype=dtype,
        length=len(registers) if dtype is DataType.STRING else None,
        sunspec_nan=sentinel,
        scale_factor="sf" if sf is not None else None,
    )
    try:
        value = decode(point, registers, sf)
    except CodecError as exc:
        log.debug("SunSpec point %s undecodable: %s", pdef.get("name"), exc)
        return None
    if kind == "sunssf" and isinstance(value, int) and not -10 <= value <= 10:
        return None
    return value
