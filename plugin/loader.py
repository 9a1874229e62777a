"""Load a rule pack: Sigma rules, standard correlations and `aggregate` correlations from YAML files.

pySigma's :class:`~sigma.collection.SigmaCollection` rejects correlation types it does not know, so the
documents are split first: standard rules, filters and correlations are parsed by pySigma, `aggregate`
correlations by :mod:`.aggregate_parser`; references are then resolved by id and by name across every
file. Every problem is reported together, each with its file, line and rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule
from sigma.rule.base import SigmaYAMLLoader

from .aggregate_parser import parse_aggregate, resolve_aggregate
from .errors import AggregateRuleError, RulePackError, in_rule_form, suggestion
from .model import AggregateCorrelationRule
from .okta_schemas import list_of_objects
from .yaml_positions import Document, read_documents

RULE_SUFFIXES = (".yml", ".yaml")
# detection tests beside the rules they test (`sigma-okta test`); never rules themselves
TESTS_SUFFIXES = (".tests.yaml",)  # not .yml: sigma-cli's default file pattern, *.yml, must skip them


@dataclass
class RulePack:
    """Everything a rule set defines, with references resolved.

    ``collection`` holds the base rules, filters and standard correlations (pySigma objects);
    ``aggregates`` the `aggregate` correlations, whose references point into the collection.
    """

    collection: SigmaCollection
    aggregates: list[AggregateCorrelationRule] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def base_rules(self) -> list[SigmaRule]:
        return [rule for rule in self.collection.rules if isinstance(rule, SigmaRule)]

    @property
    def standard_correlations(self) -> list[SigmaCorrelationRule]:
        return [rule for rule in self.collection.rules if isinstance(rule, SigmaCorrelationRule)]

    @property
    def correlations(self) -> list[SigmaCorrelationRule | AggregateCorrelationRule]:
        return [*self.standard_correlations, *self.aggregates]

    def __len__(self) -> int:
        return len(self.collection.rules) + len(self.aggregates)


def bundled_rules_path() -> Path:
    """The folder of the rule pack shipped with sigma-okta (``rules/``, installed as package data)."""
    return Path(__file__).with_name("rules")


def load_bundled() -> RulePack:
    return load_rules([bundled_rules_path()])


def rule_files(paths: Iterable[str | Path]) -> list[Path]:
    """Rule files named by ``paths``: files as given, folders searched recursively (sorted)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.suffix in RULE_SUFFIXES and not p.name.endswith(TESTS_SUFFIXES) and p.is_file()
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            raise RulePackError(
                [AggregateRuleError("no such rule file or folder", source=SigmaRuleLocation(path))]
            )
    # a file named twice (`rules rules`, `rules rules/x.yml`) is read once, not reported as its own duplicate
    unique: list[Path] = []
    seen: set[Path] = set()
    for path in files:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append(path)
    return unique


def load_rules(paths: Sequence[str | Path]) -> RulePack:
    """Load and validate rule files and folders; raises :class:`RulePackError` listing every problem of
    every file at once, each as ``file:line:column: rule 'name': message``."""
    files = rule_files(paths)
    errors: list[SigmaError] = []
    parsed: list[SigmaRule | SigmaCorrelationRule | SigmaFilter] = []
    documents_of: dict[int, Document] = {}
    aggregates: list[tuple[AggregateCorrelationRule, Document]] = []
    for path in files:
        try:
            documents = read_documents(path, SigmaYAMLLoader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            errors.append(
                AggregateRuleError(
                    f"cannot read rules: {_yaml_problem(error)}", source=_yaml_location(path, error)
                )
            )
            continue
        standard = [document for document in documents if not _is_aggregate(document.data)]
        parsed.extend(_parse_standard(path, standard, errors, documents_of))
        for document in documents:
            if _is_aggregate(document.data):
                rule, problems = parse_aggregate(document)
                errors.extend(problems)
                if rule is not None:
                    aggregates.append((rule, document))
    for rule in parsed:
        if isinstance(rule, SigmaRule):
            errors.extend(_condition_problems(rule, documents_of.get(id(rule))))
    every_rule = [*parsed, *(rule for rule, _ in aggregates)]
    _check_unique_identifiers(every_rule, errors)
    known = _identifiers(every_rule)
    for rule in parsed:
        if isinstance(rule, SigmaCorrelationRule):
            errors.extend(_reference_problems(rule, documents_of.get(id(rule)), known))
    # pySigma stops at the first unknown reference: resolve only when every reference is known
    collection = SigmaCollection(init_rules=parsed, resolve_references=not errors)
    if not errors:
        for rule, document in aggregates:
            errors.extend(resolve_aggregate(rule, document, collection))
            errors.extend(_list_member_problems(rule, _correlation_keys(rule)))
        for rule in parsed:
            if isinstance(rule, SigmaCorrelationRule):
                errors.extend(_list_member_problems(rule, _standard_keys(rule)))
    if errors:
        raise RulePackError(errors)
    return RulePack(collection=collection, aggregates=[rule for rule, _ in aggregates], files=files)


def _is_aggregate(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("correlation"), dict)
        and (data["correlation"].get("type") == "aggregate")
    )


def _parse_standard(
    path: Path, documents: list[Document], errors: list[SigmaError], documents_of: dict[int, Document]
) -> list[SigmaRule | SigmaCorrelationRule | SigmaFilter]:
    """Parse Sigma's own documents with pySigma. A file that uses collection actions (`action: global`)
    is parsed as a whole so that pySigma applies them; otherwise each document on its own, so that
    errors carry the document's line."""
    datas = [document.data for document in documents if document.data is not None]
    if not datas:
        return []
    groups: list[tuple[list[Any], SigmaRuleLocation, Document | None]]
    if any(isinstance(data, dict) and "action" in data for data in datas):
        groups = [(datas, SigmaRuleLocation(path), None)]
    else:
        groups = [([d.data], SigmaRuleLocation(path, d.line), d) for d in documents if d.data is not None]
    rules: list[SigmaRule | SigmaCorrelationRule | SigmaFilter] = []
    for group, location, document in groups:
        if not all(isinstance(data, dict) for data in group):
            errors.append(AggregateRuleError("a rule document must be a YAML mapping", source=location))
            continue
        try:
            collection = SigmaCollection.from_dicts(
                group, collect_errors=True, source=location, collect_filters=True, resolve_references=False
            )
        except SigmaError as error:
            errors.append(in_rule_form(error, document, location))
            continue
        errors.extend(in_rule_form(error, document, location) for error in collection.errors)
        if collection.errors:
            continue  # pySigma leaves a rule with errors half-built: checking it further only repeats
        for rule in [*collection.rules, *collection.filters]:
            if document is not None:
                documents_of[id(rule)] = document
            rules.append(rule)
    return rules


def _condition_problems(rule: SigmaRule, document: Document | None) -> list[SigmaError]:
    """pySigma parses conditions only when a rule is converted: parse them now, so that the loader
    reports every file's problems at once."""
    problems: list[SigmaError] = []
    for condition in rule.detection.parsed_condition:
        try:
            condition.parsed  # noqa: B018 -- parsing is the check
        except SigmaError as error:
            problems.append(in_rule_form(error, document, rule.source))
    return problems


def _identifiers(rules: Iterable[Any]) -> set[str]:
    return {str(key) for rule in rules for key in (rule.id, rule.name) if key is not None}


def _reference_problems(
    rule: SigmaCorrelationRule, document: Document | None, known: set[str]
) -> list[SigmaError]:
    problems: list[SigmaError] = []
    for index, reference in enumerate(rule.rules):
        name = str(reference.reference)
        if name not in known:
            where = document.locate(["correlation", "rules", index]) if document else rule.source
            problems.append(
                AggregateRuleError(
                    f"unknown rule '{name}' (no rule has that id or name){suggestion(name, known)}",
                    source=where,
                    rule=rule.name or rule.title,
                )
            )
    return problems


def _check_unique_identifiers(rules: Iterable[Any], errors: list[SigmaError]) -> None:
    seen_ids: dict[UUID, Any] = {}
    seen_names: dict[str, Any] = {}
    for rule in rules:
        for key, seen in ((rule.id, seen_ids), (rule.name, seen_names)):
            if key is None:
                continue
            if key in seen:
                errors.append(
                    AggregateRuleError(
                        f"'{key}' identifies two rules (the other in {seen[key].source})",
                        source=rule.source,
                        rule=rule.name or rule.title,
                    )
                )
            else:
                seen[key] = rule


def _yaml_problem(error: Exception) -> str:
    """A YAML error's own words, without PyYAML's "in '<unicode string>', line 2, column 12" lines."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem:
        return f"{error.context}: {error.problem}" if error.context else error.problem
    return str(error)


def _yaml_location(path: Path, error: Exception) -> SigmaRuleLocation:
    mark = getattr(error, "problem_mark", None)
    if mark is None:
        return SigmaRuleLocation(path)
    return SigmaRuleLocation(path, mark.line + 1, mark.column + 1)


def _correlation_keys(rule: AggregateCorrelationRule) -> list[str]:
    """The event fields an `aggregate` reads as values (group-by, collapse, metric and output fields)."""
    names = [*rule.group_by, *(rule.collapse.fields if rule.collapse else ())]
    names.extend(metric.field for metric in (*rule.metrics, *rule.outputs) if metric.field is not None)
    return [rule.event_field(name, index) for name in names for index in range(len(rule.rules))]


def _standard_keys(rule: SigmaCorrelationRule) -> list[str]:
    names = list(rule.group_by or ())
    if rule.condition is not None and rule.condition.fieldref:
        fieldref = rule.condition.fieldref
        names.extend([fieldref] if isinstance(fieldref, str) else fieldref)
    aliases = {alias.alias: list(alias.mapping.values()) for alias in rule.aliases} if rule.aliases else {}
    return [field for name in names for field in aliases.get(name, [name])]


def _list_member_problems(rule: Any, fields: list[str]) -> list[SigmaError]:
    """A member of a list of objects (``target.displayName``) has one value per element: a detection
    tests any element, but a correlation would need one value per event to group or count by, which
    the model does not define (docs/semantics.md, Members of lists of objects)."""
    members = sorted({field for field in fields if list_of_objects(field) is not None})
    return [
        AggregateRuleError(
            f"'{member}' is a member of the list of objects '{list_of_objects(member)}' (one value per "
            "element): a correlation cannot group or count by it; test it in a base rule or a `where`",
            source=rule.source,
            rule=rule.title,
        )
        for member in members
    ]
