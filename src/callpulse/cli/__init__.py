"""The ``callpulse`` command: its arguments here, each command in a module of its own
(``run`` and ``replay`` start :class:`callpulse.app.App` over what
:func:`callpulse.runtime.compose` wires)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

from pydantic import ValidationError

from callpulse.build import describe
from callpulse.config import ConfigError, FormatSettings, LogSettings, load_config, load_settings
from callpulse.config.address import listen_url, parse_listen_address
from callpulse.simulation.emitters import FORMATS as EMITTED_FORMATS
from callpulse.text import plain


def _platform_formats() -> list[str]:
    """The platform formats the simulator writes: those with an emitter (an adapter can
    read a format no emitter writes yet)."""
    return list(EMITTED_FORMATS)


def _address(text: str) -> tuple[str, int]:
    try:
        return parse_listen_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _serving_flags(command: argparse.ArgumentParser) -> None:
    """The flags every Prometheus exporter takes (node_exporter's names); each overrides its
    config key."""
    command.add_argument(
        "--web.listen-address",
        dest="listen_address",
        type=_address,
        metavar="HOST:PORT",
        help="address to serve /metrics on, e.g. :9464 or 127.0.0.1:9464 (overrides "
        "http.host and http.port)",
    )
    command.add_argument(
        "--log.level",
        dest="log_level",
        choices=get_args(LogSettings.model_fields["level"].annotation),
        help="overrides log.level",
    )
    command.add_argument(
        "--log.format",
        dest="log_format",
        choices=get_args(LogSettings.model_fields["format"].annotation),
        help="overrides log.format (auto: console on a terminal, else JSON lines)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="callpulse",
        description="Real-time health monitoring for 24/7 contact centers.",
    )
    parser.add_argument("--version", action="version", version=describe())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run the daemon (the built-in simulator unless the config says otherwise)"
    )
    run.add_argument("-c", "--config", type=Path, help="YAML settings file")
    run.add_argument(
        "--web.config.file",
        dest="web_config_file",
        type=Path,
        help="TLS and basic auth for the HTTP endpoints, in Prometheus' exporter-toolkit "
        "format (overrides http.web_config_file)",
    )
    _serving_flags(run)

    check = commands.add_parser("check-config", help="validate a settings file and exit")
    check.add_argument("config", type=Path)

    commands.add_parser("schema", help="print the JSON Schema of events v1")

    rules = commands.add_parser("rules", help="work with alert rules")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    rules_test = rules_commands.add_parser(
        "test", help="run rule unit tests (see config/rules.test.yaml)"
    )
    rules_test.add_argument("files", type=Path, nargs="+")

    scenario = commands.add_parser("scenario", help="the simulator's scenarios")
    scenario_commands = scenario.add_subparsers(
        dest="scenario_command", required=True, metavar="COMMAND"
    )
    check_scenario = scenario_commands.add_parser(
        "check", help="play scenarios through the pipeline and check the alerts they raise"
    )
    check_scenario.add_argument("names", nargs="*", help="scenario names or files (default: all)")
    check_scenario.add_argument("-c", "--config", type=Path, help="settings (rules) to check with")
    check_scenario.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help="play each scenario with N seeds (its own and the next N-1); default 1 "
        "(--sweep: 2, --sweep --reduced: 1)",
    )
    check_scenario.add_argument(
        "--sweep",
        action="store_true",
        help="score the maintenance alerts over a family of contact centers instead of the "
        "shipped scenarios (docs/sweep.md); exit 1 when an acceptance gate fails",
    )
    check_scenario.add_argument(
        "--reduced",
        action="store_true",
        help="with --sweep: the reduced sweep (8 centers, one seed), as CI plays it",
    )
    check_scenario.add_argument(
        "--no-history",
        dest="history",
        action="store_false",
        help="with --sweep: play each center without its yesterday, as a daemon on its first "
        "day (the forecast then learns its callers' patience from the hour before the window)",
    )
    check_scenario.add_argument(
        "--json",
        dest="json_path",
        type=Path,
        metavar="FILE",
        help="with --sweep: write every window's and checkpoint's record and the summary",
    )
    check_scenario.add_argument(
        "--format",
        dest="platform",
        choices=_platform_formats(),
        help="also play each scenario through this platform's records and adapter: the "
        "queue counts and alerts must be those of events v1",
    )
    scenario_commands.add_parser("list", help="the shipped scenarios")

    simulate = commands.add_parser(
        "simulate", help="produce a scenario's events to Kafka, or write them to a file"
    )
    simulate.add_argument("--scenario", default="normal-day")
    target = simulate.add_mutually_exclusive_group(required=True)
    target.add_argument("--kafka", metavar="BOOTSTRAP", help="produce to this broker")
    target.add_argument("--out", type=Path, metavar="FILE.jsonl", help="write JSON lines")
    simulate.add_argument("--topic", default="contact-center.events")
    simulate.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="simulated seconds per second; 0: as fast as possible",
    )
    simulate.add_argument("--duration", help="simulated time to play (default: the scenario's)")
    simulate.add_argument(
        "--format",
        dest="platform",
        choices=_platform_formats(),
        help="write the call and agent events as this platform does, each site's to a topic "
        "TOPIC.FORMAT.SITE (or a file OUT.FORMAT.SITE.*) of its own; the rest stay events v1",
    )
    simulate.add_argument(
        "-c",
        "--config",
        type=Path,
        help="settings whose source.kafka security (SASL, TLS, mutual TLS) the producer uses",
    )

    replay = commands.add_parser(
        "replay",
        help="feed a recorded file (plain or gzip) through the pipeline",
        description="Feed a recorded file through the pipeline, serving /metrics as it goes; "
        "a gzip file is read as it is. With --report, print a summary of the whole file and "
        "exit: 0 when records were applied and at most half the lines were rejected, 1 when "
        "none was applied (a wrong --format, an empty file), 3 when more than half the lines "
        "were rejected, 2 when the file cannot be read or an option is wrong.",
    )
    replay.add_argument("file", type=Path, help="the file, plain or gzip (found by its bytes)")
    _serving_flags(replay)
    replay.add_argument("-c", "--config", type=Path, help="YAML settings file")
    replay.add_argument(
        "--format",
        choices=get_args(FormatSettings.model_fields["format"].annotation),
        help="what the file holds (default: the config's source.replay.format, events-v1)",
    )
    replay.add_argument(
        "--site",
        help="the site its records belong to, for every format but events-v1 (letters, "
        "digits and _ . : -)",
    )
    replay.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="event-time seconds per second; 0: as fast as possible",
    )
    replay.add_argument(
        "--report",
        action="store_true",
        help="print a per-queue summary of the whole file (the alerts that would have fired, "
        "each rejection reason with its first lines and an example, a guess at the format "
        "when most records fail) and exit, serving nothing",
    )

    status = commands.add_parser("status", help="a running callpulse's status, in the terminal")
    status.add_argument(
        "--url",
        default="http://127.0.0.1:9464",
        help="the callpulse to ask; user:password@ in it is basic auth, and never printed",
    )
    status.add_argument(
        "--http.config.file",
        dest="http_config_file",
        type=Path,
        metavar="FILE",
        help="TLS and credentials for --url, in the file promtool takes: basic_auth, "
        "authorization, tls_config (ca_file, cert_file, key_file, server_name, "
        "insecure_skip_verify)",
    )

    maintenance = commands.add_parser("maintenance", help="maintenance windows")
    maintenance_commands = maintenance.add_subparsers(
        dest="maintenance_command", required=True, metavar="COMMAND"
    )
    listing = maintenance_commands.add_parser(
        "list", help="upcoming windows of the config's calendar, in local time and UTC"
    )
    listing.add_argument("-c", "--config", type=Path, help="YAML settings file")
    listing.add_argument("--from", dest="start", help="ISO date or time (default: now)")
    listing.add_argument("--to", dest="end", help="ISO date or time (default: 30 days on)")

    args = parser.parse_args(argv)
    if args.command == "schema":
        from callpulse.core.event_schema import json_schema

        print(json.dumps(json_schema(), indent=2, sort_keys=True))
        return 0
    if args.command == "rules":
        from callpulse.cli.rules import main as rules_main

        return rules_main(args.files)
    if args.command == "status":
        from callpulse.cli.status import show

        return show(args.url, args.http_config_file)
    if args.command == "scenario":
        from callpulse.cli import scenario as sim

        if args.scenario_command == "list":
            return sim.list_scenarios()
        if args.seeds is not None and args.seeds < 1:
            print("callpulse: --seeds must be at least 1", file=sys.stderr)
            return 2
        if args.sweep:
            if args.names or args.platform:
                print(
                    "callpulse: --sweep plays its own centers: no names, no --format",
                    file=sys.stderr,
                )
                return 2
            return sim.check_sweep(
                args.config, args.reduced, args.seeds, args.json_path, args.history
            )
        if args.reduced or args.json_path or not args.history:
            print("callpulse: --reduced, --no-history and --json go with --sweep", file=sys.stderr)
            return 2
        return sim.check(args.names, args.config, args.seeds or 1, args.platform)
    if args.command == "simulate":
        from callpulse.cli import simulate as producing

        try:
            kafka = load_settings(args.config).source.kafka if args.config else None
        except ConfigError as exc:
            return _config_error(exc)
        return producing.simulate(
            args.scenario,
            args.kafka,
            args.topic,
            args.out,
            args.speed,
            args.duration,
            kafka,
            args.platform,
        )
    try:
        config = load_config(args.config)
        settings = config.settings
    except ConfigError as exc:
        return _config_error(exc)
    if args.command == "maintenance":
        from callpulse.cli import maintenance as windows

        return windows.listing(settings, args.start, args.end)
    if getattr(args, "web_config_file", None) is not None:
        settings.http.web_config_file = args.web_config_file
    if getattr(args, "listen_address", None) is not None:
        settings.http.host, settings.http.port = args.listen_address
    settings.log.level = getattr(args, "log_level", None) or settings.log.level
    settings.log.format = getattr(args, "log_format", None) or settings.log.format
    try:
        from callpulse.web.webconfig import load_web_config

        web = load_web_config(settings.http.web_config_file)
    except ConfigError as exc:
        return _config_error(exc)
    if args.command == "check-config":
        http = settings.http
        where = listen_url(http.host, http.port, web.ssl_context is not None)
        print(f"{plain(str(args.config))}: OK (source: {settings.source.kind})")
        print(f"  {plain(config.rules_loaded())}")
        print(f"  would listen on {plain(where)}")
        from callpulse.config.format_gaps import source_gaps

        for topic, gaps in source_gaps(settings.source).items():
            for gap in gaps:
                print(f"  {plain(topic)}: {plain(gap)}")
        return 0
    if args.command == "replay":
        settings.source.kind = "replay"
        settings.source.replay.path = args.file
        settings.source.replay.speed = args.speed
        chosen = settings.source.replay.format.model_dump()
        chosen |= {k: v for k, v in (("format", args.format), ("site", args.site)) if v}
        try:
            settings.source.replay.format = FormatSettings.model_validate(chosen)
        except ValidationError as exc:
            print(f"callpulse replay: {_format_error(exc, chosen)}", file=sys.stderr)
            return 2
        if args.report:
            from callpulse import logs
            from callpulse.cli import report

            logs.configure("warning", "console")
            return report.main(settings)
    elif args.config is None:
        # The embedded default: the simulator in compressed time (with the shipped rules, as
        # every config that names no rule_files), evaluated every second so that a newcomer
        # sees an incident page within minutes.
        settings.alerting.evaluation_interval = 1.0

    from callpulse import logs, memory
    from callpulse.app import App
    from callpulse.runtime import compose

    logs.configure(settings.log.level, settings.log.format)
    memory.return_large_blocks()

    async def serve() -> int:
        runtime = compose(config, config_path=getattr(args, "config", None))
        return await App(runtime).run()

    return asyncio.run(serve())


def _format_error(exc: ValidationError, chosen: dict[str, object]) -> str:
    """What is wrong with ``replay``'s ``--format`` and ``--site``, named as options."""
    error = exc.errors()[0]
    if error["loc"] == ("site",):
        return (
            "--site may contain only letters, digits and _ . : - (1 to 64 characters), "
            f"not {plain(repr(chosen.get('site')))}"
        )
    if chosen.get("site") is None:
        return f"--format {chosen['format']} carries no site: give --site SITE"
    return plain(error["msg"])


def _config_error(exc: ConfigError) -> int:
    """Say why the configuration cannot be used (its keys and values escaped: they come from
    the file or the environment); the exit status for it."""
    print(f"callpulse: {plain(str(exc), newlines=True)}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
