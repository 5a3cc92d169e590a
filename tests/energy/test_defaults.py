"""The default site and register maps are found, and `kv init` writes an editable copy."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from energy.cli.main import app
from energy.config import CONFIG_DIR, DEFAULT_SITE_CONFIG
from energy.defaults import DefaultSiteError, default_config_dir, write_default_site
from energy.site import load_site


def test_in_a_checkout_the_defaults_are_the_config_folder() -> None:
    assert default_config_dir() == Path(__file__).resolve().parents[2] / "config"
    assert default_config_dir() == CONFIG_DIR
    assert DEFAULT_SITE_CONFIG.is_file()
    assert any((CONFIG_DIR / "registermaps").glob("*.yaml"))


def test_init_writes_a_site_that_loads_and_keeps_an_edited_one(tmp_path: Path) -> None:
    target = tmp_path / "site"
    result = CliRunner().invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    written = target / "klimaviertel.yaml"
    assert written.read_bytes() == DEFAULT_SITE_CONFIG.read_bytes()
    assert load_site(written).id == "klimaviertel-sodingen"

    written.write_text(written.read_text().replace("Haus 1", "Haus Eins"))
    again = CliRunner().invoke(app, ["init", str(target)])
    assert again.exit_code == 2
    assert "exists; keeping it" in again.output
    assert "Haus Eins" in written.read_text()
    forced = CliRunner().invoke(app, ["init", str(target), "--force"])
    assert forced.exit_code == 0
    assert "Haus Eins" not in written.read_text()


def test_init_copies_another_site_and_names_a_missing_one(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(DEFAULT_SITE_CONFIG.read_text())
    assert write_default_site(tmp_path / "a", source=other) == tmp_path / "a" / "other.yaml"
    with pytest.raises(DefaultSiteError, match="no such site file"):
        write_default_site(tmp_path / "b", source=tmp_path / "missing.yaml")


def test_init_refuses_a_file_as_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(app, ["init", str(blocker)])
    assert result.exit_code == 2
    assert "not a directory" in result.output
