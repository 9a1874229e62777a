"""Parse and validate one `aggregate` correlation document into :class:`~.model.AggregateCorrelationRule`.

Validation runs in two steps: :func:`parse_aggregate` checks the document on its own (JSON Schema,
Sigma metadata, modifiers, timespans, the expressions and their types, the collapse's fields), and
:func:`resolve_aggregate` checks it against the other rules (references by id or name). Every error
names the file, line, column and rule.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sigma.collection import SigmaCollection
from sigma.correlations import (
    SigmaCorrelationFieldAliases,
    SigmaCorrelationTimespan,
    SigmaRuleReference,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetection, SigmaRule

from .errors import AggregateRuleError
from .expression import ExpressionError, ValueType, parse, type_of
from .model import AggregateCorrelationRule, Collapse, Derived, Metric, MetricKind, Where, detection_fields
from .yaml_positions import Document

if TYPE_CHECKING:
    import jsonschema

SCHEMA_RESOURCE = "aggregate-correlation.schema.json"


def aggregate_schema() -> dict[str, Any]:
    """The JSON Schema of an `aggregate` document (package data)."""
    return json.loads(importlib.resources.files(__package__).joinpath(SCHEMA_RESOURCE).read_text())


@functools.cache
def schema_validator() -> jsonschema.protocols.Validator:
    """The documents' validator, built once per process and only when a document is parsed (jsonschema
    costs ~50 ms to import). The schema itself is checked against its metaschema by a test
    (tests/plugin/test_aggregate_schema.py), not on every run."""
    import jsonschema

    schema = aggregate_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


class _Problems:
    """Collects errors of one document, each located by its key path."""

    def __init__(self, document: Document, rule_name: str | None):
        self.document = document
        self.rule_name = rule_name
        self.errors: list[SigmaError] = []

    def add(self, message: str, *keys: str | int) -> None:
        self.errors.append(
            AggregateRuleError(message, source=self.document.locate(keys), rule=self.rule_name)
        )

    def add_sigma(self, error: SigmaError, *keys: str | int) -> None:
        message = error.args[0] if error.args else str(error)
        self.add(str(message), *keys)


def parse_aggregate(document: Document) -> tuple[AggregateCorrelationRule | None, list[SigmaError]]:
    data = document.data
    problems = _Problems(document, _rule_label(data))
    for error in sorted(schema_validator().iter_errors(_jsonable(data)), key=lambda e: list(e.absolute_path)):
        path = list(error.absolute_path)
        where = ".".join(str(part) for part in path) or "document"
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            # point at the first unexpected key rather than at its parent
            expected = error.schema.get("properties", {})
            path.extend(key for key in error.instance if key not in expected)
        problems.add(f"{where}: {error.message}", *path[: len(error.absolute_path) + 1])
    if problems.errors:
        return None, problems.errors

    kwargs, common_errors = AggregateCorrelationRule.from_dict_common_params(
        data, collect_errors=True, source=document.locate(())
    )
    for error in common_errors:
        problems.add_sigma(error)
    kwargs["custom_attributes"].pop("correlation", None)
    window = data.get("window", "tumbling")
    if window != "tumbling":
        # never a silently tumbling rule: sliding windows are for Sigma's standard types only
        problems.add(
            f"`window: {window}`: an aggregate correlation has tumbling windows only (its collapse buckets "
            "nest in them); `window: sliding` is for Sigma's standard correlation types",
            "window",
        )
    correlation = data["correlation"]

    rules = [SigmaRuleReference(reference) for reference in _as_list(correlation["rules"])]
    references = [reference.reference for reference in rules]
    group_by = _as_list(correlation.get("group-by", []))
    timespan = _timespan(correlation["timespan"], problems, "correlation", "timespan")
    aliases = SigmaCorrelationFieldAliases.from_dict(correlation.get("aliases", {}))
    for alias in aliases:
        for reference in alias.mapping:
            if reference.reference not in references:
                problems.add(
                    f"alias '{alias.alias}' maps rule '{reference.reference}', which is not in `rules`",
                    "correlation",
                    "aliases",
                    alias.alias,
                )

    collapse = _collapse(correlation.get("collapse"), timespan, problems)
    metrics = [
        _metric(name, spec, references, problems, "metrics") for name, spec in correlation["metrics"].items()
    ]
    outputs = [
        _metric(
            name,
            {"type": "values", "field": spec} if isinstance(spec, str) else {"type": "values", **spec},
            references,
            problems,
            "fields",
        )
        for name, spec in correlation.get("fields", {}).items()
    ]
    symbols = {metric.name: metric.kind.value_type for metric in metrics}
    derived = _derived(correlation.get("derived", {}), symbols, problems)
    condition = None
    try:
        condition = parse(correlation["condition"])
        if type_of(condition, symbols) is not ValueType.BOOLEAN:
            raise ExpressionError("the condition must be true or false, not a number", 0)
    except ExpressionError as error:
        problems.add(
            f"condition: {error.message}\n{error.pointer(correlation['condition'])}",
            "correlation",
            "condition",
        )

    rule = AggregateCorrelationRule(
        rules=rules,
        group_by=group_by,
        group_missing=correlation.get("group-by-missing", "NULL"),
        timespan=timespan,
        aliases=aliases,
        generate=correlation.get("generate", False),
        collapse=collapse,
        metrics=metrics,
        derived=derived,
        condition=condition,
        condition_text=correlation["condition"],
        outputs=outputs,
        **kwargs,
    )
    _check_collapse_keeps_fields(rule, problems)
    _check_risk(data, outputs, problems)
    return (None if problems.errors else rule), problems.errors


def resolve_aggregate(
    rule: AggregateCorrelationRule, document: Document, collection: SigmaCollection
) -> list[SigmaError]:
    """Resolve ``rules`` by id or name into the base rules of ``collection``; normalise the metrics'
    and aliases' rule references to the reference as written in ``rules``."""
    problems = _Problems(document, rule.name or rule.title)
    for index, reference in enumerate(rule.rules):
        target = _lookup(collection, reference.reference)
        if target is None:
            problems.add(
                f"unknown rule '{reference.reference}' (no rule has that id or name)",
                "correlation",
                "rules",
                index,
            )
        elif not isinstance(target, SigmaRule):
            problems.add(
                f"'{reference.reference}' is a correlation; `aggregate` aggregates Sigma rules only",
                "correlation",
                "rules",
                index,
            )
        else:
            reference.rule = target
    if problems.errors:
        return problems.errors

    def canonical(written: str) -> str:
        target = _lookup(collection, written)
        for reference in rule.rules:
            if reference.rule is target:
                return reference.reference
        return written  # parse_aggregate already reported it

    for metric in (*rule.metrics, *rule.outputs):
        if metric.rule is not None:
            metric.rule = canonical(metric.rule)
    for alias in rule.aliases:
        alias.mapping = {
            SigmaRuleReference(canonical(ref.reference)): name for ref, name in alias.mapping.items()
        }
    for base_rule in rule.referenced_rules:
        base_rule.add_backreference(rule)
        if not rule.generate:
            base_rule.disable_output()
    return problems.errors


def _lookup(collection: SigmaCollection, reference: str) -> Any:
    try:
        return collection.ids_to_rules[UUID(reference)]
    except (ValueError, KeyError):
        return collection.names_to_rules.get(reference)


def _metric(
    name: str, spec: dict[str, Any], references: Sequence[str], problems: _Problems, section: str
) -> Metric:
    keys = ("correlation", section, name)
    rule = spec.get("rule")
    if rule is not None and rule not in references:
        problems.add(
            f"{section[:-1]} '{name}' is restricted to rule '{rule}', which is not in `rules` "
            f"({', '.join(references)})",
            *keys,
            "rule",
        )
    where = None
    if "where" in spec:
        try:
            where = Where(
                SigmaDetection.from_definition(spec["where"], source=problems.document.locate(keys)),
                dict(spec["where"]),
            )
        except SigmaError as error:
            problems.add_sigma(error, *keys, "where")
    return Metric(name=name, kind=MetricKind(spec["type"]), field=spec.get("field"), rule=rule, where=where)


def _derived(
    definitions: dict[str, str], symbols: dict[str, ValueType], problems: _Problems
) -> list[Derived]:
    derived: list[Derived] = []
    for name, text in definitions.items():
        if name in symbols:
            problems.add(
                f"'{name}' is defined twice (as a metric and a derived value)", "correlation", "derived", name
            )
            continue
        try:
            expression = parse(text)
            value_type = type_of(expression, symbols)
        except ExpressionError as error:
            problems.add(
                f"derived '{name}': {error.message}\n{error.pointer(text)}", "correlation", "derived", name
            )
            symbols[name] = ValueType.NUMBER  # known, so that its users are not reported as well
            continue
        symbols[name] = value_type  # later derived values and the condition may use it
        derived.append(Derived(name, expression, text, value_type))
    return derived


def _collapse(
    spec: dict[str, Any] | None, timespan: SigmaCorrelationTimespan | None, problems: _Problems
) -> Collapse | None:
    if spec is None:
        return None
    span = _timespan(spec["span"], problems, "correlation", "collapse", "span")
    if span is None:
        return None
    if timespan is not None and timespan.seconds % span.seconds:
        problems.add(
            f"collapse span {span.spec} must divide the timespan {timespan.spec} "
            "so that every bucket lies inside one window",
            "correlation",
            "collapse",
            "span",
        )
    return Collapse(span=span, fields=tuple(spec["fields"]), missing=spec.get("missing", "NULL"))


def _check_collapse_keeps_fields(rule: AggregateCorrelationRule, problems: _Problems) -> None:
    """After a collapse only the collapse fields (and the group-by) remain, as after Splunk's `stats ... by`."""
    if rule.collapse is None:
        return
    kept = set(rule.collapse.fields) | set(rule.group_by)
    for section, metrics in (("metrics", rule.metrics), ("fields", rule.outputs)):
        for metric in metrics:
            used = [metric.field] if metric.field else []
            if metric.where is not None:
                used.extend(detection_fields(metric.where.detection))
            for name in used:
                if name not in kept:
                    problems.add(
                        f"'{metric.name}' reads '{name}', which the collapse does not keep: "
                        "add it to collapse.fields",
                        "correlation",
                        section,
                        metric.name,
                    )


def _check_risk(data: dict[str, Any], outputs: list[Metric], problems: _Problems) -> None:
    risk = data.get("risk")
    if risk is not None and risk["object"] not in {output.name for output in outputs}:
        problems.add(f"risk object '{risk['object']}' is not one of the output `fields`", "risk", "object")


def _timespan(spec: str, problems: _Problems, *keys: str) -> SigmaCorrelationTimespan | None:
    try:
        return SigmaCorrelationTimespan(spec)
    except SigmaError as error:
        problems.add_sigma(error, *keys)
        return None


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _rule_label(data: Any) -> str | None:
    if isinstance(data, dict):
        return data.get("name") or data.get("title")
    return None


def _jsonable(value: Any) -> Any:
    """YAML gives dates and datetimes; JSON Schema validates strings."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
