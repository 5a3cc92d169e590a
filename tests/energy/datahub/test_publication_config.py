"""The publication section of the site YAML: validated, with errors naming the key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from energy.config import DEFAULT_SITE_CONFIG, SiteConfigError, load_site_config
from energy.site import Site
from energy.store import Store
from energy.store.audit import read_audit
from energy.store.consent import audit_consent_changes, audited_consent
from tests.energy.datahub.conftest import NOW, with_consent


def _write(tmp_path: Path, publication: dict[str, object]) -> Path:
    data = yaml.safe_load(DEFAULT_SITE_CONFIG.read_text(encoding="utf-8"))
    data["site"]["publication"] = publication
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_nobody_has_consented_in_the_shipped_config() -> None:
    config = load_site_config()
    assert config.publication.consent == {}
    assert config.publication.mqtt.qos == 1


@pytest.mark.parametrize(
    ("publication", "key", "expected"),
    [
        ({"consent": {"house-99": {"granted": True, "date": "2026-01-01"}}}, "site", "house-99"),
        (
            {"consent": {"house-01": {"granted": True}}},
            "site.publication.consent.house-01.date",
            "key missing",
        ),
        ({"mqtt": {"topic_prefix": "kv/#"}}, "site.publication.mqtt.topic_prefix", "wildcards"),
        ({"mqtt": {"cert_file": "c.pem"}}, "site.publication.mqtt", "key_file"),
        ({"ngsi_ld": {"url": "ftp://x"}}, "site.publication.ngsi_ld.url", "http(s) URL"),
        (
            {"open_data": {"licence": "all-rights-reserved"}},
            "site.publication.open_data.licence",
            "dl-de/by-2-0",
        ),
        ({"district": ["grid", "gossip"]}, "site.publication.district[1]", "gossip"),
    ],
)
def test_bad_publication_config_names_key_and_problem(
    tmp_path: Path, publication: dict[str, object], key: str, expected: str
) -> None:
    with pytest.raises(SiteConfigError) as raised:
        load_site_config(_write(tmp_path, publication))
    text = str(raised.value)
    assert key in text
    assert expected in text


def test_consent_changes_are_audited_once_each(sqlite_store: Store, site: Site) -> None:
    granted = with_consent(site, {"house-01": {"granted": True, "date": dt.date(2026, 5, 1)}})
    two = with_consent(
        site,
        {h: {"granted": True, "date": dt.date(2026, 4, 1)} for h in ("house-02", "house-05")},
    )
    assert audit_consent_changes(sqlite_store, site, NOW) == []
    assert audit_consent_changes(sqlite_store, two, NOW) == ["house-02", "house-05"]
    assert audit_consent_changes(sqlite_store, granted, NOW) == ["house-01", "house-02", "house-05"]
    assert audit_consent_changes(sqlite_store, granted, NOW) == []  # unchanged: nothing new
    withdrawn = with_consent(site, {"house-01": {"granted": False, "date": dt.date(2026, 7, 1)}})
    assert audit_consent_changes(sqlite_store, withdrawn, NOW) == ["house-01"]
    entries = read_audit(sqlite_store, action="publication.consent")
    house_01 = [e for e in entries if e["target"] == "house:house-01"]
    assert [e["detail"]["after"]["granted"] for e in reversed(house_01)] == [True, False]
    assert house_01[0]["detail"]["before"]["date"] == "2026-05-01"
    assert audited_consent(sqlite_store, site.id)["house-02"] is None
