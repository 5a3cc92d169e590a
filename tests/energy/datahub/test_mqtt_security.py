"""The city's broker needs a password and TLS: the publisher authenticates from the environment
or a credentials file and verifies the broker's certificate (Mosquitto with both, on a free port)."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.mqtt_adapter import MqttConnection
from energy.datahub.mqtt_publisher import MqttConfigError, mqtt_settings
from energy.publication_config import MqttTargetConfig
from energy.site import Site
from tests.energy.datahub.broker_support import Broker, wait_until

NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and a server certificate for 127.0.0.1 / localhost (openssl, valid one day)."""
    d = tmp_path_factory.mktemp("tls")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=kv test CA",
        cwd=d,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
        cwd=d,
    )
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n", encoding="utf-8")
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "1",
        "-extfile",
        "san.ext",
        cwd=d,
    )
    return d


@pytest.fixture
def secured(tmp_path: Path, certificates: Path) -> Iterator[Broker]:
    passwords = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwords), "herne", "s3cret-pass"], check=True
    )
    broker = Broker(
        tmp_path / "broker",
        extra=(
            "allow_anonymous false\n"
            f"password_file {passwords}\n"
            f"cafile {certificates / 'ca.pem'}\n"
            f"certfile {certificates / 'server.pem'}\n"
            f"keyfile {certificates / 'server.key'}\n"
        ),
    )
    broker.start()
    yield broker
    broker.stop()


def _connect(site: Site, config: MqttTargetConfig) -> MqttConnection:
    connection = MqttConnection(mqtt_settings(site, config, NOW))
    connection.start()
    return connection


def _config(broker: Broker, certificates: Path, **extra: object) -> MqttTargetConfig:
    return MqttTargetConfig.model_validate(
        {"enabled": True, "port": broker.port, "tls": True, "ca_file": str(certificates / "ca.pem")}
        | extra
    )


def test_tls_with_credentials_from_a_file(
    site: Site, secured: Broker, certificates: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KV_MQTT_USERNAME", raising=False)
    secrets = tmp_path / "mqtt.yaml"
    secrets.write_text("username: herne\npassword: s3cret-pass\n", encoding="utf-8")
    connection = _connect(site, _config(secured, certificates, credentials_file=str(secrets)))
    try:
        assert connection.wait_connected(15)
        assert connection.where.startswith("mqtts://")
    finally:
        connection.stop()


def test_a_wrong_password_is_reported(
    site: Site, secured: Broker, certificates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KV_MQTT_USERNAME", "herne")
    monkeypatch.setenv("KV_MQTT_PASSWORD", "wrong")
    connection = _connect(site, _config(secured, certificates))
    try:
        wait_until(lambda: connection.last_error is not None, 15, "the refusal")
        assert "refused" in (connection.last_error or "")
        assert not connection.connected
    finally:
        connection.stop()


def test_an_unknown_certificate_authority_is_not_trusted(
    site: Site, secured: Broker, certificates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the city's CA the broker's certificate is refused: no connection, no data."""
    monkeypatch.setenv("KV_MQTT_USERNAME", "herne")
    monkeypatch.setenv("KV_MQTT_PASSWORD", "s3cret-pass")
    connection = _connect(site, MqttTargetConfig(enabled=True, port=secured.port, tls=True))
    try:
        assert not connection.wait_connected(2)
    finally:
        connection.stop()


def test_a_bad_credentials_file_is_named(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KV_MQTT_USERNAME", raising=False)
    bad = tmp_path / "mqtt.yaml"
    bad.write_text("user: herne\n", encoding="utf-8")
    with pytest.raises(
        MqttConfigError, match=r"credentials_file .*mqtt.yaml: expected keys username"
    ):
        mqtt_settings(site, MqttTargetConfig(credentials_file=str(bad)), NOW)
