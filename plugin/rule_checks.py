"""pySigma's own rule validators (the checks SigmaHQ applies to its rules), run on a rule pack beside
sigma-okta's `aggregate` checks, one validator at a time so that one that cannot run does not stop
the others.

Two of them need data from the network: ``attacktag`` and ``d3fend``-style tag checks download MITRE's
catalogues on first use. Offline, they are reported as skipped with the reason, unless a local copy is
given (``validate --attack-data FILE``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sigma.exceptions import SigmaRuleLocation

from .loader import RulePack


@dataclass(frozen=True)
class RuleIssue:
    check: str  # the validator's identifier, e.g. "attacktag"
    severity: str  # high, medium, low, informational
    message: str
    location: SigmaRuleLocation | None
    rule: Any

    def __str__(self) -> str:
        where = ""
        if self.location is not None and self.location.path is not None:
            where = f"{self.location.path}" + (f":{self.location.line}" if self.location.line else "") + ": "
        label = f"rule '{self.rule.name or self.rule.title}': " if self.rule is not None else ""
        return f"{where}{label}{self.message} [{self.check}, {self.severity}]"


def validator_names() -> list[str]:
    return sorted(_validators())


def _validators() -> dict[str, type]:
    from sigma.plugins import InstalledSigmaPlugins

    return InstalledSigmaPlugins.autodiscover().validators


def run_pysigma_checks(
    pack: RulePack, disabled: Iterable[str] = (), attack_data: str | None = None
) -> tuple[list[RuleIssue], list[str]]:
    """The issues pySigma's validators find in the pack's base rules and standard correlations, and
    the validators that could not run (with why). Unknown names in ``disabled`` raise ValueError."""
    validators = _validators()
    unknown = sorted(set(disabled) - set(validators))
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(unknown)} (checks: {', '.join(sorted(validators))})")
    if attack_data is not None:
        from sigma.data import mitre_attack

        mitre_attack.set_url(attack_data)
    rules = list(pack.collection.rules)
    issues: list[RuleIssue] = []
    skipped: list[str] = []
    for name, validator_class in sorted(validators.items()):
        if name in disabled:
            continue
        try:
            validator = validator_class()
            found = [issue for rule in rules for issue in validator.validate(rule)] + validator.finalize()
        except Exception as error:  # a validator that needs what is missing here (e.g. the network)
            skipped.append(f"{name}: {error}")
            continue
        for issue in found:
            for rule in issue.rules or [None]:
                issues.append(
                    RuleIssue(
                        name,
                        str(issue.severity.name).lower(),
                        _issue_text(issue),
                        getattr(rule, "source", None),
                        rule,
                    )
                )
    return issues, skipped


def _issue_text(issue: Any) -> str:
    """The issue's description and its own fields (pySigma renders them into __str__ with the rules)."""
    from dataclasses import fields

    extra = [
        f"{field.name}={getattr(issue, field.name)!s}"
        for field in fields(issue)
        if field.name not in ("rules", "severity", "description")
    ]
    return issue.description + (f" ({', '.join(extra)})" if extra else "")
