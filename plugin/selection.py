"""Which rules of a pack to run or convert: those whose logsource is Okta's System Log, narrowed by
name, tag and level, with what each correlation reads kept and what depends on a dropped rule dropped.

A folder of rules may hold rules for other log sources (a SigmaHQ checkout does): run on Okta events
they would match on field names that mean something else, and converted with an Okta pipeline they
would lose their scope. So they are left out, each with a reason said to the user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaLevel, SigmaRule

from .loader import RulePack
from .model import AggregateCorrelationRule

OKTA = "okta"
LEVELS = {level.name.lower(): level for level in SigmaLevel}

AnyRule = SigmaRule | SigmaCorrelationRule | AggregateCorrelationRule


@dataclass(frozen=True)
class Skipped:
    """A rule left out of a run, and why (one line for stderr)."""

    title: str
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: rule '{self.title}' skipped: {self.reason}"


@dataclass(frozen=True)
class Selection:
    """What to keep: ``names`` (rule names, ids or titles), ``tags`` (any of them, e.g. attack.t1621),
    ``min_level``; ``all_logsources`` keeps rules written for other log sources."""

    names: Sequence[str] = ()
    tags: Sequence[str] = ()
    min_level: SigmaLevel | None = None
    all_logsources: bool = False
    #: rules to leave out, by ``id()`` of the rule objects of the pack being selected, with the reason
    #: (the engine's refusals under ``--skip-unsupported``); correlations over them go too
    refused: Mapping[int, str] = field(default_factory=dict)

    @property
    def narrows(self) -> bool:
        return bool(self.names or self.tags or self.min_level)


@dataclass
class Selected:
    pack: RulePack
    skipped: list[Skipped] = field(default_factory=list)
    unknown_names: list[str] = field(default_factory=list)  # --rule values no rule answers to
    known_names: list[str] = field(default_factory=list)  # what they could have been (for suggestions)


def logsource_problem(rule: SigmaRule) -> str | None:
    """Why a base rule's logsource is not Okta's System Log, or None when it is (product and service
    okta, either one alone, or no logsource at all)."""
    from .risk_stream import reads_risk_stream  # risk_stream imports this module

    if reads_risk_stream(rule):
        return None  # the risk stream of the other rules' alerts (plugin/risk_stream.py)
    source = rule.logsource
    named = {"product": source.product, "service": source.service}
    foreign = {key: value for key, value in named.items() if value and value.lower() != OKTA}
    if source.category:
        foreign["category"] = source.category  # Sigma's taxonomy has no category for the System Log
    if not foreign:
        return None
    spelled = ", ".join(f"{key}: {value}" for key, value in foreign.items())
    return f"logsource {spelled} is not Okta's System Log (--all-logsources runs it anyway)"


def select_rules(pack: RulePack, selection: Selection) -> Selected:
    """The part of ``pack`` that ``selection`` keeps, and the rules it left out with their reasons."""
    rules: list[AnyRule] = [*pack.collection.rules, *pack.aggregates]
    skipped: dict[int, str] = dict(selection.refused)
    if not selection.all_logsources:
        for rule in pack.base_rules:
            problem = logsource_problem(rule)
            if problem is not None and id(rule) not in skipped:
                skipped[id(rule)] = problem
    # a correlation over a left-out rule cannot be evaluated (correlations may refer to correlations)
    changed = True
    while changed:
        changed = False
        for rule in rules:
            if id(rule) in skipped or isinstance(rule, SigmaRule):
                continue
            missing = [ref for ref in references_of(rule) if id(ref) in skipped]
            if missing:
                skipped[id(rule)] = f"it correlates rule '{missing[0].title}', which is skipped"
                changed = True

    kept = [rule for rule in rules if id(rule) not in skipped]
    if selection.narrows:
        wanted = [rule for rule in kept if _wanted(rule, selection)]
        needed = _with_references(wanted)
        for rule in kept:
            if id(rule) not in needed:
                skipped[id(rule)] = "not selected"
            elif rule not in wanted and isinstance(rule, SigmaRule):
                rule._output = False  # read by a selected correlation, not selected itself: no alerts
        kept = [rule for rule in kept if id(rule) in needed]
        correlated = {id(ref) for rule in kept for ref in references_of(rule)}
        for rule in wanted:
            if isinstance(rule, SigmaRule) and id(rule) not in correlated:
                rule._output = True  # selected on its own: its correlation is not run, its matches are alerts

    collection = SigmaCollection(
        init_rules=[rule for rule in kept if not isinstance(rule, AggregateCorrelationRule)],
        resolve_references=False,  # already resolved: the kept rules are the loaded objects
    )
    selected = replace(
        pack,
        collection=collection,
        aggregates=[rule for rule in kept if isinstance(rule, AggregateCorrelationRule)],
    )
    reasons = [
        Skipped(rule.title, _where(rule), skipped[id(rule)])
        for rule in rules
        if id(rule) in skipped and skipped[id(rule)] != "not selected"
    ]
    known = {spelling for rule in rules for spelling in _spellings(rule) if spelling}
    unknown = [name for name in selection.names if name not in known]
    return Selected(selected, reasons, unknown, sorted(known))


def references_of(rule: AnyRule) -> list[AnyRule]:
    """The rules a correlation reads (none for a base rule)."""
    if isinstance(rule, AggregateCorrelationRule):
        return list(rule.referenced_rules)
    if isinstance(rule, SigmaCorrelationRule):
        return [reference.rule for reference in rule.rules]
    return []


def _with_references(rules: list[AnyRule]) -> set[int]:
    needed: set[int] = set()
    pending = list(rules)
    while pending:
        rule = pending.pop()
        if id(rule) not in needed:
            needed.add(id(rule))
            pending.extend(references_of(rule))
    return needed


def _wanted(rule: AnyRule, selection: Selection) -> bool:
    if selection.names and not _spellings(rule) & set(selection.names):
        return False
    if selection.tags:
        tags = {str(tag).lower() for tag in rule.tags}
        if not tags & {tag.lower() for tag in selection.tags}:
            return False
    below = selection.min_level is not None and (
        rule.level is None or rule.level.value < selection.min_level.value
    )
    return not below


def _spellings(rule: AnyRule) -> set[str | None]:
    return {str(rule.id) if rule.id else None, rule.name, rule.title}


def _where(rule: AnyRule) -> str:
    source = rule.source
    if source is None or source.path is None:
        return "<rules>"
    return str(Path(source.path))


__all__ = ["LEVELS", "Selected", "Selection", "Skipped", "logsource_problem", "references_of", "select_rules"]
