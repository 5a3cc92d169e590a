"""`kv prices`: an analyst's file import lands in the store with its issue time; bad files are
refused naming file and line; fetch without any usable source says why."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from energy.cli.main import app
from energy.store import Store
from energy.store.prices import read_prices

runner = CliRunner()


def _url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'kv.db'}"
    assert runner.invoke(app, ["db", "upgrade", "--url", url]).exit_code == 0
    return url


def test_import_stores_the_file_as_issued(tmp_path: Path) -> None:
    url = _url(tmp_path)
    file = tmp_path / "epex-2026-12-06.csv"
    stamps = pd.date_range("2026-12-06T00:00+01:00", periods=8, freq="15min")
    file.write_text(
        "timestamp,price_eur_per_mwh\n"
        + "".join(f"{t.isoformat()},{-5 + i}\n" for i, t in enumerate(stamps))
    )
    result = runner.invoke(
        app, ["prices", "import", str(file), "--url", url, "--issued", "2026-12-05T11:50Z"]
    )
    assert result.exit_code == 0, result.output
    assert "8 slots of DE-LU" in result.output
    store = Store.from_url(url)
    try:
        frame = read_prices(
            store,
            "DE-LU",
            stamps[0].to_pydatetime(),
            (stamps[-1] + pd.Timedelta(minutes=15)).to_pydatetime(),
            pd.Timestamp("2026-12-05T12:00Z").to_pydatetime(),
        )
    finally:
        store.dispose()
    assert frame["price_eur_per_mwh"].tolist() == [float(-5 + i) for i in range(8)]
    assert set(frame["source"]) == {"file:epex-2026-12-06.csv"}
    assert (frame["issue_time"] == pd.Timestamp("2026-12-05T11:50Z")).all()


def test_a_bad_file_is_refused_with_its_line(tmp_path: Path) -> None:
    url = _url(tmp_path)
    file = tmp_path / "bad.csv"
    file.write_text("timestamp,price_eur_per_mwh\n2026-12-06T00:00:00,1\n")
    result = runner.invoke(app, ["prices", "import", str(file), "--url", url])
    assert result.exit_code == 2
    assert "bad.csv, line 2" in result.output


def test_fetch_without_a_token_or_other_source_says_why(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ENTSOE_SECURITY_TOKEN", raising=False)
    config = tmp_path / "site.yaml"
    default = Path(__file__).resolve().parents[3] / "config" / "klimaviertel.yaml"
    config.write_text(
        default.read_text().replace("sources: [entsoe, energy_charts]", "sources: [entsoe]")
    )
    result = runner.invoke(
        app, ["prices", "fetch", "--config", str(config), "--url", _url(tmp_path)]
    )
    assert result.exit_code == 1
    assert "ENTSOE_SECURITY_TOKEN" in result.output
