"""Alert rules from the config and its rule files, compiled against the KPI catalogue."""

from __future__ import annotations

from pydantic import ValidationError

from callpulse.config.errors import ConfigError, describe
from callpulse.config.schema import RuleFile, RuleSettings, Settings
from callpulse.config.yaml import read_yaml
from callpulse.core.rules import Rule, RuleError, compile_rule


def load_rules(settings: Settings, origin: str = "(config)") -> list[Rule]:
    """Compile the config's own rules and every rule file's; raise ConfigError naming them."""
    return [rule for _, rules in rule_sources(settings, origin) for rule in rules]


def rule_sources(settings: Settings, origin: str = "(config)") -> list[tuple[str, list[Rule]]]:
    """Each place rules come from (``origin`` for the config's own, then each rule file),
    with its compiled rules: what start-up and ``check-config`` say was loaded."""
    sources: list[tuple[str, list[RuleSettings]]] = [(origin, settings.rules)]
    for path in settings.rule_files:
        try:
            parsed = RuleFile(**read_yaml(path))
        except ValidationError as exc:
            raise ConfigError(describe(exc, str(path), env=False)) from None
        sources.append((str(path), parsed.rules))
    windows = settings.kpi.windows
    # The shipped rules name windows a changed kpi.windows may not have: say where they came from.
    unset = (
        set()
        if "rule_files" in settings.model_fields_set
        else {str(p) for p in settings.rule_files}
    )
    compiled: list[tuple[str, list[Rule]]] = []
    for where, rules in sources:
        compiled.append((where, []))
        for index, rule in enumerate(rules):
            try:
                compiled[-1][1].append(compile_rule(rule.spec(), windows))
            except RuleError as exc:
                hint = ""
                if where in unset:
                    hint = " (the shipped rules, as rule_files is not set: set it to yours, or [])"
                raise ConfigError(f"{where}: rules[{index}]: {exc}{hint}") from None
    return compiled
