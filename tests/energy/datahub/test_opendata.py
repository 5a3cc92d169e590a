"""`kv opendata export`: district KPIs per day and month with DCAT-AP.de metadata, no house."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from energy.cli.main import app
from energy.datahub.kpis import period_kpis
from energy.datahub.opendata import export_open_data
from energy.site import Site
from energy.store import Store
from energy.store.measurements import write_measurements
from tests.energy.datahub.conftest import CONSENTING, readings, with_consent

FIRST = dt.date(2026, 3, 28)
LAST = dt.date(2026, 3, 29)  # 29 March 2026: the clocks go forward, 92 quarter hours


@pytest.fixture
def two_days(sqlite_store: Store, hub_site: Site) -> Store:
    start = dt.datetime(2026, 3, 27, 23, 0, tzinfo=dt.UTC)  # 28 March 00:00 local
    minutes = 47 * 60  # both local days: 24 h + 23 h
    write_measurements(sqlite_store, hub_site.id, readings(hub_site, start, minutes, step_s=300))
    return sqlite_store


@pytest.mark.slow
def test_export_writes_days_months_and_dcat(
    two_days: Store, hub_site: Site, tmp_path: Path
) -> None:
    result = export_open_data(two_days, hub_site, FIRST, LAST, tmp_path)
    assert result.days == 2
    assert result.months == 1
    assert result.slots_backfilled == 96 + 92
    day = pd.read_csv(tmp_path / f"{hub_site.id}_kpi_day_2026-03-28_2026-03-29.csv")
    assert day["period_start"].tolist() == [
        "2026-03-28T00:00:00+01:00",
        "2026-03-29T00:00:00+01:00",
    ]
    assert day["period_end"].tolist()[1] == "2026-03-30T00:00:00+02:00"
    assert day["grid_import_kwh"].tolist() == pytest.approx([240.0, 230.0])  # 10 kW x 24 h, 23 h
    assert day["coverage_frac"].tolist() == pytest.approx([1.0, 1.0])
    month = json.loads(
        (tmp_path / f"{hub_site.id}_kpi_month_2026-03-28_2026-03-29.json").read_text()
    )
    assert month["units"]["grid_import_kwh"] == "kWh"
    assert month["rows"][0]["grid_import_kwh"] == pytest.approx(470.0)
    assert month["licence"] == "http://dcat-ap.de/def/licenses/dl-by-de/2.0"
    dcat = json.loads((tmp_path / f"{hub_site.id}_dcat.jsonld").read_text())
    assert dcat["@type"] == "dcat:Dataset"
    assert dcat["dct:temporal"]["dcat:startDate"]["@value"] == "2026-03-28"
    assert dcat["dct:temporal"]["dcat:endDate"]["@value"] == "2026-03-29"
    assert dcat["dct:publisher"]["foaf:name"] == "Stadtwerke Herne AG"
    assert len(dcat["dcat:distribution"]) == 4
    for distribution in dcat["dcat:distribution"]:
        assert distribution["dct:license"]["@id"] == "http://dcat-ap.de/def/licenses/dl-by-de/2.0"
        assert distribution["dcatde:licenseAttributionByText"]["@value"]
        assert Path(distribution["dcat:downloadURL"]["@id"]).name in {p.name for p in result.files}
    # the same privacy rule: not even a consenting house appears in open data
    for path in result.files:
        text = path.read_text()
        assert CONSENTING not in text
        assert not any(h.id in text for h in hub_site.houses)


def test_the_licence_follows_the_config(sqlite_store: Store, site: Site, tmp_path: Path) -> None:
    cc = with_consent(
        site, {}, open_data={"licence": "cc-by-4.0", "contact_email": "daten@example.org"}
    )
    result = export_open_data(sqlite_store, cc, FIRST, FIRST, tmp_path)
    dcat = json.loads(result.files[-1].read_text())
    assert (
        dcat["dcat:distribution"][0]["dct:license"]["@id"]
        == "http://dcat-ap.de/def/licenses/cc-by/4.0"
    )
    assert dcat["dcat:contactPoint"]["vcard:hasEmail"]["@id"] == "mailto:daten@example.org"
    assert result.days == 1  # a day without data: a row with coverage 0, not a gap in the file
    day = pd.read_csv(result.files[0])
    assert day["coverage_frac"].tolist() == [0.0]


def test_day_kpis_count_the_dst_days_quarter_hours(hub_site: Site) -> None:
    start = pd.Timestamp("2026-03-28T23:00Z")  # 29 March local
    slots = pd.DataFrame(
        {
            "grid_import_kwh": 1.0,
            "grid_export_kwh": 0.0,
            "pv_energy_kwh": 1.0,
            "consumption_kwh": 2.0,
            "co2_kg": 0.1,
        },
        index=pd.date_range(start, periods=92, freq="15min"),
    )
    end = (start + pd.Timedelta(hours=23)).to_pydatetime()
    kpis = period_kpis(slots, hub_site, start.to_pydatetime(), end, "day")
    assert kpis["coverage_frac"].tolist() == [1.0]
    assert kpis["self_sufficiency_frac"].tolist() == [0.5]
    assert kpis["self_consumption_frac"].tolist() == [1.0]


def test_the_command_has_help_and_names_bad_dates() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["opendata", "export", "--help"]).exit_code == 0
    bad = runner.invoke(app, ["opendata", "export", "--from", "2026-13-01", "--to", "2026-12-31"])
    assert bad.exit_code == 2
    assert "--from" in bad.output
    backwards = runner.invoke(
        app, ["opendata", "export", "--from", "2026-02-01", "--to", "2026-01-01"]
    )
    assert backwards.exit_code == 2
    assert "before --from" in backwards.output


@pytest.mark.slow
def test_the_command_writes_files(two_days: Store, tmp_path: Path) -> None:
    url = str(two_days.url)
    out = tmp_path / "portal"
    result = CliRunner().invoke(
        app,
        [
            "opendata",
            "export",
            "--from",
            "2026-03-28",
            "--to",
            "2026-03-28",
            "--out",
            str(out),
            "--url",
            url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 days, 1 months" in result.output
    assert (out / "klimaviertel-sodingen_dcat.jsonld").exists()
