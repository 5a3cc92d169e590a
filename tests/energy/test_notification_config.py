"""The optional notifications section of the site YAML: validated, every problem named with its
key and file, and no secrets in it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from energy.config import DEFAULT_SITE_CONFIG, SiteConfigError, load_site_config

SECTION: dict[str, Any] = {
    "console_url": "https://leitstand.example.de/",
    "quiet_hours": {"start": "22:00", "end": "06:30"},
    "smtp": {"host": "mail.example.de", "sender": "leitstand@example.de"},
    "webhooks": [{"url": "https://chat.example.de/hooks/kv"}],
}


def _write(tmp_path: Path, section: dict[str, Any]) -> Path:
    data = yaml.safe_load(DEFAULT_SITE_CONFIG.read_text())
    data["site"]["notifications"] = section
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_default_site_sends_no_notifications() -> None:
    assert load_site_config(DEFAULT_SITE_CONFIG).notifications is None


def test_a_section_loads_with_its_defaults(tmp_path: Path) -> None:
    config = load_site_config(_write(tmp_path, SECTION)).notifications
    assert config is not None
    assert config.language == "de"
    assert config.min_severity == "critical"
    assert config.repeat_after == dt.timedelta(hours=1)
    assert config.quiet_hours is not None
    assert config.quiet_hours.start == dt.time(22, 0)
    assert config.quiet_hours.critical_overrides is False
    assert config.smtp is not None
    assert (config.smtp.port, config.smtp.security) == (587, "starttls")


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        (
            {"smtp": {**SECTION["smtp"], "password": "geheim"}},
            "site.notifications.smtp",
            "environment variable KV_SMTP_PASSWORD",
        ),
        (
            {"webhooks": [{"url": "https://x.example", "token": "t"}]},
            "site.notifications.webhooks[0]",
            "environment variable KV_WEBHOOK_TOKEN",
        ),
        ({"console_url": "leitstand.example.de"}, "site.notifications.console_url", "http"),
        ({"smtp": None, "webhooks": []}, "site.notifications", "smtp or at least one webhook"),
        (
            {"quiet_hours": {"start": "22:00", "end": "22:00"}},
            "site.notifications.quiet_hours",
            "expected a window",
        ),
        ({"repeat_after_min": 0}, "site.notifications.repeat_after_min", "greater than 0"),
        (
            {"smtp": {**SECTION["smtp"], "security": "none", "username": "leitstand"}},
            "site.notifications.smtp",
            "password in clear",
        ),
        ({"language": "fr"}, "site.notifications.language", "'de' or 'en'"),
        (
            {"smtp": {"host": "mail.example.de", "sender": "leitstand"}},
            "site.notifications.smtp.sender",
            "pattern",
        ),
    ],
)
def test_a_bad_section_names_key_and_file(
    tmp_path: Path, change: dict[str, Any], key: str, expected: str
) -> None:
    path = _write(tmp_path, {**SECTION, **change})
    with pytest.raises(SiteConfigError) as caught:
        load_site_config(path)
    issues = caught.value.issues
    assert [issue.key_path for issue in issues] == [key]
    assert expected in issues[0].expected
    assert issues[0].file == str(path)


def test_the_commented_example_of_the_shipped_config_loads(tmp_path: Path) -> None:
    text = DEFAULT_SITE_CONFIG.read_text()
    example = text.split("  # notifications:\n", 1)[1].splitlines()
    section = ["  notifications:"] + [line.replace("  # ", "  ", 1) for line in example]
    path = tmp_path / "site.yaml"
    path.write_text(text + "\n".join(section) + "\n")
    config = load_site_config(path).notifications
    assert config is not None
    assert config.smtp is not None
    assert config.smtp.recipients == ["bereitschaft@example.de"]
    assert config.quiet_hours is not None
    assert config.quiet_hours.critical_overrides
