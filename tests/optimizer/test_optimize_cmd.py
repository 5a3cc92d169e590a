"""`kv optimize`: files in, plan and summary out; bad input named precisely, non-zero exit."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from energy.cli.main import app
from energy.site import load_site
from optimizer import DispatchOptimizer, OptimizerOptions, synthetic_inputs
from optimizer.io import read_inputs_csv

START = pd.Timestamp("2026-02-01T00:00:00Z")
SLOTS = 12


@pytest.fixture(scope="module")
def site():
    return load_site()


@pytest.fixture
def inputs_frame(site):
    frame = synthetic_inputs(site, START, SLOTS, seed=4).to_frame()
    frame.index = [ts.isoformat() for ts in frame.index]
    frame.index.name = "timestamp"
    return frame


def relabel(frame, labels):
    return frame.set_axis(pd.Index(labels, name="timestamp"))


def run(tmp_path, frame, *extra):
    path = tmp_path / "INPUTS.csv"
    frame.to_csv(path)
    return path, CliRunner().invoke(
        app, ["optimize", "--inputs", str(path), "--out", str(tmp_path / "out"), *extra]
    )


def test_writes_plan_and_summary(tmp_path, inputs_frame):
    state = tmp_path / "STATE.json"
    state.write_text(
        json.dumps(
            {
                "house-01.battery": {"soc_frac": 0.8},
                "house-02.tank": {"tank_temp_c": 52.0},
                "house-02.hp": {"on": True, "minutes_in_state": 5},
                "grid": {"peak_import_kw": 12.0},
            }
        )
    )
    _, result = run(tmp_path, inputs_frame, "--state", str(state))
    assert result.exit_code == 0, result.output
    assert "autarky: self-sufficiency" in result.output
    plan = pd.read_csv(tmp_path / "out" / "plan.csv")
    assert len(plan) == SLOTS
    assert list(plan["timestamp"]) == list(inputs_frame.index)
    for column in (
        "grid:import_kw",
        "grid:export_kw",
        "house-01.battery:power_kw",
        "house-01.battery:soc_end_frac",
        "house-01.hp:power_kw",
        "house-01.tank:temp_end_c",
        "house-01.pv:curtailed_kw",
        "house-02.hp:sg_ready_state",
        "carport-ev:power_kw",
        "carport-ev:need_end_kwh",
    ):
        assert column in plan.columns
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    for key in (
        "status",
        "objective_eur",
        "cost_breakdown",
        "violations",
        "build_seconds",
        "solve_seconds",
    ):
        assert key in summary
    assert summary["status"] == "optimal"
    # the state reached the model: house-01's battery starts from 80 %
    first_energy = plan["house-01.battery:energy_end_kwh"].iloc[0]
    power = plan["house-01.battery:power_kw"].iloc[0]
    assert first_energy == pytest.approx(
        8.0 * (1 - 0.0002 * 0.25) + 0.25 * (power * 0.96 if power > 0 else power / 0.96), abs=1e-3
    )


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda f: f.drop(columns=["house-03:load_kw"]),
            ["column 'house-03:load_kw'", "expected it", "missing"],
        ),
        (
            lambda f: f.drop(columns=["price_import_eur_per_kwh"]),
            ["column 'price_import_eur_per_kwh'", "missing"],
        ),
        (
            lambda f: relabel(f, [ts[:19] for ts in f.index]),
            ["line 2, column 'timestamp'", "UTC offset", "naive"],
        ),
        (
            lambda f: relabel(
                f,
                [
                    ts.replace(":45:00+", ":52:00+") if i == 3 else ts
                    for i, ts in enumerate(f.index)
                ],
            ),
            ["line 5, column 'timestamp'", "15-minute slot start", "00:52:00"],
        ),
        (
            lambda f: f.assign(**{"house-02.pv:pv_kw": [*["1.0"] * 5, "NaN", *["1.0"] * 6]}),
            ["line 7, column 'house-02.pv:pv_kw'", "finite number", "'NaN'"],
        ),
        (
            lambda f: f.assign(**{"house-02.pv:pv_kw": [*[1.0] * 5, float("nan"), *[1.0] * 6]}),
            ["line 7, column 'house-02.pv:pv_kw'", "expected a number", "found ''"],
        ),
        (
            lambda f: f.assign(**{"house-99:load_kw": 1.0}),
            ["column 'house-99:load_kw'", "unknown asset 'house-99'"],
        ),
        (
            lambda f: f.assign(**{"house-01.battery:pv_kw": 1.0}),
            ["column 'house-01.battery:pv_kw'", "unknown asset"],
        ),
        (
            lambda f: f.assign(**{"house-01:wind_kw": 1.0}),
            ["column 'house-01:wind_kw'", "found quantity 'wind_kw'"],
        ),
        (
            lambda f: f.assign(**{"house-01:load_kw": "lots"}),
            ["line 2, column 'house-01:load_kw'", "expected a number", "'lots'"],
        ),
        (
            lambda f: f.drop(index=f.index[4]),
            ["line 6, column 'timestamp'", "one slot after the line before"],
        ),
    ],
    ids=[
        "missing-asset-column",
        "missing-site-column",
        "naive",
        "off-grid",
        "nan",
        "empty",
        "unknown-asset",
        "wrong-asset-kind",
        "unknown-quantity",
        "not-a-number",
        "gap",
    ],
)
def test_bad_inputs_are_named_precisely(tmp_path, inputs_frame, mutate, expected):
    path, result = run(tmp_path, mutate(inputs_frame))
    assert result.exit_code != 0
    message = result.output
    assert str(path) in message
    for part in expected:
        assert part in message
    assert not (tmp_path / "out" / "plan.csv").exists()


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"house-01.battery": {"soc": 0.5}}, ["house-01.battery.soc", "unknown key"]),
        ({"house-42.battery": {"soc_frac": 0.5}}, ["'house-42.battery'", "unknown asset"]),
        (
            {"house-01.tank": {"tank_temp_c": "warm"}},
            ["house-01.tank.tank_temp_c", "finite number", "'warm'"],
        ),
    ],
)
def test_bad_state_is_named_precisely(tmp_path, inputs_frame, state, expected):
    path = tmp_path / "STATE.json"
    path.write_text(json.dumps(state))
    _, result = run(tmp_path, inputs_frame, "--state", str(path))
    assert result.exit_code != 0
    assert str(path) in result.output
    for part in expected:
        assert part in result.output


def test_heat_pump_on_off_gives_a_milp_plan(tmp_path, inputs_frame):
    _, result = run(tmp_path, inputs_frame, "--heat-pump-on-off", "--time-limit", "20")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["stage"] == "milp"
    assert summary["n_integer_variables"] > 0
    plan = pd.read_csv(tmp_path / "out" / "plan.csv")
    states = plan["house-02.hp:sg_ready_state"]
    assert set(states) <= {1.0, 2.0, 3.0, 4.0}


@pytest.mark.slow
def test_decomposed_plan_has_the_whole_plans_columns_and_a_proven_gap(tmp_path, site, inputs_frame):
    whole_dir, split_dir = tmp_path / "whole", tmp_path / "split"
    whole_dir.mkdir()
    split_dir.mkdir()
    _, whole = run(whole_dir, inputs_frame)
    _, split = run(split_dir, inputs_frame, "--decompose", "always")
    assert whole.exit_code == 0, whole.output
    assert split.exit_code == 0, split.output
    assert "decomposed_lp" in split.output
    assert "autarky: self-sufficiency" in split.output
    whole_plan = pd.read_csv(whole_dir / "out" / "plan.csv")
    split_plan = pd.read_csv(split_dir / "out" / "plan.csv")
    assert list(split_plan["timestamp"]) == list(whole_plan["timestamp"])
    # the whole LP's duals: the balance price and what energy in each battery is worth
    dual_columns = {"grid:balance_price_eur_per_kwh"} | {
        c for c in whole_plan.columns if c.endswith(":stored_value_eur_per_kwh")
    }
    assert set(whole_plan.columns) - set(split_plan.columns) <= dual_columns
    summary = json.loads((split_dir / "out" / "summary.json").read_text())
    assert summary["stage"] == "decomposed_lp"
    assert summary["bound_eur"] <= summary["objective_eur"]
    assert summary["gap_frac"] <= 1e-3
    # the same LP solved whole (the decomposition linearises the COP once)
    inputs = read_inputs_csv(split_dir / "INPUTS.csv", site)
    options = OptimizerOptions(horizon_slots=SLOTS, cop_linearisation_passes=1)
    reference = DispatchOptimizer(site, options=options).solve(inputs).summary.objective_eur
    assert summary["objective_eur"] == pytest.approx(reference, rel=1e-3, abs=1e-3)


def test_auto_plans_the_seven_houses_as_one_lp(tmp_path, inputs_frame):
    _, result = run(tmp_path, inputs_frame, "--decompose", "auto")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["stage"] == "lp"


def test_decomposition_refuses_integer_decisions(tmp_path, inputs_frame):
    _, result = run(tmp_path, inputs_frame, "--decompose", "always", "--heat-pump-on-off")
    assert result.exit_code == 2
    assert "heat_pump_on_off" in result.output
