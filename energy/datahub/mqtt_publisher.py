"""Publishing records to an MQTT broker through the on-disk outbox.

`enqueue` applies the privacy rule (energy.datahub.privacy) and puts each remaining record's JSON
into the outbox; `drain` sends the oldest messages while the broker is connected and removes
them once the broker acknowledged them (QoS 1 PUBACK). A broker outage therefore only grows the
outbox (bounded, see energy.datahub.outbox); delivery is at least once, in seq order per drain.

Credentials come from KV_MQTT_USERNAME / KV_MQTT_PASSWORD or the config's credentials_file (a
YAML file with `username` and `password`, relative to the site config); TLS from the config's
CA and client certificate files, verifying the broker's certificate and host name.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from connectors.mqtt_adapter import MqttConnection, MqttMessage, MqttSettings
from energy.datahub.mqtt_messages import (
    RETAINED_KINDS,
    encode_payload,
    status_payload,
    status_topic,
    topic_for,
)
from energy.datahub.outbox import Outbox
from energy.datahub.privacy import publishable
from energy.datahub.records import Record
from energy.publication_config import MqttTargetConfig
from energy.site import Site

__all__ = ["DrainResult", "MqttConfigError", "MqttPublisher", "mqtt_settings"]

log = logging.getLogger(__name__)


class MqttConfigError(ValueError):
    """The MQTT target cannot be set up: names the file or variable and what was wrong."""


@dataclass(frozen=True)
class DrainResult:
    sent: int
    remaining: int
    connected: bool


def _relative(site: Site, name: str) -> Path:
    path = Path(name)
    base = site.config.source_path.parent if site.config.source_path else Path.cwd()
    return path if path.is_absolute() else base / path


def _credentials(site: Site, config: MqttTargetConfig) -> tuple[str | None, str | None]:
    user, password = os.environ.get("KV_MQTT_USERNAME"), os.environ.get("KV_MQTT_PASSWORD")
    if user is None and config.credentials_file:
        path = _relative(site, config.credentials_file)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise MqttConfigError(
                f"publication.mqtt.credentials_file {path}: expected a readable YAML file with "
                f"username and password; {exc}"
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("username"), str):
            raise MqttConfigError(
                f"publication.mqtt.credentials_file {path}: expected keys username and password; "
                f"found {sorted(data) if isinstance(data, dict) else type(data).__name__}"
            )
        user, password = data["username"], str(data.get("password") or "")
    return user, password


def _tls(site: Site, config: MqttTargetConfig) -> ssl.SSLContext | None:
    if not config.tls:
        return None
    try:
        context = ssl.create_default_context(
            cafile=str(_relative(site, config.ca_file)) if config.ca_file else None
        )
        if config.cert_file and config.key_file:
            context.load_cert_chain(
                str(_relative(site, config.cert_file)), str(_relative(site, config.key_file))
            )
    except (OSError, ssl.SSLError) as exc:
        raise MqttConfigError(f"publication.mqtt TLS files: {exc}") from exc
    return context


def mqtt_settings(site: Site, config: MqttTargetConfig, now: dt.datetime) -> MqttSettings:
    """Connection settings with the Last Will (retained `offline` on the status topic) and the
    retained `online` published on every connect."""
    user, password = _credentials(site, config)
    topic = status_topic(config.topic_prefix, site.id)
    return MqttSettings(
        host=config.host,
        port=config.port,
        client_id=config.client_id or f"kv-{site.id}",
        keepalive_s=config.keepalive_s,
        username=user,
        password=password,
        ssl_context=_tls(site, config),
        will=MqttMessage(topic, status_payload("offline", now), config.qos, True),
        birth=MqttMessage(topic, status_payload("online", now), config.qos, True),
    )


class MqttPublisher:
    """See the module docstring."""

    def __init__(
        self, site: Site, config: MqttTargetConfig, outbox: Outbox, connection: MqttConnection
    ):
        self.site = site
        self.config = config
        self.outbox = outbox
        self.connection = connection

    def enqueue(self, records: Iterable[Record]) -> int:
        """Put the publishable part of `records` into the outbox; returns messages added."""
        allowed = publishable(self.site.config, records, self.config.kinds)
        messages = [
            (
                topic_for(r, self.config.topic_prefix, self.site.id),
                encode_payload(r, self.site.id),
                self.config.qos,
                r.kind in RETAINED_KINDS,
            )
            for r in allowed
        ]
        self.outbox.put(messages)
        return len(messages)

    def drain(self, max_batches: int = 20) -> DrainResult:
        """Send the oldest messages while connected; remove the acknowledged ones."""
        sent = 0
        for _ in range(max_batches):
            if not self.connection.connected:
                break
            batch = self.outbox.peek(self.config.drain_batch)
            if not batch:
                break
            handles = [self.connection.publish(m.topic, m.payload, m.qos, m.retain) for m in batch]
            if self.config.qos == 0:
                acked = [True] * len(batch)
            else:
                acked = self.connection.wait(handles, self.config.ack_timeout_s)
            done = [m.seq for m, ok in zip(batch, acked, strict=True) if ok]
            self.outbox.remove(done)
            sent += len(done)
            if len(done) < len(batch):
                break
        return DrainResult(sent, len(self.outbox), self.connection.connected)

    def stop(self, now: dt.datetime) -> None:
        """Mark the platform offline (retained) and disconnect cleanly."""
        topic = status_topic(self.config.topic_prefix, self.site.id)
        self.connection.stop(
            MqttMessage(topic, status_payload("offline", now), self.config.qos, True)
        )
