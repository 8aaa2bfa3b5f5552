"""The ``callpulse`` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from callpulse import __version__
from callpulse.settings import ConfigError, load_settings


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

    args = parser.parse_args(argv)
    if args.command == "schema":
        from callpulse.core.events import json_schema

        print(json.dumps(json_schema(), indent=2, sort_keys=True))
        return 0
    if args.command == "rules":
        return _rules_test(args.files)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"callpulse: {exc}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        print(f"{args.config}: OK (source: {settings.source.kind})")
        return 0

    from callpulse import logs
    from callpulse.app import App

    logs.configure(settings.log.level, settings.log.format)

    async def serve() -> int:
        return await App(settings).run()

    return asyncio.run(serve())


def _rules_test(files: list[Path]) -> int:
    from callpulse.rulestest import run_file

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


if __name__ == "__main__":
    sys.exit(main())
