"""Errors of the rule pack: each names the file, line, column and rule it concerns."""

from __future__ import annotations

from sigma.exceptions import SigmaError, SigmaRuleLocation


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
