"""Encode engineering values into 16-bit Modbus registers and decode them back.

Register layout: a value of n registers is the big-endian byte string of the number, cut into
16-bit words. ``word_order="little"`` reverses the order of the words (least significant word
first, "CDAB" for 32 bits); ``byte_order="little"`` swaps the two bytes inside every register
("BADC"). Both little gives "DCBA". Strings are ASCII, NUL-padded, two characters per register in
reading order (word order does not apply to strings; byte order does).

Scaling: decoded value = raw * scale (or raw * 10**sf for points with a SunSpec ``scale_factor``);
``encode`` applies the inverse and rounds to the nearest raw integer for integer types.

SunSpec "not implemented" sentinels (points with ``sunspec_nan``): int16 0x8000, uint16 0xFFFF,
int32 0x80000000, uint32 0xFFFFFFFF, int64 0x8000000000000000, uint64 0xFFFFFFFFFFFFFFFF, an
all-NUL string; float NaN always. These decode to None.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence

from connectors.registermap import DataType, Point, ReadBlock, RegisterMap, register_count

__all__ = [
    "CodecError",
    "Value",
    "decode",
    "decode_block",
    "encode",
    "not_implemented",
    "raw_range",
    "scale_of",
]

Value = float | int | str | bool | None

_STRUCT = {
    DataType.INT16: ">h",
    DataType.UINT16: ">H",
    DataType.INT32: ">i",
    DataType.UINT32: ">I",
    DataType.INT64: ">q",
    DataType.UINT64: ">Q",
    DataType.FLOAT32: ">f",
    DataType.FLOAT64: ">d",
}

_INT_BITS = {
    DataType.INT16: (16, True),
    DataType.UINT16: (16, False),
    DataType.INT32: (32, True),
    DataType.UINT32: (32, False),
    DataType.INT64: (64, True),
    DataType.UINT64: (64, False),
}

_FLOAT_MAX = {DataType.FLOAT32: 3.4028234663852886e38, DataType.FLOAT64: 1.7976931348623157e308}


class CodecError(ValueError):
    """A value that cannot be encoded, or registers that cannot be decoded, for one point."""


def raw_range(dtype: DataType) -> tuple[int, int]:
    """Smallest and largest raw integer of an integer data type."""
    bits, signed = _INT_BITS[dtype]
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _sentinel(dtype: DataType) -> int | None:
    if dtype not in _INT_BITS:
        return None
    bits, signed = _INT_BITS[dtype]
    return -(1 << (bits - 1)) if signed else (1 << bits) - 1


def not_implemented(point: Point) -> list[int]:
    """The registers of SunSpec's 'not implemented' marker for ``point`` (for a device to serve)."""
    if point.dtype is DataType.STRING:
        return [0] * point.count
    if point.dtype in _FLOAT_MAX:
        data = struct.pack(_STRUCT[point.dtype], math.nan)
    else:
        sentinel = _sentinel(point.dtype)
        if sentinel is None:
            raise CodecError(f"point {point.name!r} ({point.dtype.value}) has no 'not implemented'")
        data = struct.pack(_STRUCT[point.dtype], sentinel)
    return _to_registers(_apply_order(data, point))


def scale_of(point: Point, scale_factor: int | None = None) -> float:
    """The factor from raw to engineering value: ``scale``, or 10**sf for SunSpec points."""
    if point.scale_factor is None:
        return point.scale
    if scale_factor is None:
        raise CodecError(
            f"point {point.name!r} scales by point {point.scale_factor!r}; pass its value "
            "as scale_factor"
        )
    if not -10 <= scale_factor <= 10:
        raise CodecError(
            f"point {point.name!r}: scale factor {scale_factor} from {point.scale_factor!r} is "
            "outside -10..10 (SunSpec sunssf range)"
        )
    return 10.0**scale_factor


def _apply_order(data: bytes, point: Point) -> bytes:
    """Turn big-endian value bytes into wire bytes (and back: the transformation is an involution)."""
    words = [data[i : i + 2] for i in range(0, len(data), 2)]
    if point.word_order == "little" and point.dtype is not DataType.STRING:
        words.reverse()
    if point.byte_order == "little":
        words = [w[::-1] for w in words]
    return b"".join(words)


def _to_registers(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def encode(
    point: Point,
    value: float | int | str | bool,
    scale_factor: int | None = None,
    *,
    check_limits: bool = True,
) -> list[int]:
    """Registers (16-bit unsigned ints) carrying ``value`` (engineering units) for ``point``.

    Raises CodecError when the value is outside the point's min/max (unless ``check_limits`` is
    False, which the device simulator uses to inject out-of-range faults), does not fit the data
    type after scaling, or is not a number (NaN/inf) or not ASCII.
    """
    if point.dtype is DataType.BOOL:
        if not isinstance(value, bool | int) or value not in (0, 1):
            raise CodecError(f"point {point.name!r} (bool) needs True/False; found {value!r}")
        return [int(value)]
    if point.dtype is DataType.STRING:
        return _encode_string(point, value)
    if isinstance(value, str) or not isinstance(value, int | float):
        raise CodecError(
            f"point {point.name!r} ({point.dtype.value}) needs a number; found {value!r}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise CodecError(f"point {point.name!r}: {value!r} is not representable")
    if check_limits:
        if point.min is not None and value < point.min:
            raise CodecError(
                f"point {point.name!r}: {value!r} is below its minimum {point.min} {point.unit or ''}".rstrip()
            )
        if point.max is not None and value > point.max:
            raise CodecError(
                f"point {point.name!r}: {value!r} is above its maximum {point.max} {point.unit or ''}".rstrip()
            )
    factor = scale_of(point, scale_factor)
    raw_value = _divide(value, factor)
    if point.dtype in _FLOAT_MAX:
        if not math.isfinite(raw_value) or abs(raw_value) > _FLOAT_MAX[point.dtype]:
            raise CodecError(
                f"point {point.name!r}: {value!r} does not fit {point.dtype.value} after scaling"
            )
        data = struct.pack(_STRUCT[point.dtype], raw_value)
    else:
        raw_int = round(raw_value)
        low, high = raw_range(point.dtype)
        if point.sunspec_nan and raw_int == _sentinel(point.dtype):
            raise CodecError(
                f"point {point.name!r}: raw {raw_int} is SunSpec's 'not implemented' marker"
            )
        if not low <= raw_int <= high:
            raise CodecError(
                f"point {point.name!r}: {value!r} scales to raw {raw_int}, outside "
                f"{point.dtype.value} range {low}..{high}"
            )
        data = struct.pack(_STRUCT[point.dtype], raw_int)
    return _to_registers(_apply_order(data, point))


def _divide(value: float | int, factor: float) -> float:
    """value / factor without the float noise of multiplying by an inexact reciprocal."""
    if factor == 1:
        return value
    inverse = 1 / factor
    if abs(inverse - round(inverse)) < 1e-9 and round(inverse) != 0:
        return value * round(inverse)
    return value / factor


def _multiply(raw: int | float, factor: float) -> float:
    """raw * factor, exact for decimal scales (0.1, 0.01 ...) as far as floats allow."""
    inverse = 1 / factor
    if abs(inverse - round(inverse)) < 1e-9 and round(inverse) != 0:
        return raw / round(inverse)
    return raw * factor


def _encode_string(point: Point, value: object) -> list[int]:
    if not isinstance(value, str):
        raise CodecError(f"point {point.name!r} (string) needs a str; found {value!r}")
    try:
        data = value.encode("ascii")
    except UnicodeEncodeError:
        raise CodecError(f"point {point.name!r}: {value!r} is not ASCII") from None
    capacity = 2 * point.count
    if len(data) > capacity:
        raise CodecError(
            f"point {point.name!r}: {len(data)} characters do not fit {point.count} registers "
            f"({capacity} characters)"
        )
    if b"\x00" in data:
        raise CodecError(f"point {point.name!r}: a string must not contain NUL characters")
    return _to_registers(_apply_order(data.ljust(capacity, b"\x00"), point))


def decode(point: Point, registers: Sequence[int | bool], scale_factor: int | None = None) -> Value:
    """The engineering value ``registers`` carry for ``point``; None for 'not implemented'.

    Integer types without scaling decode to int, scaled and float types to float, strings to str
    (trailing NULs removed), bool points to bool.
    """
    expected = register_count(point.dtype, point.length)
    if len(registers) != expected:
        raise CodecError(
            f"point {point.name!r} ({point.dtype.value}) needs {expected} register(s); "
            f"found {len(registers)}"
        )
    if point.dtype is DataType.BOOL:
        return bool(registers[0])
    for r in registers:
        if not 0 <= int(r) <= 0xFFFF:
            raise CodecError(f"point {point.name!r}: register value {r!r} is not 16-bit unsigned")
    data = _apply_order(b"".join(int(r).to_bytes(2, "big") for r in registers), point)
    if point.dtype is DataType.STRING:
        text = data.rstrip(b"\x00")
        if not text and point.sunspec_nan:
            return None
        return text.decode("ascii", errors="replace")
    (raw,) = struct.unpack(_STRUCT[point.dtype], data)
    if isinstance(raw, float):
        if math.isnan(raw):
            return None
    elif point.sunspec_nan and raw == _sentinel(point.dtype):
        return None
    factor = scale_of(point, scale_factor)
    if factor == 1:
        return raw
    return _multiply(raw, factor)


def decode_block(
    register_map: RegisterMap,
    block: ReadBlock,
    values: Sequence[int | bool],
    known: Mapping[str, Value] | None = None,
) -> dict[str, Value]:
    """Decode every point of ``block`` from the response ``values``, resolving scale factors.

    A scale-factor point outside the block is taken from ``known`` (values decoded from earlier
    blocks); a point whose scale factor is unknown or itself 'not implemented' decodes to None.
    """
    if len(values) < block.count:
        raise CodecError(
            f"read of {block.table.value} {block.address}+{block.count}: response has only "
            f"{len(values)} values"
        )
    results: dict[str, Value] = {}
    for point in block.points:
        if point.scale_factor is None:
            results[point.name] = decode(point, values[block.slice_for(point)])
    for point in block.points:
        if point.scale_factor is None:
            continue
        sf = results.get(point.scale_factor, _MISSING)
        if sf is _MISSING:
            sf_point = register_map.point(point.scale_factor)
            if _inside(block, sf_point):
                sf = decode(sf_point, values[block.slice_for(sf_point)])
            else:
                sf = (known or {}).get(point.scale_factor)
        results[point.name] = (
            decode(point, values[block.slice_for(point)], int(sf))
            if isinstance(sf, int | float)
            else None
        )
    return results


_MISSING = object()


def _inside(block: ReadBlock, point: Point) -> bool:
    return point.table is block.table and block.address <= point.address and point.end <= block.end
