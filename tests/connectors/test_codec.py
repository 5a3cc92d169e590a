"""The register codec against an independent reference encoder (struct + explicit byte shuffling).

The reference is written from the Modbus conventions, not from connectors.codec: a value's
big-endian bytes are cut into 16-bit words; "little" word order reverses the words, "little" byte
order swaps the two bytes of each word.
"""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from connectors.codec import CodecError, decode, decode_block, encode, not_implemented
from connectors.registermap import DataType, Point, RegisterMap, plan_reads

FORMATS = {
    "int16": "h",
    "uint16": "H",
    "int32": "i",
    "uint32": "I",
    "int64": "q",
    "uint64": "Q",
    "float32": "f",
    "float64": "d",
}
INT_BOUNDS = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
ORDERS = st.sampled_from(["big", "little"])


def reference_registers(fmt: str, value: float, word_order: str, byte_order: str) -> list[int]:
    raw = struct.pack(">" + fmt, value)
    words = [raw[i] << 8 | raw[i + 1] for i in range(0, len(raw), 2)]
    if word_order == "little":
        words = words[::-1]
    if byte_order == "little":
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    return words


def point(dtype: str, word_order: str = "big", byte_order: str = "big", **kw) -> Point:
    return Point(
        name="p", address=0, dtype=dtype, word_order=word_order, byte_order=byte_order, **kw
    )


@st.composite
def int_cases(draw):
    dtype = draw(st.sampled_from(list(INT_BOUNDS)))
    low, high = INT_BOUNDS[dtype]
    return dtype, draw(st.integers(low, high))


@given(int_cases(), ORDERS, ORDERS)
def test_integers_match_the_reference_and_round_trip(case, word_order, byte_order):
    dtype, value = case
    p = point(dtype, word_order, byte_order)
    registers = encode(p, value)
    assert registers == reference_registers(FORMATS[dtype], value, word_order, byte_order)
    assert decode(p, registers) == value


@given(st.floats(allow_nan=False, allow_infinity=False, width=32), ORDERS, ORDERS)
def test_float32_matches_the_reference(value, word_order, byte_order):
    p = point("float32", word_order, byte_order)
    registers = encode(p, value)
    assert registers == reference_registers("f", value, word_order, byte_order)
    assert decode(p, registers) == value


@given(st.floats(allow_nan=False, allow_infinity=False), ORDERS, ORDERS)
def test_float64_matches_the_reference(value, word_order, byte_order):
    p = point("float64", word_order, byte_order)
    registers = encode(p, value)
    assert registers == reference_registers("d", value, word_order, byte_order)
    assert decode(p, registers) == value


@given(st.lists(st.integers(0, 0xFFFF), min_size=2, max_size=2), ORDERS, ORDERS)
def test_decoding_any_registers_matches_the_reference(registers, word_order, byte_order):
    p = point("int32", word_order, byte_order)
    words = list(registers)
    if byte_order == "little":
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    if word_order == "little":
        words = words[::-1]
    expected = struct.unpack(">i", b"".join(w.to_bytes(2, "big") for w in words))[0]
    assert decode(p, registers) == expected


@given(
    st.integers(-30000, 30000),
    st.sampled_from([0.1, 0.01, 0.001, 10.0, 2.5]),
)
def test_fixed_scale_is_inverted_on_encode(raw, scale):
    p = point("int32", scale=scale)
    value = decode(p, encode(p, raw * scale))
    assert value == pytest.approx(raw * scale, rel=1e-12, abs=1e-12)
    assert encode(p, raw * scale) == reference_registers("i", raw, "big", "big")


@given(st.integers(-32767, 32767), st.integers(-4, 4))
def test_sunspec_scale_factor(raw, sf):
    sf_point = Point(name="W_SF", address=1, dtype="int16")
    p = Point(name="W", address=0, dtype="int16", scale_factor="W_SF", sunspec_nan=True)
    value = decode(p, [raw & 0xFFFF], sf)
    assert value == pytest.approx(raw * 10.0**sf)
    assert encode(p, value, sf) == [raw & 0xFFFF]
    assert sf_point.dtype is DataType.INT16


@given(st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=127), max_size=8))
def test_strings_are_ascii_nul_padded(text):
    p = point("string", length=4)
    registers = encode(p, text)
    raw = text.encode("ascii").ljust(8, b"\x00")
    assert registers == [raw[i] << 8 | raw[i + 1] for i in range(0, 8, 2)]
    assert decode(p, registers) == text.rstrip("\x00")


def test_string_byte_order_little_swaps_each_register():
    p = point("string", byte_order="little", length=2)
    assert encode(p, "SunS") == [ord("u") << 8 | ord("S"), ord("S") << 8 | ord("n")]
    assert decode(p, encode(p, "SunS")) == "SunS"


@pytest.mark.parametrize(
    ("dtype", "registers"),
    [
        ("int16", [0x8000]),
        ("uint16", [0xFFFF]),
        ("int32", [0x8000, 0x0000]),
        ("uint32", [0xFFFF, 0xFFFF]),
        ("int64", [0x8000, 0, 0, 0]),
        ("uint64", [0xFFFF] * 4),
        ("float32", reference_registers("f", math.nan, "big", "big")),
    ],
)
def test_sunspec_not_implemented_decodes_to_none(dtype, registers):
    p = point(dtype, sunspec_nan=True)
    assert decode(p, registers) is None
    assert not_implemented(p) == registers or dtype == "float32"
    plain = point(dtype)
    if dtype != "float32":
        assert decode(plain, registers) is not None


def test_not_implemented_string_is_all_nul():
    p = point("string", length=3, sunspec_nan=True)
    assert decode(p, [0, 0, 0]) is None
    assert not_implemented(p) == [0, 0, 0]


@pytest.mark.parametrize(
    ("p", "value", "message"),
    [
        (point("int16"), 40000, "outside int16 range"),
        (point("uint16"), -1, "outside uint16 range"),
        (point("uint16", scale=0.1), 6553.6, "outside uint16 range"),
        (point("int16"), math.nan, "not representable"),
        (point("float32"), 1e39, "does not fit float32"),
        (point("string", length=1), "abc", "do not fit"),
        (point("string", length=2), "Grüß", "not ASCII"),
        (point("int16", min=0, max=100, access="rw"), 101, "above its maximum"),
        (point("int16", min=0, max=100, access="rw"), -1, "below its minimum"),
        (point("int16", sunspec_nan=True), -32768, "not implemented"),
        (point("int16"), "12", "needs a number"),
    ],
)
def test_unrepresentable_values_are_refused_with_the_point_named(p, value, message):
    with pytest.raises(CodecError, match=message) as info:
        encode(p, value)
    assert "'p'" in str(info.value)


def test_limits_can_be_bypassed_for_fault_injection():
    p = point("uint16", scale=0.1, min=0, max=100)
    assert decode(p, encode(p, 250.0, check_limits=False)) == pytest.approx(250.0)


def test_wrong_register_count_is_an_error():
    with pytest.raises(CodecError, match="needs 2 register"):
        decode(point("int32"), [1])


def test_scale_factor_point_needs_its_value():
    p = Point(name="W", address=0, dtype="int16", scale_factor="W_SF")
    with pytest.raises(CodecError, match="W_SF"):
        decode(p, [1])


def test_decode_block_resolves_scale_factors_in_and_outside_the_block():
    m = RegisterMap(
        name="m",
        points=[
            Point(name="W", address=0, dtype="int16", scale_factor="W_SF", sunspec_nan=True),
            Point(name="W_SF", address=1, dtype="int16"),
            Point(name="Hz", address=300, dtype="uint16", scale_factor="W_SF"),
        ],
    )
    blocks = plan_reads(m)
    first = next(b for b in blocks if b.address == 0)
    values = decode_block(m, first, [1234, (-2) & 0xFFFF])
    assert values == {"W": pytest.approx(12.34), "W_SF": -2}
    far = next(b for b in blocks if b.address == 300)
    assert decode_block(m, far, [5000], known=values)["Hz"] == pytest.approx(50.0)
    assert decode_block(m, far, [5000])["Hz"] is None
    assert decode_block(m, first, [0x8000, 0])["W"] is None


@given(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from(["int32", "float64"]))
def test_encode_then_decode_is_within_half_a_step(value, dtype):
    p = point(dtype, scale=0.01)
    assume(abs(value / 0.01) < 2**31 - 1)
    assert decode(p, encode(p, value)) == pytest.approx(value, abs=0.005 + 1e-9)
