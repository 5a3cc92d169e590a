"""The optional grid_signals section of the site YAML: validated, every problem named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from energy.config import DEFAULT_SITE_CONFIG, SiteConfigError, load_site_config

BOX = {
    "device": {"host": "127.0.0.1", "port": 15190, "register_map": "wago_750_352_io.yaml"},
    "contacts": [{"point": "di_1", "dimming_kw": 16.8}, {"point": "di_2", "feed_in_kw": 0.0}],
}


def _load(tmp_path: Path, signals: dict[str, Any]) -> Any:
    data = yaml.safe_load(DEFAULT_SITE_CONFIG.read_text())
    data["site"]["grid_signals"] = signals
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_site_config(path)


def test_the_default_site_takes_no_grid_signals() -> None:
    assert load_site_config(DEFAULT_SITE_CONFIG).grid_signals is None


def test_a_control_box_section_loads_with_its_defaults(tmp_path: Path) -> None:
    signals = _load(tmp_path, {"control_box": BOX}).grid_signals
    assert signals.failsafe_s == 7200.0
    assert signals.min_power_per_device_kw == 4.2
    assert [c.point for c in signals.control_box.contacts] == ["di_1", "di_2"]


@pytest.mark.parametrize(
    ("signals", "key", "expected"),
    [
        (
            {"min_power_per_device_kw": 3.0},
            "min_power_per_device_kw",
            "greater than or equal to 4.2",
        ),
        ({"failsafe_h": 0}, "failsafe_h", "greater than 0"),
        (
            {"control_box": {**BOX, "contacts": [{"point": "di_1"}]}},
            "control_box.contacts[0]",
            "exactly one of dimming_kw or feed_in_kw",
        ),
        (
            {"control_box": {**BOX, "contacts": [{"point": "di_1", "dimming_kw": 5}] * 2}},
            "control_box",
            "points repeated: di_1",
        ),
        (
            {"control_box": {**BOX, "contacts": [{"point": "di_1", "dimming_kw": -1}]}},
            "control_box.contacts[0].dimming_kw",
            "greater than or equal to 0",
        ),
    ],
)
def test_a_bad_section_names_key_and_problem(
    tmp_path: Path, signals: dict[str, Any], key: str, expected: str
) -> None:
    with pytest.raises(SiteConfigError) as info:
        _load(tmp_path, signals)
    text = str(info.value)
    assert f"grid_signals.{key}" in text
    assert expected in text


def test_the_control_box_may_not_share_a_modbus_address(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_SITE_CONFIG.read_text())
    meter = data["site"]["grid"]["meter"]
    box = {**BOX, "device": {**BOX["device"], "host": meter.get("host", "127.0.0.1")}}
    box["device"]["port"] = meter["port"]
    box["device"]["unit_id"] = meter.get("unit_id", 1)
    with pytest.raises(SiteConfigError, match="share one Modbus address"):
        _load(tmp_path, {"control_box": box})
