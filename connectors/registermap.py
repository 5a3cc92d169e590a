"""Register maps: the typed, validated description of a Modbus device's points.

A register map is a YAML file under ``config/registermaps/`` listing the points of one device type:
which table and 0-based protocol address each point lives at, how its registers encode a value
(data type, word and byte order), how the raw number scales to engineering units (a fixed ``scale``
or a SunSpec scale-factor point), its unit and its write limits. ``load_register_map`` reports every
problem of a file at once (``RegisterMapError``), each naming the file, the device using the map and
the point. ``plan_reads`` groups the readable points into the fewest contiguous read requests.

Decoded value = raw * scale, or raw * 10**sf for a point with ``scale_factor`` (SunSpec ``sunssf``).
``quantity`` optionally names the platform measurement a point feeds (unit in the name, e.g.
``power_kw``), with ``quantity_factor`` converting the decoded value into it (e.g. 0.001 for W to kW,
-1 to flip a sign convention).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from energy.config import CONFIG_DIR, ConfigIssue, issues_from_validation_error
from energy.yamlfile import load_yaml

__all__ = [
    "BIT_TABLES",
    "REGISTERMAP_DIR",
    "REGISTER_TABLES",
    "SG_READY_CONTACTS",
    "DataType",
    "Point",
    "ReadBlock",
    "RegisterMap",
    "RegisterMapError",
    "RegisterMapIssue",
    "RegisterTable",
    "load_register_map",
    "plan_reads",
    "register_count",
    "resolve_register_map_path",
]

logger = logging.getLogger(__name__)

REGISTERMAP_DIR = CONFIG_DIR / "registermaps"

_SKIP_CROSS_CHECKS = "skip_cross_checks"

#: Modbus allows at most 2000 coils / discrete inputs per read request.
MAX_BITS_PER_REQUEST = 2000


#: SG Ready state -> (contact A closed, contact B closed), the two-contact coding of the SG Ready
#: label: A alone locks (1), neither is normal (2), B alone recommends (3), both force on (4).
#: Maps name the contacts by these meanings (quantities sg_ready_contact_a / _b), whatever the
#: vendor calls its inputs.
SG_READY_CONTACTS: dict[int, tuple[bool, bool]] = {
    1: (True, False),
    2: (False, False),
    3: (False, True),
    4: (True, True),
}


class RegisterTable(StrEnum):
    """The four Modbus data tables."""

    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"


REGISTER_TABLES = frozenset({RegisterTable.HOLDING, RegisterTable.INPUT})
BIT_TABLES = frozenset({RegisterTable.COIL, RegisterTable.DISCRETE_INPUT})


class DataType(StrEnum):
    """How a point's registers encode its value. ``bool`` is the type of coil/discrete points."""

    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"
    BOOL = "bool"


_FIXED_REGISTERS = {
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT32: 2,
    DataType.FLOAT64: 4,
    DataType.BOOL: 1,
}

Order = Literal["big", "little"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Point(_Model):
    """One named value of a device.

    ``address`` is the 0-based protocol address (register 40001 in "Modicon" numbering is address 0
    of the holding table; SunSpec's 40000 base is protocol address 40000). ``length`` is the number
    of registers (bits for coil/discrete points); it is derived from ``dtype`` except for strings.
    ``word_order`` says which 16-bit word of a multi-register value comes first ("big": most
    significant first); ``byte_order`` the byte order inside each register ("big" is standard Modbus).
    ``min``/``max`` are limits in engineering units (after scaling); writable points need both.
    """

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]
    table: RegisterTable = RegisterTable.HOLDING
    address: Annotated[int, Field(ge=0, le=65535)]
    dtype: DataType = DataType.UINT16
    length: Annotated[int, Field(ge=1, le=125)] | None = None
    word_order: Order = "big"
    byte_order: Order = "big"
    scale: float = 1.0
    scale_factor: str | None = Field(
        None, description="name of a SunSpec sunssf point v; decoded value = raw * 10**v"
    )
    unit: str | None = None
    access: Literal["r", "rw"] = "r"
    min: float | None = None
    max: float | None = None
    min_point: str | None = Field(
        None, description="point where the device reports this point's lower limit (same unit)"
    )
    max_point: str | None = Field(
        None, description="point where the device reports this point's upper limit (same unit)"
    )
    ramp_per_s: Annotated[float, Field(gt=0)] | None = Field(
        None, description="largest change per second the device accepts, engineering units"
    )
    sunspec_nan: bool = Field(
        False,
        description="SunSpec 'not implemented' sentinels (0x8000, 0xFFFF, ...) decode to None",
    )
    quantity: str | None = Field(
        None, description="platform measurement this point feeds, unit in the name (power_kw)"
    )
    quantity_factor: float = Field(1.0, description="quantity value = decoded value x this")
    frozen_after_s: Annotated[float, Field(gt=0)] | None = Field(
        None,
        description="the value must change within this many seconds (while frozen_while holds), "
        "else it is frozen: INVALID with reason 'frozen' (a hung device or gateway cache)",
    )
    frozen_while: str | None = Field(
        None,
        description="point whose magnitude must exceed frozen_while_above for the frozen check "
        "to apply (state of charge must move only while the battery's power flows)",
    )
    frozen_while_above: Annotated[float, Field(ge=0)] = 0.0
    on_value: float | None = Field(
        None,
        description="value that switches a switch point (quantity setpoint_enabled, ...) on, "
        "when the device uses a code instead of 1 (SMA: 802 active)",
    )
    off_value: float | None = Field(
        None, description="value that switches a switch point off (default 0; SMA: 803)"
    )
    preset: float | None = Field(
        None,
        description="setting the device must hold for the platform's control to work (SunSpec "
        "WSetMod = 1, setpoints in watts): set at commissioning, served by the simulator, "
        "checked by kv devices probe",
    )
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Point:
        problems: list[str] = []
        if self.dtype is DataType.STRING:
            if self.length is None:
                problems.append("a string point needs length (registers)")
        elif self.length is not None and self.length != _FIXED_REGISTERS[self.dtype]:
            problems.append(
                f"length {self.length} does not match dtype {self.dtype.value} "
                f"({_FIXED_REGISTERS[self.dtype]} register(s)); omit length for non-strings"
            )
        is_bit_table = self.table in BIT_TABLES
        if is_bit_table != (self.dtype is DataType.BOOL):
            problems.append(
                f"dtype bool belongs to coil/discrete_input tables only; found dtype "
                f"{self.dtype.value} in table {self.table.value}"
            )
        if self.scale == 0:
            problems.append("scale must not be 0")
        if self.scale_factor is not None and self.scale != 1.0:
            problems.append("give either scale or scale_factor, not both")
        if self.access == "rw":
            if self.table not in (RegisterTable.HOLDING, RegisterTable.COIL):
                problems.append(
                    f"only holding registers and coils are writable; found table {self.table.value}"
                )
            if self.dtype is not DataType.BOOL and (self.min is None or self.max is None):
                problems.append("a writable point needs min and max limits")
        if self.min is not None and self.max is not None and self.min > self.max:
            problems.append(f"min ({self.min}) must not exceed max ({self.max})")
        if (self.on_value is None) != (self.off_value is None):
            problems.append("give both on_value and off_value, or neither")
        has_count = self.dtype is not DataType.STRING or self.length is not None
        if has_count and self.address + self.count > 65536:
            problems.append(f"address {self.address} + {self.count} register(s) exceeds 65535")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def count(self) -> int:
        """Registers (or bits) the point occupies."""
        return register_count(self.dtype, self.length)

    @property
    def writable(self) -> bool:
        return self.access == "rw"

    @property
    def end(self) -> int:
        """First address after the point."""
        return self.address + self.count

    def switch_value(self, on: bool) -> float | bool:
        """What to write to switch this point on or off (a coil takes True/False)."""
        if self.dtype is DataType.BOOL:
            return on
        if self.on_value is not None and self.off_value is not None:
            return self.on_value if on else self.off_value
        return 1.0 if on else 0.0

    def is_on(self, value: float | bool) -> bool:
        """Whether ``value`` read from or written to this switch point means on."""
        if self.on_value is not None:
            return float(value) == self.on_value
        return bool(value)


def register_count(dtype: DataType, length: int | None = None) -> int:
    """Registers a value of ``dtype`` occupies (``length`` for strings)."""
    if dtype is DataType.STRING:
        if length is None:
            raise ValueError("a string needs its length in registers")
        return length
    return _FIXED_REGISTERS[dtype]


class RegisterMap(_Model):
    """All points of one device type, plus how to talk to it."""

    name: str
    manufacturer: str = ""
    model: str = ""
    description: str = ""
    max_registers_per_request: Annotated[int, Field(ge=1, le=125)] = 125
    max_gap_registers: Annotated[int, Field(ge=0)] | None = Field(
        None,
        description="largest run of unmapped registers a read may span; None = any (some devices "
        "refuse reads of unmapped registers: set 0 for those)",
    )
    sunspec_models: list[int] = Field(
        default_factory=list, description="SunSpec model chain the device announces after 'SunS'"
    )
    watchdog_point: str | None = Field(
        None, description="writable point holding the device's reversion timeout (seconds)"
    )
    heartbeat_point: str | None = Field(
        None, description="writable point the controller rewrites to keep remote control alive"
    )
    points: list[Point] = Field(min_length=1)

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> RegisterMap:
        if info.context and info.context.get(_SKIP_CROSS_CHECKS):
            return self
        problems = cross_check(self)
        if problems:
            raise ValueError("; ".join(f"point {p}: {msg}" for p, msg in problems))
        return self

    @functools.cached_property
    def by_name(self) -> dict[str, Point]:
        return {p.name: p for p in self.points}

    def point(self, name: str) -> Point:
        """The point called ``name``; KeyError naming the map and the known points otherwise."""
        try:
            return self.by_name[name]
        except KeyError:
            known = ", ".join(sorted(self.by_name))
            raise KeyError(
                f"register map {self.name!r} has no point {name!r}; known: {known}"
            ) from None

    def writable(self) -> list[Point]:
        return [p for p in self.points if p.writable]


def cross_check(register_map: RegisterMap) -> list[tuple[str, str]]:
    """Problems that involve several points: (point name, message) pairs."""
    problems: list[tuple[str, str]] = []
    names: dict[str, Point] = {}
    for p in register_map.points:
        if p.name in names:
            problems.append((p.name, "name used twice"))
        names[p.name] = p
    by_table: dict[RegisterTable, list[Point]] = {}
    for p in register_map.points:
        by_table.setdefault(p.table, []).append(p)
    for table, pts in by_table.items():
        reach: Point | None = None  # the point reaching furthest so far
        for p in sorted(pts, key=lambda q: q.address):
            if reach is not None and p.address < reach.end:
                problems.append(
                    (
                        p.name,
                        f"address {p.address} overlaps point {reach.name!r} "
                        f"({table.value} {reach.address}..{reach.end - 1})",
                    )
                )
            if reach is None or p.end > reach.end:
                reach = p
    for p in register_map.points:
        if p.frozen_while is not None:
            if p.frozen_after_s is None:
                problems.append((p.name, "frozen_while needs frozen_after_s"))
            if p.frozen_while not in names:
                problems.append((p.name, f"frozen_while names an unknown point {p.frozen_while!r}"))
    for p in register_map.points:
        if p.scale_factor is None:
            continue
        sf = names.get(p.scale_factor)
        if sf is None:
            problems.append((p.name, f"scale_factor names unknown point {p.scale_factor!r}"))
        elif sf.dtype is not DataType.INT16 or sf.table is not p.table:
            problems.append(
                (
                    p.name,
                    f"scale_factor point {sf.name!r} must be an int16 in table {p.table.value}; "
                    f"found {sf.dtype.value} in {sf.table.value}",
                )
            )
    for p in register_map.points:
        for ref in (p.min_point, p.max_point):
            if ref is not None and ref not in names:
                problems.append((p.name, f"device limit point {ref!r} is not in the map"))
    for role in ("watchdog_point", "heartbeat_point"):
        ref = getattr(register_map, role)
        if ref is None:
            continue
        target = names.get(ref)
        if target is None:
            problems.append((ref, f"{role} names an unknown point"))
        elif not target.writable:
            problems.append((ref, f"{role} must be writable (access rw)"))
    return problems


class RegisterMapIssue(ConfigIssue):
    """One problem in a register map file, naming the device that uses it and the point."""

    device: str | None = None
    point: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.device:
            where += f" (device {self.device})"
        if self.point:
            where += f": point {self.point}"
        return f"{where}: {self.key_path}: expected {self.expected}; found {self.found}"


class RegisterMapError(ValueError):
    """A register map that cannot be used; carries every issue found, not just the first."""

    def __init__(self, issues: list[RegisterMapIssue]):
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"{len(issues)} problem(s) in register map:\n{lines}")


def resolve_register_map_path(name_or_path: str | Path) -> Path:
    """A bare file name is looked up in config/registermaps/; anything with a directory is a path."""
    path = Path(name_or_path)
    if path.parent == Path(".") and not path.is_absolute():
        return REGISTERMAP_DIR / path
    return path


def load_register_map(name_or_path: str | Path, device: str | None = None) -> RegisterMap:
    """Load and validate a register map; ``device`` (an asset id) is named in every error.

    A ``point_defaults`` mapping at the top of the file supplies defaults for every point (for
    example ``sunspec_nan: true`` or ``word_order: little``). Parsed maps are cached per file and
    modification time, so 200 devices sharing one map parse it once.
    """
    path = resolve_register_map_path(name_or_path)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise RegisterMapError(
            [
                RegisterMapIssue(
                    file=str(path),
                    device=device,
                    key_path="(file)",
                    expected=f"a readable register map file (names resolve under {REGISTERMAP_DIR})",
                    found=f"{type(exc).__name__}: {exc.strerror or exc}",
                )
            ]
        ) from None
    result = _load_cached(path, mtime)
    if isinstance(result, RegisterMap):
        return result
    raise RegisterMapError([issue.model_copy(update={"device": device}) for issue in result])


@functools.lru_cache(maxsize=64)
def _load_cached(path: Path, mtime_ns: int) -> RegisterMap | tuple[RegisterMapIssue, ...]:
    del mtime_ns  # part of the cache key only
    file = str(path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return (
            RegisterMapIssue(
                file=file, key_path="(file)", expected="valid YAML", found=str(exc).splitlines()[0]
            ),
        )
    if not isinstance(data, dict):
        return (
            RegisterMapIssue(
                file=file,
                key_path="(top level)",
                expected="a mapping with name and points",
                found=type(data).__name__,
            ),
        )
    data = dict(data)
    defaults = data.pop("point_defaults", None) or {}
    raw_points = data.get("points")
    issues: list[RegisterMapIssue] = []
    if not isinstance(defaults, dict):
        issues.append(
            RegisterMapIssue(
                file=file, key_path="point_defaults", expected="a mapping", found=repr(defaults)
            )
        )
        defaults = {}
    points: list[Point] = []
    if isinstance(raw_points, list):
        for index, raw in enumerate(raw_points):
            point, point_issues = _validate_point(file, index, raw, defaults, data)
            issues.extend(point_issues)
            if point is not None:
                points.append(point)
    header = {k: v for k, v in data.items() if k != "points"}
    try:
        register_map: RegisterMap | None = RegisterMap.model_validate(
            {**header, "points": [_PLACEHOLDER]}, context={_SKIP_CROSS_CHECKS: True}
        )
    except ValidationError as exc:
        for issue in issues_from_validation_error(exc, file, data):
            issues.append(RegisterMapIssue(**issue.model_dump()))
        # Still check the points against each other: report everything in one go.
        watchdog, heartbeat = (data.get(k) for k in ("watchdog_point", "heartbeat_point"))
        register_map = RegisterMap.model_construct(
            name=str(data.get("name", "")),
            points=[_PLACEHOLDER],
            watchdog_point=watchdog if isinstance(watchdog, str) else None,
            heartbeat_point=heartbeat if isinstance(heartbeat, str) else None,
        )
    if not isinstance(raw_points, list) or not raw_points:
        issues.append(
            RegisterMapIssue(
                file=file,
                key_path="points",
                expected="a non-empty list of points",
                found=repr(raw_points) if raw_points is not None else "nothing (key missing)",
            )
        )
    if register_map is not None:
        register_map = register_map.model_copy(update={"points": points})
        for point_name, message in cross_check(register_map):
            issues.append(
                RegisterMapIssue(
                    file=file,
                    point=point_name,
                    key_path=_point_key(data, point_name),
                    expected=message,
                    found="conflict",
                )
            )
    if issues:
        return tuple(issues)
    return RegisterMap.model_validate({**header, "points": points})


#: stands in for the points while the loader validates a file's header fields on their own
_PLACEHOLDER = Point(name="placeholder", address=0)


def _point_key(data: dict[str, Any], name: str) -> str:
    for index, raw in enumerate(data.get("points") or []):
        if isinstance(raw, dict) and raw.get("name") == name:
            return f"points[{index}]"
    return "points"


def _validate_point(
    file: str, index: int, raw: Any, defaults: dict[str, Any], data: dict[str, Any]
) -> tuple[Point | None, list[RegisterMapIssue]]:
    name = raw.get("name") if isinstance(raw, dict) else None
    if not isinstance(raw, dict):
        return None, [
            RegisterMapIssue(
                file=file,
                key_path=f"points[{index}]",
                expected="a mapping with name, address, dtype ...",
                found=repr(raw),
            )
        ]
    try:
        return Point.model_validate({**defaults, **raw}), []
    except ValidationError as exc:
        issues = []
        for issue in issues_from_validation_error(exc, file, raw):
            key = issue.key_path if issue.key_path != "(top level)" else ""
            issues.append(
                RegisterMapIssue(
                    file=file,
                    point=str(name) if name is not None else f"#{index}",
                    key_path=f"points[{index}]" + (f".{key}" if key else ""),
                    expected=issue.expected,
                    found=issue.found if issue.key_path != "(top level)" else _summary(raw),
                )
            )
        return None, issues


def _summary(raw: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in raw.items() if k not in ("description",))


@dataclass(frozen=True)
class ReadBlock:
    """One read request: ``count`` registers (or bits) of ``table`` from ``address``."""

    table: RegisterTable
    address: int
    count: int
    points: tuple[Point, ...]

    @property
    def end(self) -> int:
        return self.address + self.count

    def slice_for(self, point: Point) -> slice:
        """Where ``point``'s registers sit in this block's response."""
        start = point.address - self.address
        return slice(start, start + point.count)


def plan_reads(register_map: RegisterMap, points: Iterable[Point] | None = None) -> list[ReadBlock]:
    """Group points into few contiguous reads per table, each value with its scale factor.

    A block never exceeds ``max_registers_per_request`` registers (2000 bits for coil/discrete
    tables) nor spans more than ``max_gap_registers`` unmapped registers. Points with a
    ``scale_factor`` pull their scale-factor point into the plan, and a value and its scale factor
    land in the same block whenever they fit in one request, so both come from the same instant.
    Greedy in address order over those groups, which gives the fewest blocks when every group is
    a single point (the interval-cover problem) and stays close to it otherwise.
    """
    chosen: dict[str, Point] = {}
    for p in register_map.points if points is None else points:
        chosen[p.name] = p
        if p.scale_factor is not None:
            sf = register_map.point(p.scale_factor)
            chosen[sf.name] = sf
    blocks: list[ReadBlock] = []
    for table in RegisterTable:
        members = [p for p in chosen.values() if p.table is table]
        limit = (
            MAX_BITS_PER_REQUEST if table in BIT_TABLES else register_map.max_registers_per_request
        )
        current: list[Point] = []
        for group in _scale_groups(members):
            start = min(p.address for p in group)
            end = max(p.end for p in group)
            if end - start > limit:
                if any(p.count > limit for p in group):
                    raise ValueError(
                        f"register map {register_map.name!r}: a point of "
                        f"{', '.join(p.name for p in group)} spans more registers than one "
                        f"request may read ({limit})"
                    )
                groups = [[p] for p in group]  # too far apart: read value and factor apart
            else:
                groups = [group]
            for part in groups:
                if current and not _fits(register_map, current, part, limit):
                    blocks.append(_block(table, current))
                    current = []
                current.extend(part)
        if current:
            blocks.append(_block(table, current))
    return blocks


def _scale_groups(points: Sequence[Point]) -> list[list[Point]]:
    """Points joined with their scale-factor points (shared factors join groups), by address."""
    parent = {p.name: p.name for p in points}

    def find(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for p in points:
        if p.scale_factor is not None and p.scale_factor in parent:
            parent[find(p.name)] = find(p.scale_factor)
    groups: dict[str, list[Point]] = {}
    for p in sorted(points, key=lambda q: q.address):
        groups.setdefault(find(p.name), []).append(p)
    return sorted(groups.values(), key=lambda g: g[0].address)


def _fits(
    register_map: RegisterMap, current: Sequence[Point], extra: Sequence[Point], limit: int
) -> bool:
    merged = sorted([*current, *extra], key=lambda p: p.address)
    if max(p.end for p in merged) - merged[0].address > limit:
        return False
    if register_map.max_gap_registers is None:
        return True
    reach = merged[0].end
    for p in merged[1:]:
        if p.address - reach > register_map.max_gap_registers:
            return False
        reach = max(reach, p.end)
    return True


def _block(table: RegisterTable, points: Sequence[Point]) -> ReadBlock:
    points = sorted(points, key=lambda p: p.address)
    start = points[0].address
    end = max(p.end for p in points)
    return ReadBlock(table=table, address=start, count=end - start, points=tuple(points))
