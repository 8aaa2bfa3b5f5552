"""Settings: the example config is complete and valid; errors name file, key and expectation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
import yaml
from pydantic import BaseModel

from callpulse.config import ConfigError, Settings, compile_config, load_config, load_settings
from callpulse.config.convert import backlog_limits, http_config
from callpulse.shipped import shipped

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "callpulse.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "callpulse.yaml"
    path.write_text(text)
    return path


def keys(model: object, prefix: str = "") -> set[str]:
    out = set()
    fields = type(model).model_fields  # type: ignore[attr-defined]
    for name, info in fields.items():
        value = getattr(model, name)
        out.add(prefix + (info.alias or name))
        if hasattr(type(value), "model_fields") and type(value).model_fields:
            out |= keys(value, prefix + (info.alias or name) + ".")
    return out


def flatten(data: dict[str, object], prefix: str = "") -> set[str]:
    out = set()
    for key, value in data.items():
        out.add(prefix + key)
        if isinstance(value, dict) and key != "queues":
            out |= flatten(value, prefix + key + ".")
    return out


def test_example_config_is_valid_and_covers_every_key() -> None:
    settings = load_settings(EXAMPLE)
    assert isinstance(settings, Settings)
    documented = flatten(yaml.safe_load(EXAMPLE.read_text()))
    missing = keys(Settings()) - documented
    assert not missing, f"config/callpulse.yaml does not document {sorted(missing)}"


def test_defaults_need_no_file() -> None:
    settings = load_settings(None)
    assert settings.source.kind == "simulator"
    assert settings.http.port == 9464
    assert settings.kpi.windows == [60, 300, 900]


def test_durations_accept_units_and_plain_seconds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kpi:\n  windows: [30s, 2m, 600]\n  service_level: {threshold: 30}\nrule_files: []\n",
    )
    settings = load_settings(path)
    assert settings.kpi.windows == [30, 120, 600]
    assert settings.kpi.service_level.threshold == 30


def test_wrong_type_names_file_key_and_expectation(tmp_path: Path) -> None:
    path = write(tmp_path, "http:\n  port: lots\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert str(path) in message
    assert "http.port" in message
    assert "valid integer" in message
    assert "'lots'" in message


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "source:\n  kafka:\n    bootstrap_server: x:9092\n")
    with pytest.raises(ConfigError, match=r"source\.kafka\.bootstrap_server: unknown key"):
        load_settings(path)


def test_a_dedup_capacity_past_its_bound_names_the_bound(tmp_path: Path) -> None:
    path = write(tmp_path, "kpi:\n  dedup_capacity: 2000000000\n")
    expected = r"kpi\.dedup_capacity: .*less than or equal to 1073741824"
    with pytest.raises(ConfigError, match=expected):
        load_settings(path)


def test_window_not_a_whole_number_of_buckets(tmp_path: Path) -> None:
    path = write(tmp_path, "kpi:\n  windows: [1m, 62s]\n")
    with pytest.raises(ConfigError, match=r"kpi: .*62s is not a whole number of 5s buckets"):
        load_settings(path)


def test_bad_duration(tmp_path: Path) -> None:
    path = write(tmp_path, "kpi:\n  max_clock_skew: soon\n")
    with pytest.raises(ConfigError, match=r"kpi\.max_clock_skew: .*20s, 5m or 1h"):
        load_settings(path)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "http:\n  port: [9464\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_settings(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_settings(tmp_path / "nope.yaml")


def test_environment_overrides_the_file_key_by_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "source:\n  kind: kafka\n  kafka:\n    group_id: from-file\n")
    monkeypatch.setenv("CALLPULSE_SOURCE__KAFKA__BOOTSTRAP_SERVERS", "broker:9093")
    monkeypatch.setenv("CALLPULSE_HTTP__PORT", "9999")
    settings = load_settings(path)
    assert settings.source.kafka.bootstrap_servers == "broker:9093"
    assert settings.source.kafka.group_id == "from-file"
    assert settings.http.port == 9999


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLPULSE_HTTP__PORT", "70000")
    with pytest.raises(ConfigError, match=r"environment variable CALLPULSE_HTTP__PORT: http\.port"):
        load_settings(None)


def test_secrets_are_redacted(tmp_path: Path) -> None:
    kafka = (
        "{security_protocol: SASL_SSL, sasl_mechanism: SCRAM-SHA-512, sasl_username: cp,"
        " sasl_password: hunter2}"
    )
    path = write(tmp_path, f"source:\n  kafka: {kafka}\n")
    assert "hunter2" not in str(load_settings(path).redacted())


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callpulse", *args], capture_output=True, text=True, timeout=60
    )


def test_check_config_accepts_the_example() -> None:
    result = cli("check-config", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_check_config_and_run_refuse_a_bad_config(tmp_path: Path) -> None:
    path = write(tmp_path, "http:\n  port: lots\nkpi:\n  windoes: [1m]\n")
    for command in ("check-config", "run --config"):
        result = cli(*command.split(), str(path))
        assert result.returncode == 2
        assert "http.port" in result.stderr
        assert "kpi.windoes: unknown key" in result.stderr


def test_schema_command_prints_the_published_schema() -> None:
    result = cli("schema")
    assert result.returncode == 0
    assert result.stdout == (ROOT / "docs" / "events-v1.schema.json").read_text()


def test_shipped_alertmanager_config_passes_amtool() -> None:
    result = subprocess.run(
        ["amtool", "check-config", str(ROOT / "config" / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert "1 inhibit rules" in result.stdout


def test_a_rule_error_stops_the_config_naming_file_rule_and_field(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - alert: Fine\n    kpi: queue_calls_waiting\n    op: '>'\n    threshold: 5\n"
        "  - alert: Broken\n    kpi: queue_service_level_ratio\n    window: 2m\n"
        "    op: '<'\n    threshold: 0.8\n"
    )
    path = write(tmp_path, "rule_files: [rules.yaml]\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert str(tmp_path / "rules.yaml") in message
    assert "rules[1]: rule 'Broken': window: 2m is not one of the windows" in message


def test_maintenance_list_prints_local_and_utc_times() -> None:
    result = cli(
        "maintenance", "list", "-c", str(EXAMPLE), "--from", "2027-03-20", "--to", "2027-04-05"
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    # Sundays 02:00 in London: GMT before the clocks go forward on 28 March 2027, BST after.
    assert [(r[2], r[3], r[4], r[6]) for r in rows] == [
        ("2027-03-21", "02:00", "GMT", "02:00"),
        ("2027-03-28", "02:00", "BST", "01:00"),
        ("2027-04-04", "02:00", "BST", "01:00"),
    ]


def test_return_spread_is_a_duration_not_below_zero(tmp_path: Path) -> None:
    path = write(tmp_path, "maintenance:\n  backlog: {return_spread: 90s}\n")
    assert backlog_limits(load_settings(path).maintenance.backlog).return_spread == 90
    path = write(tmp_path, "maintenance:\n  backlog: {return_spread: -1}\n")
    with pytest.raises(ConfigError, match=r"backlog\.return_spread: .*cannot be negative"):
        load_settings(path)


def test_page_confidence_is_a_share_between_the_median_and_the_p10(tmp_path: Path) -> None:
    assert backlog_limits(load_settings(None).maintenance.backlog).page_confidence == 0.75
    path = write(tmp_path, "maintenance:\n  backlog: {page_confidence: 0.9}\n")
    assert backlog_limits(load_settings(path).maintenance.backlog).page_confidence == 0.9
    path = write(tmp_path, "maintenance:\n  backlog: {page_confidence: 0.95}\n")
    with pytest.raises(
        ConfigError, match=r"backlog\.page_confidence: .*less than or equal to 0\.9"
    ):
        load_settings(path)


def test_bad_maintenance_settings_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "maintenance:\n  timezone: Mars/Olympus\n")
    with pytest.raises(ConfigError, match="not an IANA time zone"):
        load_settings(path)
    path = write(
        tmp_path,
        "maintenance:\n  windows:\n    - {name: w, sites: [a], "
        "start: '2026-11-29T02:00', duration: 30m, rrule: 'FREQ=SOMETIMES'}\n",
    )
    with pytest.raises(ConfigError, match=r"maintenance\.windows\.0: .*rrule is not an RFC 5545"):
        load_settings(path)


def test_a_secret_value_is_never_echoed_in_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("source: {kafka: {sasl_password: 123456789}}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert "source.kafka.sasl_password" in str(info.value)
    assert "123456789" not in str(info.value)


# A credential in every type YAML can write it in, at every key that holds one. Each is
# wrong (the keys want a string, or a section), which is exactly when an error would quote it.
WRONGLY_TYPED_CREDENTIALS = {
    "a number": "987654321",
    "a float": "9876.54321",
    "a bool": "true",
    "a list": "[s3cret-l1, s3cret-l2]",
    "a mapping": "{k: s3cret-m}",
}
CREDENTIAL_KEYS = {
    "alerting.webhooks.0.authorization.credentials": (
        "alerting: {{webhooks: [{{url: 'http://h/x', authorization: {{credentials: {v}}}}}]}}"
    ),
    "alerting.alertmanagers.0.basic_auth.password": (
        "alerting: {{alertmanagers: [{{url: 'http://am', basic_auth: {{username: u, "
        "password: {v}}}}}]}}"
    ),
    "source.kafka.sasl_password": "source: {{kafka: {{sasl_password: {v}}}}}",
    # A section written as a value: the credential sits where the section goes.
    "alerting.webhooks.0.authorization": (
        "alerting: {{webhooks: [{{url: 'http://h/x', authorization: {v}}}]}}"
    ),
    "alerting.alertmanagers.0.basic_auth": (
        "alerting: {{alertmanagers: [{{url: 'http://am', basic_auth: {v}}}]}}"
    ),
}


def test_check_config_never_echoes_a_credential_whatever_its_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from callpulse.cli import main

    sections = {"a string": "'Bearer s3cret-s'"}  # a string is a type a section cannot be
    leaks = []
    for key, template in CREDENTIAL_KEYS.items():
        values = WRONGLY_TYPED_CREDENTIALS
        if key.endswith(("authorization", "basic_auth")):
            values = values | sections
        for kind, value in values.items():
            path = write(tmp_path, template.format(v=value) + "\n")
            assert main(["check-config", str(path)]) == 2
            err = capsys.readouterr().err
            assert key in err, err  # the error still names the key...
            if "(got" in err or "s3cret" in err or "98765" in err:  # ...never the value
                leaks.append(f"{key} as {kind}: {err}")
    assert not leaks, "\n".join(leaks)


def test_a_web_config_error_never_echoes_a_users_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from callpulse.cli import main

    web = tmp_path / "web.yml"
    config = write(tmp_path, f"http: {{web_config_file: {web}}}\n")
    for value in WRONGLY_TYPED_CREDENTIALS.values():
        web.write_text(f"basic_auth_users: {{prometheus: {value}}}\n")
        assert main(["check-config", str(config)]) == 2
        err = capsys.readouterr().err
        assert "basic_auth_users.prometheus" in err
        assert "(got" not in err
        assert "98765" not in err


def test_the_logged_settings_mask_credentials_by_their_key_whatever_their_type() -> None:
    settings = Settings.model_validate(
        {
            "source": {
                "kafka": {
                    "security_protocol": "SASL_SSL",
                    "sasl_mechanism": "PLAIN",
                    "sasl_username": "cp",
                    "sasl_password": "s3cret-k",
                }
            },
            "alerting": {
                "alertmanagers": [
                    {"url": "http://am", "basic_auth": {"username": "cp", "password": "s3cret-b"}}
                ],
                "webhooks": [
                    {
                        "url": "https://u:s3cret-u@hooks.example/s3cret-path?token=s3cret-q",
                        "authorization": {"credentials": "s3cret-a"},
                    }
                ],
            },
        }
    )
    shown = settings.redacted()
    assert "s3cret" not in str(shown)
    assert shown["alerting"]["alertmanagers"][0]["basic_auth"]["username"] == "cp"
    assert shown["alerting"]["webhooks"][0]["url"] == "https://hooks.example"
    # A value of any type at a credential's key is masked: masking does not rest on SecretStr.
    holders = [
        (settings.source.kafka, "sasl_password"),
        (settings.alerting.alertmanagers[0].basic_auth, "password"),
        (settings.alerting.webhooks[0].authorization, "credentials"),
    ]
    for value in (987654321, True, ["s3cret-l"], {"k": "s3cret-m"}):
        for holder, key in holders:
            object.__setattr__(holder, key, value)  # past validation, as no file could
        shown = settings.redacted()
        assert shown["source"]["kafka"]["sasl_password"] == "**********"
        assert shown["alerting"]["alertmanagers"][0]["basic_auth"]["password"] == "**********"
        assert shown["alerting"]["webhooks"][0]["authorization"]["credentials"] == "**********"
        assert "s3cret" not in str(shown)


def sections(annotation: object) -> list[type[BaseModel]]:
    """The models an annotation holds (``X | None``, ``list[X]``, ``dict[str, X]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in sections(arg)]


def secret_fields(model: type[BaseModel]) -> set[str]:
    """The names of the SecretStr fields anywhere under ``model``."""
    names = set()
    for name, info in model.model_fields.items():
        if "SecretStr" in repr(info.annotation):
            names.add(name)
        for inner in sections(info.annotation):
            names |= secret_fields(inner)
    return names


def test_every_secret_field_of_the_schema_is_a_credential_key() -> None:
    from callpulse.config.credentials import SECRET_KEYS

    found = secret_fields(Settings)
    assert found == {"sasl_password", "password", "credentials"}
    assert found <= SECRET_KEYS


@pytest.mark.parametrize(
    ("kafka", "message"),
    [
        (
            "{sasl_mechanism: PLAIN, sasl_username: a, sasl_password: b}",
            "SASL settings need security_protocol SASL_SSL",
        ),
        ("{security_protocol: SASL_SSL}", "needs sasl_mechanism, sasl_username and sasl_password"),
        (
            "{security_protocol: SSL, ssl_certfile: /c.pem}",
            "needs both ssl_certfile and ssl_keyfile",
        ),
    ],
)
def test_kafka_security_settings_that_would_not_authenticate_stop_start_up(
    tmp_path: Path, kafka: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, f"source:\n  kafka: {kafka}\n"))


def test_the_sasl_password_can_come_from_a_mounted_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    kafka = (
        "{security_protocol: SASL_SSL, sasl_mechanism: SCRAM-SHA-512, sasl_username: cp,"
        f" sasl_password_file: {secret}}}"
    )
    settings = load_settings(write(tmp_path, f"source:\n  kafka: {kafka}\n"))
    password = settings.source.kafka.sasl_password
    assert password is not None
    assert password.get_secret_value() == "s3cret"
    assert "s3cret" not in str(settings.redacted())


def test_a_sink_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Kubernetes expands $(TOKEN) from a secretKeyRef inside another variable's value, so a
    # whole sink list in JSON is how a token reaches a sink from the environment.
    hooks = '[{"url": "https://hooks.example/x", "authorization": {"credentials": "tok-1"}}]'
    monkeypatch.setenv("CALLPULSE_ALERTING__WEBHOOKS", hooks)
    settings = load_settings(None)
    [hook] = settings.alerting.webhooks
    assert http_config(hook).bearer_token == "tok-1"
    assert "tok-1" not in str(settings.redacted())


def test_rules_are_compiled_from_the_settings_as_they_are() -> None:
    # A config without rule_files evaluates the shipped rules. The compiled rules are not kept
    # on the (mutable) settings: compiling changed settings gives their rules, not stale ones.
    config = load_config(None)
    assert "QueueServiceLevelLow" in {r.name for r in config.rules}
    config.settings.rule_files = []
    assert compile_config(config.settings).rules == ()
    config.settings.rule_files = [shipped("rules.yaml")]
    assert "QueueServiceLevelLow" in {r.name for r in compile_config(config.settings).rules}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", "greater than or equal to 1"),
        ("-4", "greater than or equal to 1"),
        ("'30'", "valid integer"),
        ("true", "valid integer"),
        ("2.5", "valid integer"),
        ("[30]", "valid integer"),
    ],
)
def test_a_bad_trunk_capacity_stops_start_up_naming_file_key_and_expectation(
    tmp_path: Path, value: str, expected: str
) -> None:
    path = write(tmp_path, f"kpi:\n  trunk_channels:\n    carrier-a: {value}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert str(path) in message
    assert "kpi.trunk_channels.carrier-a" in message
    assert expected in message


def test_trunk_channels_must_be_a_mapping_of_names(tmp_path: Path) -> None:
    path = write(tmp_path, "kpi:\n  trunk_channels: [carrier-a]\n")
    with pytest.raises(ConfigError, match=r"kpi\.trunk_channels: .*valid dictionary"):
        load_settings(path)
    path = write(tmp_path, "kpi:\n  trunk_channels: {'': 30}\n")
    with pytest.raises(ConfigError, match=r"kpi\.trunk_channels\.\.\[key\]: .*at least 1 char"):
        load_settings(path)
