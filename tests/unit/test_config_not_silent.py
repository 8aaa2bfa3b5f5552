"""A configuration cannot be silently wrong: rules load unless told not to, every
``CALLPULSE_`` variable names a setting, credential files exist at load, and what was loaded
and where it listens is said."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from callpulse.config import ConfigError, load_config, load_settings
from callpulse.config.address import external_url, listen_url, parse_listen_address
from callpulse.config.environment import check_environment
from callpulse.config.schema import Settings
from callpulse.core.alert_state import Notification
from callpulse.core.clock import WALL_TIME
from callpulse.shipped import shipped


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "callpulse.yaml"
    path.write_text(text)
    return path


def check_config(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callpulse", "check-config", str(path)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=60,
    )


# --- rule files ----------------------------------------------------------------------


def test_a_config_without_rule_files_has_the_shipped_rules(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "log: {level: info}\n"))
    assert config.settings.rule_files == [shipped("rules.yaml")]
    assert len(config.rules) >= 10


def test_an_empty_rule_files_list_means_none_and_says_so(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "rule_files: []\n"))
    assert config.rules == ()
    assert config.rules_loaded() == "0 rules (rule_files: []): nothing will page"


def test_check_config_prints_the_rules_and_the_listen_address(tmp_path: Path) -> None:
    rules = tmp_path / "mine.yaml"
    rules.write_text(
        "rules:\n  - {alert: Waiting, kpi: queue_calls_waiting, op: '>', threshold: 3}\n"
    )
    path = write(
        tmp_path,
        "http: {port: 9555}\nrule_files: [mine.yaml]\n"
        "rules:\n  - {alert: Long, kpi: queue_oldest_wait_seconds, op: '>', threshold: 60}\n",
    )
    done = check_config(path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].strip() == f"2 rules: 1 from {path}, 1 from {rules}"
    assert lines[2].strip() == "would listen on http://0.0.0.0:9555"


# --- environment ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("CALLPULSE_HTPP__PORT", "'htpp' is no key of the settings"),
        ("CALLPULSE_HTTP__PROT", "'prot' is no key of section http"),
        ("CALLPULSE_MAINTENANCE__BACKLOG__FOUR", "'four' is no key of section maintenance.backlog"),
        ("CALLPULSE_HTTP__PORT__X", "http.port has no keys (one value): 'x' is too many"),
        ("CALLPULSE_HTTP__SERVICE_PORT", "'service_port' is no key of section http"),
    ],
)
def test_a_variable_that_names_no_setting_is_an_error(name: str, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_environment(Settings, {name: "1", "CALLPULSE_LOG__LEVEL": "debug"})
    (line,) = str(caught.value).splitlines()[1:]
    assert line.startswith(f"  environment variable {name}: {said}")


@pytest.mark.parametrize(
    "name",
    [
        "CALLPULSE_HTTP__PORT",
        "CALLPULSE_SHUTDOWN_GRACE",
        "CALLPULSE_MAINTENANCE__BACKLOG__FOR",  # by its alias
        "CALLPULSE_SOURCE__KAFKA__FORMATS__AGENTS__SITE",  # a mapping's key, then its section
        "CALLPULSE_ALERTING__ALERTMANAGERS",  # a list, set whole as JSON
        "callpulse_log__level",  # read case-insensitively, checked so too
        "CALLPULSE_CACHE",  # the scripts' cache: not a setting, and said so
        # What Kubernetes puts in a pod's environment for a Service named callpulse (or
        # callpulse-web) in its namespace.
        "CALLPULSE_PORT",
        "CALLPULSE_SERVICE_HOST",
        "CALLPULSE_SERVICE_PORT",
        "CALLPULSE_SERVICE_PORT_HTTP",
        "CALLPULSE_PORT_9464_TCP",
        "CALLPULSE_PORT_9464_TCP_PROTO",
        "CALLPULSE_PORT_9464_TCP_ADDR",
        "CALLPULSE_WEB_SERVICE_HOST",
        "OTHER_HTPP",
    ],
)
def test_a_variable_that_names_a_setting_passes(name: str) -> None:
    check_environment(Settings, {name: "1"})


def test_check_config_names_the_misspelt_variable(tmp_path: Path) -> None:
    done = check_config(write(tmp_path, "{}\n"), CALLPULSE_HTPP__PORT="27006")
    assert done.returncode == 2
    assert "environment variable CALLPULSE_HTPP__PORT" in done.stderr


def test_a_section_given_as_a_variable_that_is_no_json_is_a_config_error(
    tmp_path: Path,
) -> None:
    done = check_config(write(tmp_path, "{}\n"), CALLPULSE_SOURCE__KAFKA__FORMATS="x")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert 'field "source"' in done.stderr
    assert "JSON" in done.stderr


# --- credential files ----------------------------------------------------------------


def test_a_missing_password_file_fails_the_load(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "alerting:\n  alertmanagers:\n    - url: http://127.0.0.1:9093\n"
        f"      basic_auth: {{username: cp, password_file: {tmp_path / 'absent'}}}\n",
    )
    done = check_config(path)
    assert done.returncode == 2
    assert (
        f"{path}: alerting.alertmanagers.0.basic_auth.password_file: cannot read "
        f"{tmp_path / 'absent'} (No such file or directory)"
    ) in done.stderr


def test_every_credential_file_is_checked(tmp_path: Path) -> None:
    present = tmp_path / "present"
    present.write_text("x")
    missing = tmp_path / "missing"
    path = write(
        tmp_path,
        f"""
source:
  kafka:
    ssl_cafile: {present}
    ssl_certfile: {missing}
    ssl_keyfile: {missing}
alerting:
  webhooks:
    - url: https://hooks.example/x
      authorization: {{credentials_file: {missing}}}
      tls_config: {{ca_file: {missing}, cert_file: {present}, key_file: {present}}}
""",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    keys = [line.split(": ")[1] for line in str(caught.value).splitlines()[1:]]
    assert keys == [
        "source.kafka.ssl_certfile",
        "source.kafka.ssl_keyfile",
        "alerting.webhooks.0.authorization.credentials_file",
        "alerting.webhooks.0.tls_config.ca_file",
    ]


# --- addresses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (":9464", ("0.0.0.0", 9464)),
        ("127.0.0.1:9100", ("127.0.0.1", 9100)),
        ("[::1]:9464", ("::1", 9464)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_listen_addresses_as_node_exporter_takes_them(text: str, parsed: tuple[str, int]) -> None:
    assert parse_listen_address(text) == parsed


@pytest.mark.parametrize("text", ["9464", "host:", "host:port", ":70000", "::1:9464"])
def test_a_wrong_listen_address_says_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected|brackets"):
        parse_listen_address(text)


def test_urls_of_the_listen_address() -> None:
    assert listen_url("::1", 9464, tls=True) == "https://[::1]:9464"
    assert external_url("10.0.0.7", 9464) == "http://10.0.0.7:9464"
    assert not external_url("0.0.0.0", 9464).startswith("http://0.0.0.0")


def test_external_url_defaults_to_the_listen_address(tmp_path: Path) -> None:
    from callpulse import pipeline

    settings = load_settings(write(tmp_path, "http: {host: 10.1.2.3, port: 9555}\n"))
    parts = pipeline.build(settings, now=0.0, clock=WALL_TIME, deliver=False)
    assert parts.alerting.external_url == "http://10.1.2.3:9555"
    set_url = load_settings(write(tmp_path, "alerting: {external_url: 'https://cp.example'}\n"))
    parts = pipeline.build(set_url, now=0.0, clock=WALL_TIME, deliver=False)
    assert parts.alerting.external_url == "https://cp.example"


# --- times sent to Alertmanager ------------------------------------------------------


def test_nothing_leaves_with_a_start_in_the_future() -> None:
    # A simulation 20 minutes ahead of the wall clock: evaluated at 2,000, sent at 800.
    firing = Notification({"alertname": "A"}, {}, 1_900.0, 2_240.0, "u", made_at=2_000.0)
    assert firing.on_wall_clock(800.0) == (800.0, 1_040.0)  # valid 240 s from now
    resolved = Notification({"alertname": "A"}, {}, 1_900.0, 1_990.0, "u", made_at=2_000.0)
    assert resolved.on_wall_clock(800.0) == (800.0, 800.0)  # resolved now, not in 20 min


def test_a_replay_behind_the_wall_clock_keeps_its_start_and_stays_firing() -> None:
    firing = Notification({"alertname": "A"}, {}, 100.0, 440.0, "u", made_at=200.0)
    assert firing.on_wall_clock(5_000.0) == (100.0, 5_240.0)
    resolved = Notification({"alertname": "A"}, {}, 100.0, 190.0, "u", made_at=200.0)
    assert resolved.on_wall_clock(5_000.0) == (100.0, 190.0)
    live = Notification({"alertname": "A"}, {}, 100.0, 440.0, "u", made_at=200.0)
    assert live.to_alertmanager(200.0)["startsAt"] == live.to_alertmanager()["startsAt"]


# --- build info ----------------------------------------------------------------------


def test_build_info_names_the_commit_of_a_checkout_or_an_image(tmp_path: Path) -> None:
    from callpulse.build import build_labels, revision

    commit = "0123456789abcdef0123456789abcdef01234567"
    package = tmp_path / "src" / "callpulse"
    package.mkdir(parents=True)
    assert revision(package) == "unknown"
    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "packed-refs").write_text(f"# pack-refs\n{commit} refs/heads/main\n")
    assert revision(package) == commit  # a packed ref
    (git / "refs" / "heads" / "main").write_text(commit.replace("0", "f") + "\n")
    assert revision(package) == commit.replace("0", "f")  # a loose one wins
    (package / "REVISION").write_text(commit + "\n")
    assert revision(package) == commit  # an image's file wins over everything
    labels = build_labels()
    assert set(labels) == {"version", "revision", "python_version", "compiled", "native"}
    assert labels["python_version"] == ".".join(map(str, sys.version_info[:3]))


# --- what a platform format leaves out -----------------------------------------------


def test_check_config_says_what_a_platform_format_leaves_out(tmp_path: Path) -> None:
    # Each is a quiet default: no IVR application named, no trunk listed. Left unsaid, it
    # shows only as a series that never appears, or a TrunkDown that cannot fire.
    path = write(
        tmp_path,
        "source:\n  kind: kafka\n  kafka:\n    topics: [pbx, connect, sbc, full]\n"
        "    formats:\n"
        "      pbx: {format: asterisk-ami, site: lon1, ivr_contexts: [ivr-main]}\n"
        "      connect: {format: amazon-connect, site: lon1}\n"
        "      sbc: {format: kamailio-acc, site: lon1}\n"
        "      full: {format: asterisk-ami, site: lon1, trunks: [carrier],"
        " ivr_contexts: [ivr-main]}\n",
    )
    done = check_config(path)
    assert done.returncode == 0, done.stderr
    said = [line.strip() for line in done.stdout.splitlines()[3:]]
    assert said == [
        "pbx: no trunk state from qualify results, so no TrunkDown: list them in trunks",
        "connect: no IVR sessions: name the flows' application in ivr_application",
        "sbc: every setup on trunk 'proxy': give trunk_attribute",
    ]


def test_a_source_of_events_v1_leaves_nothing_out() -> None:
    from callpulse.config import Settings
    from callpulse.config.format_gaps import source_gaps

    assert source_gaps(Settings().source) == {}  # the simulator
    replay = Settings.model_validate({"source": {"kind": "replay"}}).source
    assert source_gaps(replay) == {}
