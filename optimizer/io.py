"""Reading an analyst's INPUTS.csv and STATE.json, writing plan.csv and summary.json.

Formats are documented in docs/optimizer.md. Every problem names the file, the line (the header is
line 1) or key, the column, what was expected and what was found; all problems of a file are
reported together (up to MAX_PROBLEMS).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from energy.site import Site
from energy.timegrid import SLOT, SLOT_MINUTES
from optimizer.decomposition import DecomposedPlan
from optimizer.inputs import (
    OPTIONAL_SITE_COLUMNS,
    SITE_COLUMNS,
    DispatchInputs,
    DispatchState,
    InputError,
)
from optimizer.plant import Plant
from optimizer.result import DispatchResult, Violation

__all__ = ["read_inputs_csv", "read_state_json", "write_decomposed_result", "write_result"]

MAX_PROBLEMS = 20
TIMESTAMP = "timestamp"


def _asset_quantities(plant: Plant) -> dict[str, dict[str, bool]]:
    """asset id -> {quantity: required} for the per-asset input columns of a plant."""
    out: dict[str, dict[str, bool]] = {house: {"load_kw": True} for house in plant.houses}
    for house in plant.tank_houses:
        out[house]["heat_demand_kw"] = True
    for pv in plant.pvs:
        out[pv.id] = {"pv_kw": True}
    for hp in plant.heat_pumps:
        out[hp.id] = {"power_cap_kw": False}
    return out


def read_inputs_csv(path: str | Path, site: Site) -> DispatchInputs:
    """Parse INPUTS.csv for `site`; raise InputError listing every problem found."""
    file = str(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise InputError(
            [f"{file}: expected a readable CSV file; found {exc.strerror or exc}"]
        ) from exc
    if not rows:
        raise InputError([f"{file}: expected a header line; found an empty file"])
    header = [name.strip() for name in rows[0]]
    body = rows[1:]
    problems: list[str] = []

    def problem(text: str) -> None:
        problems.append(f"{file}: {text}")

    expected_assets = _asset_quantities(Plant.from_site(site))
    if TIMESTAMP not in header:
        problem(
            f"column '{TIMESTAMP}': expected it (ISO 8601 slot start with UTC offset); found "
            "it missing"
        )
    for name in SITE_COLUMNS:
        if name not in header:
            problem(f"column '{name}': expected it; found it missing")
    for name in header:
        if name == TIMESTAMP or name in SITE_COLUMNS or name in OPTIONAL_SITE_COLUMNS:
            continue
        asset_id, sep, quantity = name.partition(":")
        if not sep:
            problem(
                f"column '{name}': expected a site column or <asset_id>:<quantity>; found an "
                "unknown column"
            )
        elif asset_id not in expected_assets:
            problem(
                f"column '{name}': expected an asset of site {site.id!r} "
                f"({', '.join(expected_assets)}); found unknown asset {asset_id!r}"
            )
        elif quantity not in expected_assets[asset_id]:
            problem(
                f"column '{name}': expected one of "
                f"{', '.join(asset_id + ':' + q for q in expected_assets[asset_id])}; found "
                f"quantity {quantity!r}"
            )
    for asset_id, quantities in expected_assets.items():
        for quantity, required in quantities.items():
            if required and f"{asset_id}:{quantity}" not in header:
                problem(
                    f"column '{asset_id}:{quantity}': expected it for asset {asset_id!r}; "
                    "found it missing"
                )
    if len(set(header)) != len(header):
        repeated = sorted({h for h in header if header.count(h) > 1})
        problem(f"header: expected unique column names; found repeated {', '.join(repeated)}")
    if not body:
        problem("expected at least one data line; found none")
    if problems:
        raise InputError(problems[:MAX_PROBLEMS])

    stamps: list[pd.Timestamp] = []
    columns: dict[str, list[float]] = {name: [] for name in header if name != TIMESTAMP}
    for line_no, row in enumerate(body, start=2):
        if len(row) != len(header):
            problem(f"line {line_no}: expected {len(header)} fields; found {len(row)}")
            continue
        cells = dict(zip(header, row, strict=True))
        stamps.append(_parse_timestamp(cells[TIMESTAMP], line_no, problem))
        previous = stamps[-2] if len(stamps) > 1 else None
        if (
            previous is not None
            and not pd.isna(previous)
            and not pd.isna(stamps[-1])
            and (stamps[-1] - previous != pd.Timedelta(SLOT))
        ):
            problem(
                f"line {line_no}, column '{TIMESTAMP}': expected "
                f"{(previous + SLOT).isoformat()} (one slot after the line before); found "
                f"{cells[TIMESTAMP]!r}"
            )
        for name in columns:
            columns[name].append(_parse_number(cells[name], line_no, name, problem))
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise InputError(problems[:MAX_PROBLEMS])
    frame = pd.DataFrame(columns, index=pd.DatetimeIndex(stamps, name="slot_start"))
    return DispatchInputs.from_frame(frame)


def _parse_timestamp(text: str, line_no: int, problem: Any) -> pd.Timestamp:
    where = f"line {line_no}, column '{TIMESTAMP}'"
    try:
        stamp = pd.Timestamp(text.strip())
    except (ValueError, TypeError):
        problem(f"{where}: expected an ISO 8601 timestamp with UTC offset; found {text!r}")
        return pd.NaT
    if pd.isna(stamp):
        problem(f"{where}: expected an ISO 8601 timestamp with UTC offset; found {text!r}")
        return pd.NaT
    if stamp.tzinfo is None:
        problem(
            f"{where}: expected a UTC offset (e.g. {text.strip()}+00:00); found a naive "
            f"timestamp {text!r}"
        )
        return pd.NaT
    stamp = stamp.tz_convert("UTC")
    if stamp != stamp.floor(f"{SLOT_MINUTES}min"):
        problem(f"{where}: expected a {SLOT_MINUTES}-minute slot start; found {text!r}")
    return stamp


def _parse_number(text: str, line_no: int, column: str, problem: Any) -> float:
    try:
        value = float(text)
    except ValueError:
        problem(f"line {line_no}, column '{column}': expected a number; found {text!r}")
        return math.nan
    if not math.isfinite(value):
        problem(f"line {line_no}, column '{column}': expected a finite number; found {text!r}")
    elif value < 0 and column.endswith(("load_kw", "pv_kw", "heat_demand_kw", "power_cap_kw")):
        problem(f"line {line_no}, column '{column}': expected a value >= 0; found {text!r}")
    return value


STATE_FIELDS = {
    "soc_frac": "soc_frac",
    "tank_temp_c": "tank_temp_c",
    "on": "hp_on",
    "minutes_in_state": "hp_minutes_in_state",
    "need_kwh": "ev_need_kwh",
}


def read_state_json(path: str | Path, site: Site) -> DispatchState:
    """Parse STATE.json; assets it does not mention keep the configuration's initial state."""
    file = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(
            [f"{file}: expected a readable JSON file; found {exc.strerror or exc}"]
        ) from exc
    except json.JSONDecodeError as exc:
        raise InputError(
            [f"{file}: line {exc.lineno}, column {exc.colno}: expected valid JSON; found {exc.msg}"]
        ) from exc
    if not isinstance(data, dict):
        raise InputError(
            [f"{file}: expected an object keyed by asset id; found {type(data).__name__}"]
        )
    plant = Plant.from_site(site)
    allowed: dict[str, set[str]] = {b.id: {"soc_frac"} for b in plant.batteries}
    allowed.update({hp.tank_id: {"tank_temp_c"} for hp in plant.heat_pumps})
    allowed.update({hp.id: {"on", "minutes_in_state"} for hp in plant.heat_pumps})
    allowed.update({c.id: {"need_kwh"} for c in plant.ev_chargers})
    allowed["grid"] = {"peak_import_kw"}
    problems: list[str] = []
    fields: dict[str, dict[str, Any]] = {name: {} for name in STATE_FIELDS.values()}
    peak = 0.0
    for asset_id, entry in data.items():
        if asset_id not in allowed:
            problems.append(
                f"{file}: key {asset_id!r}: expected an asset with state "
                f"({', '.join(allowed)}); found unknown asset"
            )
            continue
        if not isinstance(entry, dict):
            problems.append(
                f"{file}: key {asset_id!r}: expected an object like "
                f'{{"{sorted(allowed[asset_id])[0]}": ...}}; found {entry!r}'
            )
            continue
        for key, value in entry.items():
            where = f"{file}: key {asset_id}.{key}"
            if key not in allowed[asset_id]:
                problems.append(
                    f"{where}: expected one of {', '.join(sorted(allowed[asset_id]))}"
                    f"; found unknown key"
                )
            elif key == "on":
                if not isinstance(value, bool):
                    problems.append(f"{where}: expected true or false; found {value!r}")
                else:
                    fields["hp_on"][asset_id] = value
            elif (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (math.isfinite(value))
            ):
                problems.append(f"{where}: expected a finite number; found {value!r}")
            elif key == "peak_import_kw":
                peak = float(value)
            else:
                fields[STATE_FIELDS[key]][asset_id] = float(value)
    if problems:
        raise InputError(problems[:MAX_PROBLEMS])
    state = DispatchState(
        soc_frac=fields["soc_frac"],
        tank_temp_c=fields["tank_temp_c"],
        hp_on=fields["hp_on"],
        hp_minutes_in_state=fields["hp_minutes_in_state"],
        peak_import_kw=peak,
        ev_need_kwh=fields["ev_need_kwh"],
    )
    state.check(plant)
    return state


def write_result(result: DispatchResult, out_dir: str | Path) -> tuple[Path, Path]:
    """Write DIR/plan.csv (one row per slot) and DIR/summary.json; return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan_path = out / "plan.csv"
    summary_path = out / "summary.json"
    wide = result.wide()
    wide.index = pd.Index([ts.isoformat() for ts in wide.index], name="timestamp")
    wide.replace([np.inf, -np.inf], np.nan).to_csv(plan_path, float_format="%.6g")
    summary_path.write_text(json.dumps(result.summary.to_json(), indent=2) + "\n", encoding="utf-8")
    return plan_path, summary_path


def write_decomposed_result(
    plan: DecomposedPlan,
    index: pd.DatetimeIndex,
    breakdown: dict[str, float],
    violations: list[Violation],
    out_dir: str | Path,
) -> tuple[Path, Path]:
    """Write a decomposed plan as DIR/plan.csv (the columns of `write_result`) and
    DIR/summary.json (objective, lower bound and gap, iterations, times, the plan's cost
    breakdown and violations); return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan_path = out / "plan.csv"
    summary_path = out / "summary.json"
    wide = pd.DataFrame({f"{a}:{q}": v for (a, q), v in plan.values.items()}, index=index)
    wide.index = pd.Index([ts.isoformat() for ts in wide.index], name="timestamp")
    wide.replace([np.inf, -np.inf], np.nan).to_csv(plan_path, float_format="%.6g")
    summary = {
        "status": "optimal" if plan.converged else "gap_not_reached",
        "stage": "decomposed_lp",
        "objective_eur": plan.objective_eur,
        "bound_eur": plan.bound_eur,
        "gap_frac": plan.gap_frac,
        "iterations": plan.iterations,
        "blocks": plan.n_blocks,
        "wall_seconds": plan.wall_seconds,
        "cpu_seconds": plan.cpu_seconds,
        "worker_cpu_seconds": plan.worker_cpu_seconds,
        "peak_rss_mib": plan.peak_rss_mib,
        "cost_breakdown": breakdown,
        "violations": [v.to_dict() for v in violations],
    }
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return plan_path, summary_path
