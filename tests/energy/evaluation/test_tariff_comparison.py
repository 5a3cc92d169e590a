"""`kv evaluate --tariff-config A --tariff-config B`: the same period under two tariffs, each
billed by hand on a tiny case."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from energy.cli.main import app
from energy.config import DEFAULT_SITE_CONFIG, SiteConfigError
from energy.evaluation.closed_loop import ENERGY_COLUMNS
from energy.evaluation.metrics import meter_slots, period_figures
from energy.evaluation.tariffs import load_tariff_variant
from energy.site import Site

FLAT = "tariff:\n  kind: fixed\n  fixed_price_eur_per_kwh: 0.30\n  feed_in_eur_per_kwh: 0.08\n"
# 0.20 EUR/kWh from 01:00 to 01:15 local time (00:00-00:15 UTC in February), 0.40 otherwise;
# 10 EUR per kW of the period's peak
TIMED = (
    "tariff:\n  kind: time_of_use\n  default_price_eur_per_kwh: 0.40\n"
    "  time_of_use: [{start_local: '01:00', end_local: '01:15', price_eur_per_kwh: 0.20}]\n"
    "  feed_in_eur_per_kwh: 0.10\n  peak_import_charge_eur_per_kw: 10.0\n"
)
PEAK = (
    "tariff:\n  kind: fixed\n  fixed_price_eur_per_kwh: 0.20\n  feed_in_eur_per_kwh: 0.10\n"
    "  peak_import_charge_eur_per_kw: 10.0\n"
)


def _files(tmp_path: Path, second: str = TIMED) -> tuple[Path, Path]:
    flat, other = tmp_path / "flat.yaml", tmp_path / "other.yaml"
    flat.write_text(FLAT)
    other.write_text(second)
    return flat, other


def _empty_batteries(tmp_path: Path) -> Path:
    """The default site with every battery starting at its minimum: the district imports."""
    data = yaml.safe_load(DEFAULT_SITE_CONFIG.read_text())
    batteries = [h["battery"] for h in data["site"]["houses"] if h.get("battery")]
    for battery in batteries + data["site"].get("community_batteries", []):
        battery["initial_soc_frac"] = battery.get("soc_min_frac", 0.1)
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _metered(site: Site, path: Path) -> dict[str, float]:
    """Four slots: 1 and 2 kWh imported, then 1 and 3 kWh exported; billed under `path`."""
    index = pd.date_range("2026-02-02T00:00Z", periods=4, freq="15min")
    slots = pd.DataFrame(0.0, index=index, columns=list(ENERGY_COLUMNS))
    slots["grid_import_kwh"] = [1.0, 2.0, 0.0, 0.0]
    slots["grid_export_kwh"] = [0.0, 0.0, 1.0, 3.0]
    slots["pv_available_kwh"] = 0.0
    config = load_tariff_variant(path, site.config).config
    return period_figures(config, meter_slots(config, slots), battery_capacity_kwh=1.0)


def test_the_same_meters_cost_what_each_tariff_says_by_hand(site: Site, tmp_path: Path) -> None:
    flat, timed = _files(tmp_path)
    under_flat = _metered(site, flat)
    assert under_flat["import_cost_eur"] == pytest.approx(3 * 0.30)
    assert under_flat["export_revenue_eur"] == pytest.approx(4 * 0.08)
    assert under_flat["cost_eur"] == pytest.approx(0.90 - 0.32)
    under_timed = _metered(site, timed)
    assert under_timed["import_cost_eur"] == pytest.approx(1 * 0.20 + 2 * 0.40)
    assert under_timed["export_revenue_eur"] == pytest.approx(4 * 0.10)
    assert under_timed["peak_charge_eur"] == pytest.approx(8.0 * 10.0)  # 2 kWh in 15 min = 8 kW
    assert under_timed["cost_eur"] == pytest.approx(1.00 - 0.40 + 80.0)


def test_a_bad_tariff_file_names_file_key_and_problem(site: Site, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("tariff:\n  kind: fixed\n  fixed_price_eur_per_kwh: -1\n")
    with pytest.raises(SiteConfigError) as info:
        load_tariff_variant(bad, site.config)
    (issue,) = info.value.issues
    assert issue.file == str(bad)
    assert issue.key_path == "tariff.fixed_price_eur_per_kwh"
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("site: {}\n")
    with pytest.raises(SiteConfigError, match="one key 'tariff'"):
        load_tariff_variant(wrong, site.config)


@pytest.mark.slow
def test_cli_compares_the_cost_of_one_period_under_two_tariffs(tmp_path: Path) -> None:
    flat, peak = _files(tmp_path, PEAK)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--config",
            str(_empty_batteries(tmp_path)),
            "--policy",
            "rule",
            "--from",
            "2026-02-02T06:00Z",
            "--to",
            "2026-02-02T07:00Z",
            "--no-bound",
            "--no-per-slot",
            "--tariff-config",
            str(flat),
            "--tariff-config",
            str(peak),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "cost per tariff" in result.output
    costs = json.loads((out / "tariffs.json").read_text())
    figures = {
        name: json.loads((out / name / "summary.json").read_text())["policies"]["rule"]["figures"]
        for name in ("flat", "other")
    }
    # the local controllers do not look at prices: the same meters under both tariffs
    assert figures["flat"]["grid_import_kwh"] == pytest.approx(figures["other"]["grid_import_kwh"])
    imported = figures["flat"]["grid_import_kwh"]
    exported = figures["flat"]["grid_export_kwh"]
    peak_kw = figures["other"]["peak_import_kw"]
    assert imported > 0
    assert costs["flat"]["rule"]["cost_eur"] == pytest.approx(0.30 * imported - 0.08 * exported)
    assert costs["other"]["rule"]["cost_eur"] == pytest.approx(
        0.20 * imported - 0.10 * exported + 10.0 * peak_kw
    )


def test_cli_refuses_two_tariff_files_of_one_name(tmp_path: Path) -> None:
    flat, _ = _files(tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--policy",
            "rule",
            "--from",
            "2026-02-02",
            "--to",
            "2026-02-03",
            "--tariff-config",
            str(flat),
            "--tariff-config",
            str(flat),
        ],
    )
    assert result.exit_code == 2
    assert "file names must differ" in result.output
