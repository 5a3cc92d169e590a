"""Configuration checks: duplicate keys, referenced files, timing limits against the loop."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from energy.cli.main import app
from energy.config import DEFAULT_SITE_CONFIG, SiteConfigError, load_site_config
from energy.yamlfile import DuplicateKeyError, load_yaml

DEFAULT_TEXT = DEFAULT_SITE_CONFIG.read_text(encoding="utf-8")


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    assert old in DEFAULT_TEXT
    path = tmp_path / "site.yaml"
    path.write_text(DEFAULT_TEXT.replace(old, new, 1), encoding="utf-8")
    return path


def _line_of(path: Path, text: str, occurrence: int = 1) -> int:
    lines = [i + 1 for i, line in enumerate(path.read_text().splitlines()) if text in line]
    return lines[occurrence - 1]


def test_a_duplicate_key_is_refused_naming_both_lines(tmp_path: Path) -> None:
    path = _variant(
        tmp_path, "    stale_after_s: 30\n", "    stale_after_s: 30\n    stale_after_s: 45\n"
    )
    with pytest.raises(SiteConfigError) as caught:
        load_site_config(path)
    first, second = _line_of(path, "stale_after_s: 30"), _line_of(path, "stale_after_s: 45")
    assert str(caught.value).count("stale_after_s") == 1
    assert f"at line {first} and again at line {second}" in str(caught.value)


keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1)


@given(st.dictionaries(keys, st.integers() | st.text(), min_size=1))
def test_yaml_loads_like_safe_load_and_refuses_any_repeated_key(data: dict[str, object]) -> None:
    text = yaml.safe_dump(data, allow_unicode=True)
    assert load_yaml(text) == yaml.safe_load(text)
    key = next(iter(data))
    repeated = text + yaml.safe_dump({key: 1}, allow_unicode=True)
    with pytest.raises(DuplicateKeyError) as caught:
        load_yaml(repeated)
    assert caught.value.key == key
    assert caught.value.first_line < caught.value.second_line


def test_kv_config_check_refuses_a_missing_register_map(tmp_path: Path) -> None:
    path = _variant(
        tmp_path, "register_map: ev_charger_generic.yaml", "register_map: no_such_map.yaml"
    )
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 1
    assert "device carport-ev: register_map 'no_such_map.yaml'" in result.output
    run = CliRunner().invoke(app, ["run", "--no-simulator", "--config", str(path)])
    assert run.exit_code == 2
    assert "no_such_map.yaml" in run.output
    assert "Traceback" not in run.output


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("    stale_after_s: 30\n", "    stale_after_s: 1\n", "site.control.stale_after_s"),
        ("    lease_ttl_s: 30\n", "    lease_ttl_s: 6\n", "site.control.lease_ttl_s"),
        (
            "      register_map: ev_charger_generic.yaml\n",
            "      register_map: ev_charger_generic.yaml\n      watchdog_s: 10\n",
            "site.ev_chargers[0](id=carport-ev).device.watchdog_s",
        ),
    ],
)
def test_timing_limits_must_fit_the_loop(tmp_path: Path, old: str, new: str, key: str) -> None:
    path = _variant(tmp_path, old, new)
    with pytest.raises(SiteConfigError) as caught:
        load_site_config(path)
    [issue] = caught.value.issues
    assert issue.key_path == key
    assert issue.expected.startswith("at least")
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 1
    assert key in result.output


def test_kv_config_check_refuses_control_box_contacts_its_map_lacks(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_TEXT)
    data["site"]["grid_signals"] = {
        "control_box": {
            "device": {"port": 15190, "register_map": "wago_750_352_io.yaml"},
            "contacts": [
                {"point": "di_1", "dimming_kw": 16.8},
                {"point": "di_9", "feed_in_kw": 0.0},
                {"point": "digital_in_bits", "feed_in_kw": 0.0},
            ],
        }
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 1
    assert "point 'di_9'" in result.output
    assert "no such point" in result.output
    assert "dtype uint16" in result.output
    assert "point 'di_1'" not in result.output
