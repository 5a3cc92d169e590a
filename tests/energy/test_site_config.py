from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from energy.config import DEFAULT_SITE_CONFIG, SiteConfigError, load_site_config
from energy.site import AssetKind, load_site


def default_config() -> dict[str, Any]:
    """The default site configuration as plain data, to edit."""
    return dict(yaml.safe_load(DEFAULT_SITE_CONFIG.read_text()))


def written(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


BAD = Path(__file__).parent / "data" / "bad_site.yaml"


def test_default_site_follows_the_published_facts() -> None:
    """Seven houses with PV and a ground- or air-source heat pump each, five redox-flow and two
    conventional home batteries, differing supply concepts, no separate district battery, EV
    charging at the carport (a controllable load), and the cost objective."""
    site = load_site()
    config = site.config
    assert config.name == "Klimaviertel Herne-Sodingen"
    assert config.illustrative
    assert len(site.houses) == 7
    assert all(h.pv is not None and h.heat_pump is not None for h in site.houses)
    assert {h.heat_pump.source for h in site.houses if h.heat_pump} == {"ground", "air"}
    chemistries = sorted(h.battery.chemistry for h in site.houses if h.battery)
    assert chemistries == ["li-ion"] * 2 + ["redox-flow"] * 5
    assert config.community_batteries == []
    concepts = [h.supply_concept for h in site.houses]
    assert all(concepts)
    assert len(set(concepts)) == 6
    [charger] = site.ev_chargers()
    assert charger.kind is AssetKind.EV_CHARGER
    assert charger.device is not None
    assert config.ev_chargers[0].sessions
    assert config.objective.kind == "cost"
    assert site.tz.key == "Europe/Berlin"
    for asset in site.devices():
        assert asset.device is not None
        assert asset.device.register_map.endswith(".yaml")


def test_bad_file_reports_every_problem_with_file_key_expected_found() -> None:
    with pytest.raises(SiteConfigError) as info:
        load_site_config(BAD)
    issues = {i.key_path: i for i in info.value.issues}
    assert all(i.file == str(BAD) for i in issues.values())
    expected_paths = {
        "site.id",
        "site.location.latitude_deg",
        "site.location.timezone",
        "site.grid.import_limit_kw",
        "site.tariff",
        "site.houses[0](id=house-01).battery",
        "site.houses[0](id=house-01).heat_pump.source",
        "site.houses[0](id=house-01).pv.colour",
    }
    assert expected_paths <= set(issues), sorted(issues)
    assert issues["site.location.latitude_deg"].found == "95"
    assert "90" in issues["site.location.latitude_deg"].expected
    assert issues["site.houses[0](id=house-01).pv.colour"].found == "unknown key 'colour'"
    assert (
        "soc_min_frac (0.9) must be below" in issues["site.houses[0](id=house-01).battery"].expected
    )
    assert "needs fixed_price_eur_per_kwh" in issues["site.tariff"].expected
    assert "Europe/Herne" in issues["site.location.timezone"].expected


def test_missing_key_is_named(tmp_path: Path) -> None:
    data = default_config()
    del data["site"]["houses"][2]["annual_electricity_kwh"]
    path = written(tmp_path, data)
    with pytest.raises(SiteConfigError) as info:
        load_site_config(path)
    (issue,) = info.value.issues
    assert issue.key_path == "site.houses[2](id=house-03).annual_electricity_kwh"
    assert issue.found == "nothing (key missing)"


def test_duplicate_modbus_address_is_refused(tmp_path: Path) -> None:
    data = default_config()
    data["site"]["houses"][1]["pv"]["device"]["port"] = data["site"]["houses"][0]["pv"]["device"][
        "port"
    ]
    path = written(tmp_path, data)
    with pytest.raises(SiteConfigError, match="share one Modbus address"):
        load_site_config(path)


@pytest.mark.parametrize(
    ("text", "where"),
    [("site: [unclosed", "line 1"), ("- just a list", "(top level)")],
)
def test_unparseable_or_wrong_shape(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(text)
    with pytest.raises(SiteConfigError) as info:
        load_site_config(path)
    assert info.value.issues[0].key_path.startswith(where)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SiteConfigError, match=r"nope\.yaml"):
        load_site_config(tmp_path / "nope.yaml")


def _with_charger(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(DEFAULT_SITE_CONFIG.read_text(encoding="utf-8"))
    data["site"]["ev_chargers"][0].update(changes)
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


SESSION = {"weekdays": [0], "arrive_local": "18:00", "depart_local": "07:30", "energy_kwh": 10.0}


@pytest.mark.parametrize(
    ("sessions", "key", "expected"),
    [
        (
            [SESSION, {**SESSION, "weekdays": [1, 0], "arrive_local": "06:00"}],
            "site.ev_chargers[0](id=carport-ev)",
            "sessions[0] and sessions[1] overlap",
        ),
        (
            [{**SESSION, "energy_kwh": 60.0}],
            "site.ev_chargers[0](id=carport-ev)",
            "sessions[0].energy_kwh: expected at most vehicle_capacity_kwh (50.0)",
        ),
        (
            [{**SESSION, "depart_local": "19:00", "energy_kwh": 12.0}],
            "site.ev_chargers[0](id=carport-ev)",
            "expected at most 10.1 kWh (full power over the 60 plugged-in minutes)",
        ),
        (
            [{**SESSION, "arrive_local": "02:30"}],
            "site.ev_chargers[0](id=carport-ev).sessions[0].arrive_local",
            "outside 02:00-03:00 local",
        ),
        (
            [{**SESSION, "depart_local": "03:00"}],
            "site.ev_chargers[0](id=carport-ev).sessions[0].depart_local",
            "outside 02:15-03:00 local",
        ),
        (
            [{**SESSION, "depart_local": "07:20"}],
            "site.ev_chargers[0](id=carport-ev).sessions[0].depart_local",
            "quarter-hour time",
        ),
        (
            [{**SESSION, "weekdays": [7]}],
            "site.ev_chargers[0](id=carport-ev).sessions[0].weekdays[0]",
            "less than or equal to 6",
        ),
    ],
)
def test_ev_charging_sessions_are_validated(
    tmp_path: Path, sessions: list[dict[str, object]], key: str, expected: str
) -> None:
    path = _with_charger(tmp_path, sessions=sessions)
    with pytest.raises(SiteConfigError) as caught:
        load_site_config(path)
    [issue] = caught.value.issues
    assert issue.key_path == key
    assert expected in issue.expected


def test_a_week_long_overnight_cycle_does_not_overlap_itself(tmp_path: Path) -> None:
    every_night = {**SESSION, "weekdays": list(range(7))}
    config = load_site_config(_with_charger(tmp_path, sessions=[every_night]))
    assert config.ev_chargers[0].sessions[0].duration_minutes == 13 * 60 + 30
    sunday_night = {**SESSION, "weekdays": [6]}  # until Monday 07:30, across the week's end
    monday_morning = {**SESSION, "arrive_local": "06:00", "depart_local": "09:00"}
    with pytest.raises(SiteConfigError, match="overlap"):
        load_site_config(_with_charger(tmp_path, sessions=[monday_morning, sunday_night]))


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        (
            {"kind": "cost", "grid_import_weight_per_kwh": 0.2},
            "grid_import_weight_per_kwh: weights apply only with kind 'blend'; found kind 'cost'",
        ),
        (
            {"kind": "blend", "cost_weight": 0.0},
            "kind 'blend' needs at least one positive weight",
        ),
    ],
)
def test_objective_weights_are_checked(
    tmp_path: Path, objective: dict[str, object], expected: str
) -> None:
    data = yaml.safe_load(DEFAULT_SITE_CONFIG.read_text(encoding="utf-8"))
    data["site"]["objective"] = objective
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SiteConfigError) as caught:
        load_site_config(path)
    [issue] = caught.value.issues
    assert issue.key_path == "site.objective"
    assert expected in issue.expected


def test_weather_is_kept_at_least_as_long_as_the_forecasters_learn(tmp_path: Path) -> None:
    data = default_config()
    data["site"].setdefault("weather", {})["retention_days"] = 10
    path = written(tmp_path, data)
    with pytest.raises(SiteConfigError, match=r"retention_days \(10\) must be at least"):
        load_site_config(path)


def test_a_plan_time_limit_beyond_the_plan_interval_is_refused(tmp_path: Path) -> None:
    data = default_config()
    data["site"]["control"]["plan_time_limit_s"] = 900
    path = written(tmp_path, data)
    with pytest.raises(SiteConfigError) as info:
        load_site_config(path)
    (issue,) = info.value.issues
    assert issue.key_path == "site.control"
    assert "plan_time_limit_s (900) must be below the plan interval (900 s)" in issue.expected
