"""Regenerate the settings part of helm/callpulse/values.schema.json from callpulse's own
settings schema (run after changing src/callpulse/config/schema.py):

    PYTHONPATH=src .venv/bin/python scripts/values_schema.py

The script owns `properties.config`, `properties.rules.items` and `$defs`; every other chart
value is described by hand in the same file and left as it is. A test regenerates the file
and fails if the committed one differs.

pydantic describes what a field holds after validation; the chart must accept what callpulse
accepts before it. So durations (a number of seconds or "20s", "1m30s"), shares ("50%") and
the field names of aliased keys are widened here, and string formats callpulse parses more
loosely than JSON Schema's (a maintenance window's naive "2026-11-29T02:00") are dropped.
One difference is kept on purpose: a number or boolean in quotes ("9464", "true"), which
callpulse would coerce, is refused, as values files are YAML and can say what they mean.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from callpulse.config import maintenance_settings as settings_schema_module
from callpulse.config.schema import Settings
from callpulse.core.durations import parse_duration

OUT = Path(__file__).resolve().parents[1] / "helm" / "callpulse" / "values.schema.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

# core.durations.parse_duration's grammar: plain seconds, or number+unit parts ("1m30s").
_NUMBER = r"\d+(\.\d+)?"
DURATION_PATTERN = rf"^\s*({_NUMBER}|({_NUMBER}(ms|s|m|h|d))+)\s*$"
SHARE_PATTERN = rf"^\s*{_NUMBER}%?\s*$"
# pydantic writes constraints it cannot place on a number as its own keywords.
_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}
_NOISE = ("title", "format", "writeOnly")


class _AsWritten(GenerateJsonSchema):
    """The schema of what a settings file may say, not of the parsed values."""

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        inner = super().function_before_schema(schema)
        function = schema["function"].get("function")
        if function is parse_duration:
            return {
                "anyOf": [
                    {"type": "number", "minimum": 0},
                    {"type": "string", "pattern": DURATION_PATTERN},
                ]
            }
        if function is settings_schema_module._share:
            return {"anyOf": [inner, {"type": "string", "pattern": SHARE_PATTERN}]}
        return inner


def _tidy(node: Any) -> Any:
    if isinstance(node, list):
        return [_tidy(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _NOISE and not isinstance(value, dict):
            continue
        if key in _BOUNDS and isinstance(value, int | float):
            # On a duration's anyOf these bind only its number branch, as JSON Schema's
            # numeric keywords ignore strings.
            out[_BOUNDS[key]] = value
            continue
        if key == "default":
            if not isinstance(value, dict):  # a whole section's defaults: config/callpulse.yaml
                out[key] = value
            continue
        out[key] = _tidy(value)
    return out


def _models(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every model reachable from ``root``'s fields, by class name (pydantic's $defs keys)."""
    found: dict[str, type[BaseModel]] = {}

    def visit(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp.__name__ in found:
                return
            found[tp.__name__] = tp
            for field in tp.model_fields.values():
                visit(field.annotation)
        for arg in getattr(tp, "__args__", ()):
            visit(arg)

    visit(root)
    return found


def _field_names_too(defs: dict[str, Any], models: dict[str, type[BaseModel]]) -> None:
    """Models that take a field by name as well as by alias (``for_`` and ``for``) get both."""
    for name, model in models.items():
        if not model.model_config.get("populate_by_name") or name not in defs:
            continue
        props = defs[name]["properties"]
        for field_name, field in model.model_fields.items():
            if field.alias and field.alias != field_name and field.alias in props:
                props[field_name] = props[field.alias]
        # Either spelling satisfies a required aliased field: callpulse still checks it.
        aliased = {f.alias for f in model.model_fields.values() if f.alias}
        required = [key for key in defs[name].get("required", []) if key not in aliased]
        defs[name].pop("required", None)
        if required:
            defs[name]["required"] = required


def _chart_meanings(defs: dict[str, Any]) -> None:
    """Values the chart gives a meaning callpulse does not: an empty external_url is the
    Service's in-cluster URL (templates/_helpers.tpl)."""
    url = defs["AlertingSettings"]["properties"]["external_url"]
    defs["AlertingSettings"]["properties"]["external_url"] = {
        "anyOf": [url, {"const": ""}],
        "description": "empty: the Service's in-cluster URL",
    }


def settings_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The settings' schema (what ``config:`` may hold) and the definitions it refers to."""
    schema = _tidy(Settings.model_json_schema(schema_generator=_AsWritten))
    defs = schema.pop("$defs")
    _field_names_too(defs, _models(Settings))
    _chart_meanings(defs)
    schema["description"] = (
        "callpulse settings (config/callpulse.yaml documents every key); generated from "
        "callpulse's settings schema by scripts/values_schema.py"
    )
    return schema, defs


def generate(current: dict[str, Any]) -> dict[str, Any]:
    """``current`` (the chart's values schema) with its generated parts made anew."""
    config, defs = settings_schema()
    out = {"$schema": DRAFT, **{k: v for k, v in current.items() if k != "$schema"}}
    out["properties"]["config"] = config
    out["properties"]["rules"] = {
        "type": "array",
        "description": "alert rules, as a rule file's rules: list",
        "items": {"$ref": "#/$defs/RuleSettings"},
    }
    out["$defs"] = defs
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def main() -> int:
    current = json.loads(OUT.read_text(encoding="utf-8"))
    OUT.write_text(render(generate(current)), encoding="utf-8")
    print(f"wrote {OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
