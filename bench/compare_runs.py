"""Compare policies evaluated in separate processes over the same period and world.

    .venv/bin/python bench/compare_runs.py DIR [DIR ...]

Each DIR is the --out folder of one `bench/evaluate_year.py` (or `kv evaluate`) run; a year of
every policy takes over an hour of CPU, so the policies run as separate processes on the cores
there are. Reads their summary.json and monthly.csv, checks they cover the same period and seed,
and prints the period's costs (metered and with the stored energy valued), the comparison
against rule-tuned and the oracle (`energy.evaluation.metrics.comparison`), the bound, and the
cost per month with the months in which mpc costs more than rule-tuned. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from energy.evaluation.metrics import comparison


def _load(folder: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    monthly = pd.read_csv(folder / "monthly.csv")
    return summary, monthly


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args()
    summaries: dict[str, dict[str, Any]] = {}
    months = []
    period = None
    bound = None
    setpoint = None
    for folder in args.folders:
        summary, monthly = _load(folder)
        key = (summary["start"], summary["end"], summary["options"]["seed"])
        if period is not None and key != period:
            raise SystemExit(f"{folder}: covers {key}, the others {period}: not comparable")
        period = key
        summaries.update(summary["policies"])
        months.append(monthly)
        bound = summary.get("bound_eur", bound)
        setpoint = summary.get("rule_tuned", {}).get("thermostat_setpoint_c", setpoint)
    assert period is not None
    print(f"period {period[0]} .. {period[1]}, seed {period[2]}")
    print(f"{'policy':<18}{'cost':>12}{'with stored':>14}{'comfort K h':>13}{'CPU min':>10}")
    for policy, run in summaries.items():
        print(
            f"{policy:<18}{run['figures']['cost_eur']:12.2f}"
            f"{run['cost_with_stored_energy_eur']:14.2f}"
            f"{run['figures']['comfort_violation_kh']:13.3f}"
            f"{run['timing']['cpu_seconds'] / 60:10.1f}"
        )
    if setpoint is not None:
        print(f"rule-tuned thermostat setpoint: {setpoint} degC")
    if bound is not None:
        print(f"bound (with stored energy valued): {bound:.2f}")
    for key, value in comparison(summaries).items():
        if not isinstance(value, dict):
            print(f"{key}: {value}")
    table = pd.concat(months).pivot(index="month", columns="policy", values="cost_eur")
    print(table.round(2).to_string())
    if {"mpc", "rule-tuned"} <= set(table.columns):
        worse = table.index[table["mpc"] > table["rule-tuned"]]
        print(f"months where mpc costs more than rule-tuned: {list(worse) or 'none'}")


if __name__ == "__main__":
    main()
