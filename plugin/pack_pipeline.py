"""A processing pipeline applied to a whole rule pack, for running it on events stored in another schema.

``sigma-okta run -p okta_elastic`` evaluates the pack on events exported from Elastic (``okta.event_type``
where the rules say ``eventType``). pySigma's pipeline rewrites the base rules and the standard
correlations as it does for a conversion; the ``aggregate`` correlations' own fields (group-by, collapse,
metric and output fields, alias targets, ``where`` detections) get the same mapping here, so that one
pipeline means the same renaming for every kind of rule. An aggregate field must map to exactly one
field: a pipeline that maps it to several, or drops it, is refused by name.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaTransformationError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from .errors import for_rule, raise_together
from .loader import RulePack
from .model import AggregateCorrelationRule, Where
from .okta_pipelines import SYSTEM_LOG, aggregate_detection_mapper, aggregate_field_mapper, schema_of
from .okta_schemas import PositiveBehaviorNames, map_field

#: The System Log's own event time and id, mapped through the pipeline to find them in mapped events.
RAW_TIME_FIELD = "published"
RAW_ID_FIELD = "uuid"


@dataclass
class MappedPack:
    """The pack as the pipeline maps it, the fields it maps ``published`` and ``uuid`` to, and the rules an Okta
    schema pipeline did not apply to (they keep the raw field names, which is worth a word to the user)."""

    pack: RulePack
    time_field: str
    id_field: str = RAW_ID_FIELD
    untouched: list[str] = field(default_factory=list)
    #: rules of ``pack`` the pipeline cannot map, with the error (only when asked to keep going)
    refused: list[tuple[Any, SigmaError]] = field(default_factory=list)


def apply_to_pack(pack: RulePack, pipeline: ProcessingPipeline, keep_going: bool = False) -> MappedPack:
    """A copy of ``pack`` with ``pipeline`` applied to every rule. A rule the pipeline cannot map (a
    field its schema lacks) raises a :class:`SigmaError`, every problem of every rule at once; with
    ``keep_going``, such rules are listed in :attr:`MappedPack.refused` instead (``--skip-unsupported``
    then leaves them out, with the correlations over them)."""
    mapped = copy.deepcopy(pack)  # one copy keeps the links from correlations to their rules
    problems: list[tuple[Any, SigmaError]] = []
    untouched: list[str] = []
    renames = schema_of(pipeline) is not None  # a pipeline that only fills placeholders may skip rules
    for rule in mapped.collection.rules:
        if not isinstance(rule, SigmaRule | SigmaCorrelationRule):
            continue
        try:
            pipeline.apply(rule)
        except SigmaError as error:
            problems.append((rule, for_rule(error, rule)))
            continue
        if renames and not any(pipeline.applied):
            untouched.append(rule.name or rule.title)
    for aggregate in mapped.aggregates:
        try:
            _map_aggregate(aggregate, pipeline)
        except SigmaError as error:
            problems.append((aggregate, for_rule(error, aggregate)))
    if not keep_going:
        raise_together([error for _, error in problems])
    to_event = aggregate_field_mapper(pipeline)
    return MappedPack(mapped, to_event(RAW_TIME_FIELD), _or_raw(to_event, RAW_ID_FIELD), untouched, problems)


def _or_raw(to_event, name: str) -> str:
    """Where the schema keeps ``name``, or ``name`` itself when it does not (alerts then have no id)."""
    try:
        return to_event(name)
    except SigmaError:
        return name


def _refuse_multivalued_collapse(rule: AggregateCorrelationRule, pipeline: ProcessingPipeline) -> None:
    """A collapse keys its rows by the texts of its fields and a `where` then reads those texts: sound
    for Okta's own scalar values, not for a field the schema stores as a list of some of its parts."""
    schema = schema_of(pipeline)
    if schema is None or rule.collapse is None:
        return
    for name in rule.collapse.fields:
        raw = rule.event_field(name, 0)
        if isinstance(schema.value_mappings.get(raw), PositiveBehaviorNames):
            raise SigmaTransformationError(
                f"collapse field '{raw}' is stored by {schema.id} as the multi-valued field "
                f"'{map_field(schema, raw)}' (the names of the positive behaviors), and the engine collapses "
                "rows by their texts: run this rule on raw System Log events, or convert it "
                f"(`sigma-okta convert -t esql -p {schema.id}`)"
            )


def _map_aggregate(rule: AggregateCorrelationRule, pipeline: ProcessingPipeline) -> None:
    """Map the event fields an aggregate reads, in place; alias names stay (the rule's own names)."""
    logsource = rule.referenced_rules[0].logsource if rule.rules else SYSTEM_LOG
    _refuse_multivalued_collapse(rule, pipeline)
    to_event = aggregate_field_mapper(pipeline, logsource)
    to_where = aggregate_detection_mapper(pipeline, logsource)
    aliases = rule.aliases.aliases

    def mapped(name: str) -> str:
        return name if name in aliases else to_event(name)

    for alias in aliases.values():
        alias.mapping = {reference: to_event(name) for reference, name in alias.mapping.items()}
    rule.group_by = [mapped(name) for name in rule.group_by]
    if rule.collapse is not None:
        rule.collapse = dataclasses.replace(
            rule.collapse, fields=tuple(mapped(name) for name in rule.collapse.fields)
        )
    for metric in (*rule.metrics, *rule.outputs):
        if metric.field is not None:
            metric.field = mapped(metric.field)
        if metric.where is not None:
            metric.where = Where(to_where(metric.where.detection), metric.where.definition)
