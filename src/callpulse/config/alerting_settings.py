"""Where alerts go and how they are told: Alertmanagers and webhooks with their
authentication, timing, the state file, planned-window silences, and the rules' own form."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from callpulse.config.base import Duration, Section
from callpulse.core.durations import parse_duration
from callpulse.core.planned_silences import SilenceWindowPolicy
from callpulse.sinks.naming import request_url, sink_labels

_SILENCES = SilenceWindowPolicy()
LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"


class BasicAuthSettings(Section):
    username: str
    password: SecretStr | None = None
    password_file: Path | None = None


class AuthorizationSettings(Section):
    type: Literal["Bearer"] = "Bearer"
    credentials: SecretStr | None = None
    credentials_file: Path | None = None


class TlsSettings(Section):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


class HttpClientSettings(Section):
    """How a client authenticates to an HTTP server and trusts it, as Prometheus'
    ``http_config`` names it: what a sink and ``callpulse status --http.config.file`` take."""

    basic_auth: BasicAuthSettings | None = None
    authorization: AuthorizationSettings | None = None
    tls_config: TlsSettings | None = None

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> HttpClientSettings:
        if self.basic_auth is not None and self.authorization is not None:
            raise ValueError("give basic_auth or authorization, not both")
        return self


class SinkTarget(HttpClientSettings):
    """Where an HTTP sink (an Alertmanager or a webhook) sends, and how it authenticates. The
    URL is a secret (it may hold credentials or a token): logs and the ``sink`` label show
    ``name``, or its host."""

    url: Annotated[str, AfterValidator(request_url)]
    timeout: Duration = 10.0
    name: str | None = None


def _switch(value: Any) -> Any:
    """``true`` / ``false`` for a section with an ``enabled`` key: on (or off) with its
    defaults."""
    return {"enabled": value} if isinstance(value, bool) else value


class SilenceWindowSettings(Section):
    """Alertmanager silences for the maintenance calendar's windows (docs/alerts.md)."""

    enabled: bool = False
    site_label: Annotated[str, Field(pattern=LABEL_NAME)] = _SILENCES.site_label
    component_label: Annotated[str, Field(pattern=LABEL_NAME)] = _SILENCES.component_label
    cluster: bool = True
    lead: Duration = _SILENCES.lead
    max_overrun: Duration = _SILENCES.max_overrun
    max_answer_bytes: Annotated[int, Field(ge=65536)] = 8 * 1024 * 1024


class AlertingSettings(Section):
    alertmanagers: list[SinkTarget] = []
    webhooks: list[SinkTarget] = []
    log: bool = True
    evaluation_interval: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] = 5.0
    resend_delay: Duration = 60.0
    # Unset: the listen address (this machine's name for 0.0.0.0), as Prometheus defaults it.
    external_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    state_file: Path | None = None
    queue_capacity: Annotated[int, Field(ge=10)] = 10_000
    silence_windows: Annotated[SilenceWindowSettings, BeforeValidator(_switch)] = (
        SilenceWindowSettings()
    )

    @model_validator(mode="after")
    def _silences_need_an_alertmanager(self) -> AlertingSettings:
        if self.silence_windows.enabled and not self.alertmanagers:
            raise ValueError(
                "silence_windows: enabled, but no alertmanagers are listed to hold the silences"
            )
        return self

    def labelled(self, kind: Literal["alertmanager", "webhook"]) -> list[tuple[str, SinkTarget]]:
        """``kind``'s targets in order, each with its ``sink`` label (sinks.naming)."""
        targets = self.alertmanagers if kind == "alertmanager" else self.webhooks
        labels = sink_labels(kind, [(t.url, t.name) for t in targets])
        return list(zip(labels, targets, strict=True))

    @model_validator(mode="after")
    def _distinct_sinks(self) -> AlertingSettings:
        # A sink's label is its identity in logs and metrics: two alike would add up two
        # sinks' counts in one series.
        named: dict[str, str] = {}
        for kind in ("alertmanager", "webhook"):
            pairs = self.labelled(kind)
            unnamed = {label: i for i, (label, t) in enumerate(pairs) if not t.name}
            for i, (label, target) in enumerate(pairs):
                if not target.name:
                    continue
                key = f"{kind}s.{i}.name"
                if target.name in named:
                    raise ValueError(
                        f"{key}: {target.name!r} is also {named[target.name]}: sink names must "
                        "be unique"
                    )
                if label in unnamed:
                    raise ValueError(
                        f"{key}: {target.name!r} is the label of the unnamed {kind}s."
                        f"{unnamed[label]}: choose another name"
                    )
                named[target.name] = key
        return self


class AbsentSettings(Section):
    scope: str = "site"
    for_: Annotated[Duration, Field(alias="for")]
    # Sites without heartbeats page only on a silence this improbable at their own rate...
    improbability: float | None = None
    # ...or one this long, whatever the rate.
    max: Duration | None = None


class RuleSettings(Section):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    alert: str
    kpi: str | None = None
    window: Duration | None = None
    match: dict[str, str] = {}
    op: str | None = None
    threshold: float | None = None
    clear: float | None = None
    for_: Annotated[Duration, Field(alias="for")] = 0.0
    keep_firing_for: Duration = 0.0
    severity: str = "warning"
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    absent: AbsentSettings | None = None


class RuleFile(Section):
    rules: list[RuleSettings] = []
