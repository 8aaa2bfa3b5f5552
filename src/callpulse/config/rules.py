"""Alert rules from the config and its rule files, compiled against the KPI catalogue, and
the settings together with them (:class:`LoadedConfig`)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from callpulse.config.convert import rule_spec
from callpulse.config.errors import ConfigError, describe
from callpulse.config.schema import RuleFile, RuleSettings, Settings
from callpulse.config.yaml import read_yaml
from callpulse.core.rules import Rule, RuleError, compile_rule


@dataclass(frozen=True)
class LoadedConfig:
    """Settings and the rules they name, compiled once: what a load returns and a reload
    swaps. The rules live here rather than on the settings, a mutable model that a cache
    could silently disagree with.

    ``sources``: where the rules came from (the config itself, then each rule file), with
    how many each gave, for what start-up and ``check-config`` say was loaded.
    """

    settings: Settings
    rules: tuple[Rule, ...]
    sources: tuple[tuple[str, int], ...]

    def rules_loaded(self) -> str:
        """The rules loaded, in words: "14 rules: 14 from rules.yaml", so that a config that
        loads none says so."""
        total = len(self.rules)
        if not total:
            files = "rule_files: []" if not self.settings.rule_files else "rule files without rules"
            return f"0 rules ({files}): nothing will page"
        parts = [f"{count} from {where}" for where, count in self.sources if count]
        return f"{total} rule{'s' if total != 1 else ''}: " + ", ".join(parts)


def compile_config(settings: Settings, origin: str = "(config)") -> LoadedConfig:
    """``settings`` with their rules and every rule file's compiled (``origin`` names the
    config's own); raise ConfigError naming the file, the rule and the field."""
    sources = rule_sources(settings, origin)
    return LoadedConfig(
        settings,
        tuple(rule for _, rules in sources for rule in rules),
        tuple((where, len(rules)) for where, rules in sources),
    )


def rule_sources(settings: Settings, origin: str = "(config)") -> list[tuple[str, list[Rule]]]:
    """Each place rules come from (``origin`` for the config's own, then each rule file),
    with its compiled rules."""
    sources: list[tuple[str, list[RuleSettings]]] = [(origin, settings.rules)]
    for path in settings.rule_files:
        try:
            parsed = RuleFile(**read_yaml(path))
        except ValidationError as exc:
            raise ConfigError(describe(exc, str(path), env=False)) from None
        sources.append((str(path), parsed.rules))
    windows = settings.kpi.windows
    # Unset rule_files means the shipped rules, which name windows a changed kpi.windows may
    # not have: an error in them says where they came from.
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
                compiled[-1][1].append(compile_rule(rule_spec(rule), windows))
            except RuleError as exc:
                hint = ""
                if where in unset:
                    hint = " (the shipped rules, as rule_files is not set: set it to yours, or [])"
                raise ConfigError(f"{where}: rules[{index}]: {exc}{hint}") from None
    return compiled
