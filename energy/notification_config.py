"""The notifications section of the site YAML: who hears of critical incidents, how and when.

    notifications:
      console_url: https://leitstand.klimaviertel.example/   # the link in every message
      language: de                      # de or en
      min_severity: critical            # critical, or warning to hear of warnings too
      repeat_after_min: 60              # an unacknowledged incident is sent again after this
      quiet_hours: {start: "22:00", end: "06:30", critical_overrides: true}   # site local time
      smtp:
        host: mail.example.de
        port: 587
        security: starttls              # starttls, tls (implicit, port 465) or none
        ca_file: /etc/ssl/certs/stadtwerke-ca.pem   # optional: an in-house CA
        username: leitstand             # login only when given; password: KV_SMTP_PASSWORD
        sender: leitstand@example.de
        recipients: [bereitschaft@example.de]   # besides the users who opted in
      webhooks:
        - url: https://chat.example.de/hooks/kv   # bearer token: KV_WEBHOOK_TOKEN, if set

Secrets never live in this file: the SMTP password is read from KV_SMTP_PASSWORD and a webhook's
bearer token from KV_WEBHOOK_TOKEN when the message is sent (docs/operations.md). A `password` or
`token` key here is refused with that advice.

This module is part of the domain kernel: it validates, it does not connect to anything.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from energy.urls import check_http_url

__all__ = [
    "SMTP_PASSWORD_ENV",
    "WEBHOOK_TOKEN_ENV",
    "NotificationsConfig",
    "QuietHours",
    "SmtpConfig",
    "WebhookConfig",
]

SMTP_PASSWORD_ENV = "KV_SMTP_PASSWORD"
WEBHOOK_TOKEN_ENV = "KV_WEBHOOK_TOKEN"
_SECRET_KEYS = {"password": SMTP_PASSWORD_ENV, "token": WEBHOOK_TOKEN_ENV}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, env in _SECRET_KEYS.items():
                if key in data:
                    raise ValueError(
                        f"no {key!r} in the YAML: secrets come from the environment variable {env}"
                    )
        return data


class QuietHours(_Model):
    """A daily window of site local time without notifications; it may run over midnight."""

    start: dt.time
    end: dt.time
    critical_overrides: bool = Field(
        False, description="critical incidents are sent during quiet hours too"
    )

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError(f"quiet_hours: start and end are both {self.start}; expected a window")
        return self


class SmtpConfig(_Model):
    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = Field(None, description="login with KV_SMTP_PASSWORD when given")
    sender: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    recipients: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(
        default_factory=list, description="besides the users who opted in"
    )
    timeout_s: Annotated[float, Field(gt=0.0, le=120.0)] = 10.0
    ca_file: str | None = Field(
        None,
        description="PEM file of the CA that signed the server's certificate (an in-house CA); "
        "default: the system's trusted CAs",
    )

    @model_validator(mode="after")
    def _login_over_tls(self) -> SmtpConfig:
        if self.username is not None and self.security == "none":
            raise ValueError(
                "smtp.username with security none would send the password in clear; "
                "expected security starttls or tls"
            )
        return self


class WebhookConfig(_Model):
    url: str
    timeout_s: Annotated[float, Field(gt=0.0, le=120.0)] = 10.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)


class NotificationsConfig(_Model):
    """Notifications of incidents by e-mail and webhook (example above)."""

    console_url: str
    language: Literal["de", "en"] = "de"
    min_severity: Literal["warning", "critical"] = "critical"
    repeat_after_min: Annotated[float, Field(gt=0.0)] = Field(
        60.0, description="an incident still unacknowledged is sent again after this"
    )
    quiet_hours: QuietHours | None = None
    smtp: SmtpConfig | None = None
    webhooks: list[WebhookConfig] = Field(default_factory=list)

    @field_validator("console_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)

    @model_validator(mode="after")
    def _a_channel(self) -> NotificationsConfig:
        if self.smtp is None and not self.webhooks:
            raise ValueError("notifications: expected smtp or at least one webhook")
        return self

    @property
    def repeat_after(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.repeat_after_min)
