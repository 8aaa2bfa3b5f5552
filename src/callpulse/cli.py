"""The ``callpulse`` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from callpulse import __version__
from callpulse.core.durations import format_duration
from callpulse.settings import ConfigError, Settings, load_settings
from callpulse.shipped import shipped


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="callpulse",
        description="Real-time health monitoring for 24/7 contact centers.",
    )
    parser.add_argument("--version", action="version", version=f"callpulse {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run the daemon (the built-in simulator unless the config says otherwise)"
    )
    run.add_argument("-c", "--config", type=Path, help="YAML settings file")

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
        default=1,
        metavar="N",
        help="play each scenario with N seeds (its own and the next N-1); default 1",
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

    replay = commands.add_parser("replay", help="feed a JSON-lines file through the pipeline")
    replay.add_argument("file", type=Path)
    replay.add_argument("-c", "--config", type=Path, help="YAML settings file")
    replay.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="event-time seconds per second; 0: as fast as possible",
    )

    status = commands.add_parser("status", help="a running callpulse's status, in the terminal")
    status.add_argument("--url", default="http://127.0.0.1:9464")

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
        from callpulse.core.events import json_schema

        print(json.dumps(json_schema(), indent=2, sort_keys=True))
        return 0
    if args.command == "rules":
        return _rules_test(args.files)
    if args.command == "status":
        from callpulse.status_cli import show

        return show(args.url)
    if args.command == "scenario":
        from callpulse import simulate as sim

        if args.scenario_command == "list":
            return sim.list_scenarios()
        if args.seeds < 1:
            print("callpulse: --seeds must be at least 1", file=sys.stderr)
            return 2
        return sim.check(args.names, args.config, args.seeds)
    if args.command == "simulate":
        from callpulse import simulate as sim

        return sim.simulate(
            args.scenario, args.kafka, args.topic, args.out, args.speed, args.duration
        )
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"callpulse: {exc}", file=sys.stderr)
        return 2
    if args.command == "maintenance":
        return _maintenance_list(settings, args.start, args.end)
    if args.command == "check-config":
        print(f"{args.config}: OK (source: {settings.source.kind})")
        return 0
    if args.command == "replay":
        settings.source.kind = "replay"
        settings.source.replay.path = args.file
        settings.source.replay.speed = args.speed
    elif args.config is None:
        # The embedded default: the simulator in compressed time with the shipped rules,
        # evaluated every second so that a newcomer sees an incident page within minutes.
        settings.rule_files = [shipped("rules.yaml")]
        settings.alerting.evaluation_interval = 1.0

    from callpulse import logs
    from callpulse.app import App

    logs.configure(settings.log.level, settings.log.format)

    async def serve() -> int:
        return await App(settings, config_path=getattr(args, "config", None)).run()

    return asyncio.run(serve())


def _rules_test(files: list[Path]) -> int:
    from callpulse import logs
    from callpulse.rulestest import run_file

    logs.configure("warning", "console")

    failed = 0
    for path in files:
        try:
            results = run_file(path)
        except ConfigError as exc:
            print(f"callpulse: {exc}", file=sys.stderr)
            return 2
        for result in results:
            if result.problems:
                failed += 1
                print(f"FAIL  {path}: {result.name}")
                for problem in result.problems:
                    print("      " + problem.replace("\n", "\n      "))
            else:
                print(f"PASS  {path}: {result.name}")
    print("rule tests failed" if failed else "rule tests passed")
    return 1 if failed else 0


def _maintenance_list(settings: Settings, start: str | None, end: str | None) -> int:
    from callpulse.core.calendar import Calendar

    calendar = Calendar(
        [w.spec() for w in settings.maintenance.windows], settings.maintenance.timezone
    )

    def moment(text: str | None, default: float) -> float:
        if text is None:
            return default
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=calendar.zone)
        return parsed.timestamp()

    try:
        begin = moment(start, time.time())
        finish = moment(end, begin + 30 * 86400)
    except ValueError as exc:
        print(f"callpulse: --from/--to: {exc}", file=sys.stderr)
        return 2
    zone = settings.maintenance.timezone
    print(f"{'window':<20} {'start (' + zone + ')':<28} {'start (UTC)':<22} {'duration':<9} sites")
    for o in calendar.occurrences(begin, finish):
        local = datetime.fromtimestamp(o.start, calendar.zone).strftime("%a %Y-%m-%d %H:%M %Z")
        utc = datetime.fromtimestamp(o.start, UTC).strftime("%Y-%m-%d %H:%M UTC")
        print(
            f"{o.name:<20} {local:<28} {utc:<22} {format_duration(o.end - o.start):<9} "
            f"{','.join(o.sites)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
