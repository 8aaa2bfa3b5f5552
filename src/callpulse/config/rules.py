"""Alert rules from the config and its rule files, compiled against the KPI catalogue."""

from __future__ import annotations

from pydantic import ValidationError

from callpulse.config.errors import ConfigError, describe
from callpulse.config.schema import RuleFile, RuleSettings, Settings
from callpulse.config.yaml import read_yaml
from callpulse.core.rules import Rule, RuleError, compile_rule


def load_rules(settings: Settings, origin: str = "(config)") -> list[Rule]:
    """Compile the config's own rules and every rule file's; raise ConfigError naming them."""
    sources: list[tuple[str, list[RuleSettings]]] = [(origin, settings.rules)]
    for path in settings.rule_files:
        try:
            parsed = RuleFile(**read_yaml(path))
        except ValidationError as exc:
            raise ConfigError(describe(exc, str(path), env=False)) from None
        sources.append((str(path), parsed.rules))
    windows = settings.kpi.windows
    compiled: list[Rule] = []
    for where, rules in sources:
        for index, rule in enumerate(rules):
            try:
                compiled.append(compile_rule(rule.spec(), windows))
            except RuleError as exc:
                raise ConfigError(f"{where}: rules[{index}]: {exc}") from None
    return compiled
