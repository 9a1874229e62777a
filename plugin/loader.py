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
from .errors import AggregateRuleError, RulePackError
from .model import AggregateCorrelationRule
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
    """Load and validate rule files and folders; raises :class:`RulePackError` listing every problem."""
    files = rule_files(paths)
    errors: list[SigmaError] = []
    parsed: list[SigmaRule | SigmaCorrelationRule | SigmaFilter] = []
    aggregates: list[tuple[AggregateCorrelationRule, Document]] = []
    for path in files:
        try:
            documents = read_documents(path, SigmaYAMLLoader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            errors.append(
                AggregateRuleError(f"cannot read rules: {error}", source=_yaml_location(path, error))
            )
            continue
        standard = [document for document in documents if not _is_aggregate(document.data)]
        parsed.extend(_parse_standard(path, standard, errors))
        for document in documents:
            if _is_aggregate(document.data):
                rule, problems = parse_aggregate(document)
                errors.extend(problems)
                if rule is not None:
                    aggregates.append((rule, document))
    if errors:
        raise RulePackError(errors)

    _check_unique_identifiers([*parsed, *(rule for rule, _ in aggregates)], errors)
    try:
        collection = SigmaCollection(init_rules=parsed)
    except SigmaError as error:  # an unknown reference in a standard correlation
        errors.append(error)
        collection = SigmaCollection(init_rules=parsed, resolve_references=False)
    for rule, document in aggregates:
        errors.extend(resolve_aggregate(rule, document, collection))
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
    path: Path, documents: list[Document], errors: list[SigmaError]
) -> list[SigmaRule | SigmaCorrelationRule | SigmaFilter]:
    """Parse Sigma's own documents with pySigma. A file that uses collection actions (`action: global`)
    is parsed as a whole so that pySigma applies them; otherwise each document on its own, so that
    errors carry the document's line."""
    datas = [document.data for document in documents if document.data is not None]
    if not datas:
        return []
    groups: list[tuple[list[Any], SigmaRuleLocation]]
    if any(isinstance(data, dict) and "action" in data for data in datas):
        groups = [(datas, SigmaRuleLocation(path))]
    else:
        groups = [([d.data], SigmaRuleLocation(path, d.line)) for d in documents if d.data is not None]
    rules: list[SigmaRule | SigmaCorrelationRule | SigmaFilter] = []
    for group, location in groups:
        if not all(isinstance(data, dict) for data in group):
            errors.append(AggregateRuleError("a rule document must be a YAML mapping", source=location))
            continue
        try:
            collection = SigmaCollection.from_dicts(
                group, collect_errors=True, source=location, collect_filters=True, resolve_references=False
            )
        except SigmaError as error:
            errors.append(error)
            continue
        errors.extend(collection.errors)
        rules.extend(collection.rules)
        rules.extend(collection.filters)
    return rules


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
    if errors:
        raise RulePackError(errors)


def _yaml_location(path: Path, error: Exception) -> SigmaRuleLocation:
    mark = getattr(error, "problem_mark", None)
    if mark is None:
        return SigmaRuleLocation(path)
    return SigmaRuleLocation(path, mark.line + 1, mark.column + 1)
