"""Errors of the rule pack: each names the file, line, column and rule it concerns."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sigma.exceptions import SigmaError, SigmaRuleLocation

if TYPE_CHECKING:
    from .yaml_positions import Document

_UNKNOWN_MODIFIER = re.compile(r"Unknown modifier '([^']*)'")
_UNDEFINED_DETECTION = re.compile(r"Detection '([^']*)' not defined")


class AggregateRuleError(SigmaError):
    """A problem in one rule: ``path:line:column: rule 'name': message``."""

    def __init__(self, message: str, *, source: SigmaRuleLocation | None = None, rule: str | None = None):
        super().__init__(message, source=source)
        self.message = message
        self.rule = rule

    def __str__(self) -> str:
        parts = []
        if self.source is not None:
            location = str(self.source.path)
            if self.source.line is not None:
                location += f":{self.source.line}"
                if self.source.char is not None:
                    location += f":{self.source.char}"
            parts.append(location)
        if self.rule:
            parts.append(f"rule '{self.rule}'")
        parts.append(self.message)
        return ": ".join(parts)


class RulePackError(SigmaError):
    """Every problem found while loading a set of rule files, reported together."""

    def __init__(self, errors: list[SigmaError]):
        super().__init__(f"{len(errors)} problem(s) in the rules")
        self.errors = errors

    def __str__(self) -> str:
        lines = [f"{len(self.errors)} problem(s) in the rules:"]
        lines.extend(f"  {error}" for error in self.errors)
        return "\n".join(lines)


def raise_together(problems: list[SigmaError]) -> None:
    """Raise the problems found over several rules: one as itself (its type kept), several at once."""
    if len(problems) > 1:
        raise RulePackError(problems)
    if problems:
        raise problems[0]


def suggestion(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or nothing."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def in_rule_form(
    error: SigmaError, document: Document | None, location: SigmaRuleLocation | None
) -> AggregateRuleError:
    """A pySigma error as ``file:line:column: rule 'name': message``: its own message (without the
    location pySigma appends), the line of the key it is about where that can be found in the YAML,
    and a suggestion for a near-miss modifier or detection name."""
    if isinstance(error, AggregateRuleError):
        return error
    message = str(error.args[0]) if error.args else type(error).__name__
    data: Any = document.data if document is not None else None
    title = data.get("name") or data.get("title") if isinstance(data, dict) else None
    source = location if location is not None else error.source
    detection = data.get("detection") if isinstance(data, dict) else None
    if document is not None and isinstance(detection, dict):
        modifier = _UNKNOWN_MODIFIER.search(message)
        undefined = _UNDEFINED_DETECTION.search(message)
        if modifier:
            from sigma.modifiers import modifier_mapping

            message += suggestion(modifier.group(1), modifier_mapping)
            keys = _key_with_modifier(detection, modifier.group(1))
            if keys is not None:
                source = document.locate(["detection", *keys], key=True)
        elif undefined:
            names = [name for name in detection if name not in ("condition", "timeframe")]
            message += suggestion(undefined.group(1), names)
            source = document.locate(["detection", "condition"])
    return AggregateRuleError(message, source=source, rule=title)


def for_rule(error: SigmaError, rule: Any) -> AggregateRuleError:
    """An error met while processing ``rule`` (converting or mapping it) in the loader's form, naming the
    rule: pySigma's own errors name none."""
    if isinstance(error, AggregateRuleError):
        if error.rule is None:
            error.rule = rule.name or rule.title
        return error
    located = in_rule_form(error, None, error.source or rule.source)
    located.rule = rule.name or rule.title
    return located


def _key_with_modifier(detection: dict, modifier: str) -> list[str | int] | None:
    """The path, inside ``detection``, of the first field key that uses ``modifier``."""

    def search(value: Any, path: list[str | int]) -> list[str | int] | None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and modifier in key.split("|")[1:]:
                    return [*path, key]
                found = search(item, [*path, key])
                if found is not None:
                    return found
        elif isinstance(value, list):
            for index, item in enumerate(value):
                found = search(item, [*path, index])
                if found is not None:
                    return found
        return None

    return search(detection, [])
