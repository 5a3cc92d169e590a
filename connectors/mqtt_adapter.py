"""The platform's only door to an MQTT library (paho-mqtt 2.x): one connection to one broker.

    connection = MqttConnection(MqttSettings(host="127.0.0.1", port=1883, client_id="kv-site",
                                             will=MqttMessage("kv/site/status", b"...", 1, True)))
    connection.start()                       # connects in the background, reconnects with backoff
    handle = connection.publish("kv/site/x", b"{}", qos=1, retain=False)
    connection.wait([handle], timeout_s=5)   # True where the broker acknowledged (PUBACK)
    connection.stop(final=MqttMessage(...))  # publish a last message, disconnect cleanly

The rest of the platform sees only these classes: paho's API has moved between major versions
(callback signatures in 2.0) and is pinned below 3 in pyproject.toml. The Last Will is set before
connecting, so the broker publishes it when the connection dies without a clean disconnect; the
`birth` message is published on every (re)connect. TLS uses the ssl.SSLContext the caller built;
credentials are passed in, never read here.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import paho.mqtt.client as paho

__all__ = ["MqttConnection", "MqttError", "MqttMessage", "MqttSettings", "PublishHandle"]

log = logging.getLogger(__name__)


class MqttError(RuntimeError):
    """The broker refused or the connection failed; the message names broker and reason."""


@dataclass(frozen=True)
class MqttMessage:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int
    client_id: str
    keepalive_s: int = 30
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = None
    will: MqttMessage | None = None
    birth: MqttMessage | None = None
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0
    max_inflight: int = 100


@dataclass(frozen=True)
class PublishHandle:
    """One publish in flight; `acknowledged` once the broker confirmed it (QoS 1: PUBACK)."""

    info: paho.MQTTMessageInfo

    @property
    def acknowledged(self) -> bool:
        return self.info.rc == paho.MQTT_ERR_SUCCESS and self.info.is_published()


class MqttConnection:
    """See the module docstring."""

    def __init__(self, settings: MqttSettings):
        self.settings = settings
        self._client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=paho.MQTTv311,
            clean_session=True,
        )
        if settings.username is not None:
            self._client.username_pw_set(settings.username, settings.password)
        if settings.ssl_context is not None:
            self._client.tls_set_context(settings.ssl_context)
        if settings.will is not None:
            w = settings.will
            self._client.will_set(w.topic, w.payload, qos=w.qos, retain=w.retain)
        self._client.reconnect_delay_set(
            min_delay=max(1, round(settings.reconnect_min_s)),
            max_delay=max(1, round(settings.reconnect_max_s)),
        )
        self._client.max_inflight_messages_set(settings.max_inflight)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._connected = threading.Event()
        self._started = False
        #: the last connection failure or refusal, for status pages (None while connected)
        self.last_error: str | None = None

    @property
    def where(self) -> str:
        return f"mqtt{'s' if self.settings.ssl_context else ''}://{self.settings.host}:{self.settings.port}"

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _on_connect(
        self, client: paho.Client, _userdata: object, _flags: object, reason: object, _props: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            self.last_error = f"broker {self.where} refused the connection: {reason}"
            log.error("%s", self.last_error)
            return
        self.last_error = None
        self._connected.set()
        log.info("connected to MQTT broker %s as %s", self.where, self.settings.client_id)
        if self.settings.birth is not None:
            b = self.settings.birth
            client.publish(b.topic, b.payload, qos=b.qos, retain=b.retain)

    def _on_disconnect(
        self,
        _client: paho.Client,
        _userdata: object,
        _flags: object,
        reason: object,
        _props: object,
    ) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if was:
            self.last_error = f"disconnected from {self.where}: {reason}"
            log.warning("%s", self.last_error)

    def start(self) -> None:
        """Connect in the background (returns at once); paho's thread reconnects with backoff."""
        if self._started:
            return
        try:
            self._client.connect_async(
                self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s
            )
        except (OSError, ValueError) as exc:
            raise MqttError(f"cannot connect to {self.where}: {exc}") from exc
        self._client.loop_start()
        self._started = True

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> PublishHandle:
        """Hand one message to the client; check `acknowledged` (or `wait`) for delivery."""
        return PublishHandle(self._client.publish(topic, payload, qos=qos, retain=retain))

    def wait(self, handles: Sequence[PublishHandle], timeout_s: float) -> list[bool]:
        """Wait until every handle is acknowledged or the connection drops or the time is up;
        returns per handle whether it was acknowledged."""
        done = threading.Event()
        step = min(0.05, timeout_s)
        waited = 0.0
        while waited < timeout_s and self.connected:
            if all(h.acknowledged for h in handles):
                break
            done.wait(step)
            waited += step
        return [h.acknowledged for h in handles]

    def stop(self, final: MqttMessage | None = None, timeout_s: float = 5.0) -> None:
        """Publish `final` (if connected), disconnect cleanly and stop the network thread."""
        if not self._started:
            return
        if final is not None and self.connected:
            handle = self.publish(final.topic, final.payload, final.qos, final.retain)
            self.wait([handle], timeout_s)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        self._started = False
