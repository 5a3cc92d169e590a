from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from energy.config import DEFAULT_SITE_CONFIG, SiteConfigError, load_site_config
from energy.site import AssetKind, load_site

BAD = Path(__file__).parent / "data" / "bad_site.yaml"


def test_default_site_is_the_klimaviertel() -> None:
    site = load_site()
    assert site.config.name == "Klimaviertel Herne-Sodingen"
    assert site.config.illustrative
    assert len(site.houses) == 7
    assert [b.chemistry for b in site.config.community_batteries] == ["redox-flow"]
    assert len(site.batteries()) == 8
    assert len(site.of_kind(AssetKind.HEAT_PUMP)) == 7
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
    data = yaml.safe_load(DEFAULT_SITE_CONFIG.read_text())
    del data["site"]["houses"][2]["annual_electricity_kwh"]
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SiteConfigError) as info:
        load_site_config(path)
    (issue,) = info.value.issues
    assert issue.key_path == "site.houses[2](id=house-03).annual_electricity_kwh"
    assert issue.found == "nothing (key missing)"


def test_duplicate_modbus_address_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_SITE_CONFIG.read_text())
    data["site"]["houses"][1]["pv"]["device"]["port"] = data["site"]["houses"][0]["pv"]["device"][
        "port"
    ]
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
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


def test_weather_is_kept_at_least_as_long_as_the_forecasters_learn(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_SITE_CONFIG.read_text())
    data["site"].setdefault("weather", {})["retention_days"] = 10
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SiteConfigError, match=r"retention_days \(10\) must be at least"):
        load_site_config(path)
