"""Figures from meters and tariff, the comparison of policies, and the report files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from energy.cli.main import app
from energy.evaluation import EvaluationReport, Policy, PolicyRun, write_report
from energy.evaluation.closed_loop import ENERGY_COLUMNS
from energy.evaluation.metrics import (
    comparison,
    period_figures,
    slot_frame,
)
from energy.site import Site
from energy.tariff import tariff_series

START = pd.Timestamp("2026-03-31T20:00:00Z")  # two local months: 31 March and 1 April


def fake_run(policy: str, slots: int = 16, import_kwh: float = 1.0) -> PolicyRun:
    index = pd.date_range(START, periods=slots, freq="15min")
    frame = pd.DataFrame(0.0, index=index, columns=list(ENERGY_COLUMNS))
    frame["grid_import_kwh"] = import_kwh
    frame.iloc[0, frame.columns.get_loc("grid_import_kwh")] = 2.0  # the peak slot: 8 kW
    frame["grid_export_kwh"] = 0.5
    frame["load_kwh"] = 2.0
    frame["hp_electric_kwh"] = 1.0
    frame["pv_kwh"] = 1.0
    frame["pv_available_kwh"] = 1.25
    frame["battery_discharged_kwh"] = 0.25
    frame["comfort_violation_kh"] = 0.1
    return PolicyRun(
        policy=Policy(policy),
        slots=frame,
        batteries={"b": {"capacity_kwh": 2.0, "charged_kwh": 0.0, "discharged_kwh": 4.0}},
        stored_energy_change_kwh={"batteries": 0.0, "tanks": 0.0},
        stored_energy_value_eur=0.0,
        plan_stages={},
        timing={"wall_seconds": 1.0},
        notes=[f"{policy} note"],
    )


def test_period_figures_from_meters_and_tariff(site: Site) -> None:
    run = fake_run("rule")
    slots = slot_frame(site.config, run)
    figures = period_figures(site.config, slots, battery_capacity_kwh=2.0)
    tariff = tariff_series(site.config, pd.DatetimeIndex(run.slots.index))
    imported = run.slots["grid_import_kwh"].to_numpy()
    expected_cost = float(
        imported @ tariff.price_import_eur_per_kwh.to_numpy()
        - 0.5 * tariff.price_export_eur_per_kwh.sum()
    )
    assert figures["cost_eur"] == pytest.approx(expected_cost)
    assert figures["grid_import_kwh"] == pytest.approx(17.0)
    assert figures["peak_import_kw"] == pytest.approx(8.0)
    assert figures["self_sufficiency_frac"] == pytest.approx(1 - 17.0 / 48.0)
    assert figures["self_consumption_frac"] == pytest.approx(0.5)
    assert figures["battery_full_cycles"] == pytest.approx(4.0 / 2.0)
    assert figures["comfort_violation_kh"] == pytest.approx(1.6)
    assert figures["pv_curtailed_kwh"] == pytest.approx(4.0)
    assert figures["co2_kg"] == pytest.approx(
        float(imported @ tariff.co2_g_per_kwh.to_numpy()) / 1000
    )


def test_comparison_against_rule_tuned_and_the_oracle() -> None:
    def summary(cost: float, comfort: float, stored_eur: float = 0.0) -> dict[str, object]:
        return {
            "figures": {"cost_eur": cost, "comfort_violation_kh": comfort},
            "cost_with_stored_energy_eur": cost - stored_eur,
        }

    result = comparison(
        {
            "rule": summary(110.0, 1.0),
            "rule-tuned": summary(100.0, 0.5),
            # mpc ends with 2 EUR more stored: compared at 94 EUR
            "mpc": summary(96.0, 0.5, stored_eur=2.0),
            "oracle": summary(92.0, 0.0),
        }
    )
    assert result["saving_vs_rule_eur"] == {"rule-tuned": 10.0, "mpc": 16.0, "oracle": 18.0}
    assert result["saving_vs_rule_tuned_eur"] == {"rule": -10.0, "mpc": 6.0, "oracle": 8.0}
    assert result["mpc_saving_vs_rule_tuned_frac"] == pytest.approx(0.06)
    assert result["mpc_capture_of_oracle_saving_frac"] == pytest.approx(0.75)
    assert result["goal_mpc_4_percent_cheaper_than_rule_tuned"] is True
    assert result["goal_mpc_comfort_not_worse_than_rule_tuned"] is True
    assert result["goal_mpc_ev_service_not_worse_than_rule_tuned"] is True
    assert result["goal_mpc_captures_75_percent_of_oracle"] is True
    short_of_energy = summary(98.0, 0.5)
    short_of_energy["figures"]["ev_short_kwh"] = 3.0  # type: ignore[index]
    worse = comparison(
        {
            "rule-tuned": summary(100.0, 0.0),
            "mpc": short_of_energy,
            "oracle": summary(101.0, 0.0),
        }
    )
    assert worse["goal_mpc_4_percent_cheaper_than_rule_tuned"] is False
    assert worse["goal_mpc_ev_service_not_worse_than_rule_tuned"] is False
    assert worse["ev_short_kwh"] == {"rule-tuned": 0.0, "mpc": 3.0, "oracle": 0.0}
    assert worse["goal_mpc_comfort_not_worse_than_rule_tuned"] is False
    # an oracle that saves nothing leaves the share undefined, never a division by zero
    assert worse["mpc_capture_of_oracle_saving_frac"] is None
    assert worse["goal_mpc_captures_75_percent_of_oracle"] is False


def test_report_files_monthly_split_and_offline_html(site: Site, tmp_path: Path) -> None:
    runs = {
        "rule": fake_run("rule"),
        "rule-tuned": fake_run("rule-tuned", import_kwh=0.75),
        "mpc": fake_run("mpc", import_kwh=0.6),
        "oracle": fake_run("oracle", import_kwh=0.5),
    }
    report = EvaluationReport(site.config, runs, {"site": site.id, "start": "a", "end": "b"})
    paths = write_report(report, tmp_path)
    names = {p.name for p in paths}
    assert names == {
        "slots_rule.csv",
        "slots_rule-tuned.csv",
        "slots_mpc.csv",
        "slots_oracle.csv",
        "monthly.csv",
        "totals.csv",
        "summary.json",
        "report.html",
    }
    monthly = pd.read_csv(tmp_path / "monthly.csv")
    # 20:00-24:00 UTC on 31 March is 22:00-02:00 CEST: two local months per policy
    assert sorted(monthly["month"].unique()) == ["2026-03", "2026-04"]
    assert len(monthly) == 8
    by_policy = monthly.groupby("policy")["grid_import_kwh"].sum()
    totals = pd.read_csv(tmp_path / "totals.csv").set_index("policy")
    np.testing.assert_allclose(by_policy["rule"], totals.loc["rule", "grid_import_kwh"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["comparison"]["saving_vs_rule_eur"]["oracle"] > 0
    # the headline shares at the top level: (0.75 - 0.6) / (0.75 - 0.5) of the import
    assert summary["mpc_capture_of_oracle_saving_frac"] == pytest.approx(0.6, abs=0.01)
    assert summary["mpc_saving_vs_rule_tuned_frac"] > 0
    html = (tmp_path / "report.html").read_text()
    assert '<script src="http' not in html, "plotly.js inline, no CDN"
    assert "plotly.js v" in html
    assert html.count("Plotly.newPlot") >= 5
    assert "oracle saves" in html
    assert "mpc captures of the oracle" in html
    assert "cumulative saving against rule-tuned" in html


def test_cli_evaluate_writes_the_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--policy",
            "rule",
            "--from",
            "2026-02-02",
            "--to",
            "2026-02-02T03:00Z",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "summary.json").exists()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["policies"]["rule"]["timing"]["slots"] == 12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-02-02", "--to", "2026-02-01"], "must be after"),
        (["--from", "2026-02-02T00:07Z", "--to", "2026-02-03"], "15-minute"),
        (["--from", "yesterday-ish", "--to", "2026-02-03"], "ISO date"),
    ],
)
def test_cli_evaluate_refuses_bad_periods(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["evaluate", "--policy", "rule", *args])
    assert result.exit_code != 0
    assert message in result.output
