"""pySigma processing pipelines from raw Okta System Log paths to each SIEM's schema.

One pipeline per :class:`~.okta_schemas.OktaSchema`. For rules whose log source is ``product: okta``
each pipeline

1. rewrites the values of fields whose target stores a transformed value (Elastic's behaviors, OCSF's
   status, boolean columns) and rejects every use of them that the stored form cannot answer,
2. maps field names (detection items, field references, the rule's ``fields``, a standard
   correlation's ``group-by`` and aliases) and raises :class:`~.okta_schemas.UnmappedFieldError` for a
   path the schema lacks,
3. records the schema in the per-rule processing state (``okta_schema``, plus ``index`` for ES|QL and
   ``query_table`` for KQL, the keys pySigma's Elasticsearch and Kusto backends read).

The schema is also recorded in ``pipeline.vars``, which pySigma merges when pipelines are added, so
:func:`schema_of` finds it on a backend's combined pipeline. The ``aggregate`` correlation's own fields
are outside pySigma's reach: :func:`aggregate_field_mapper` and :func:`aggregate_detection_mapper` apply
the same mapping to them.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaTransformationError
from sigma.modifiers import (
    SigmaAllModifier,
    SigmaContainsModifier,
    SigmaExistsModifier,
    reverse_modifier_mapping,
)
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation, SetStateTransformation
from sigma.processing.transformations.base import DetectionItemTransformation
from sigma.rule import (
    SigmaDetection,
    SigmaDetectionItem,
    SigmaDetections,
    SigmaLogSource,
    SigmaRule,
)
from sigma.types import SigmaBool, SigmaExists, SigmaNull, SigmaString, SigmaType, SpecialChars

from .okta_schemas import (
    EnumValues,
    OktaSchema,
    PositiveBehaviorNames,
    UnmappedFieldError,
    UnmappedValueError,
    get_schema,
    map_field,
)

#: Key of the schema id in ``ProcessingPipeline.vars`` and in the per-rule processing state.
OKTA_SCHEMA_VAR = "okta_schema"

_POSITIVE_SUFFIX = "=POSITIVE"
_BOOLEAN_TEXTS = {"true": True, "false": False}

#: The per-rule processing state keys that pySigma's own backends read for the query source.
_QUERY_SOURCE_STATE = {
    "okta_elastic": "index",
    "okta_sentinel": "query_table",
    "okta_sentinel_legacy": "query_table",
}


def _okta_rules() -> list[LogsourceCondition]:
    # SigmaHQ's Okta rules say product: okta, service: okta; matching on the product alone also takes
    # rules that omit the service. Correlations match through their referenced rules.
    return [LogsourceCondition(product="okta")]


def _describe(item: SigmaDetectionItem) -> str:
    """The detection item as a rule writes it: ``field|modifier: 'value'``."""
    modifiers = "".join(
        "|" + reverse_modifier_mapping.get(modifier.__name__, modifier.__name__)
        for modifier in item.modifiers
    )
    values = item.original_value if item.original_value is not None else item.value
    shown = [_value_text(value) for value in values]
    return f"{item.field}{modifiers}: " + (shown[0] if len(shown) == 1 else "[" + ", ".join(shown) + "]")


def _value_text(value: SigmaType) -> str:
    if isinstance(value, SigmaString):
        return f"'{value}'"
    if isinstance(value, SigmaNull):
        return "null"
    if isinstance(value, SigmaBool):
        return "true" if value.boolean else "false"
    return str(value)


def _plain_text(value: SigmaString) -> str | None:
    """The text of a string without wildcards or placeholders, else None."""
    if value.contains_special():
        return None
    return "".join(part for part in value.s if isinstance(part, str))


@dataclass
class OktaValueMappingTransformation(DetectionItemTransformation):
    """Rewrite the values of raw fields whose target stores a transformed value, or raise
    :class:`UnmappedValueError` naming the construct the target cannot express.

    Runs before the field mapping and leaves the field name raw, so that names are mapped in one
    place. Fields that need no value change are left alone.
    """

    schema_id: str

    @property
    def schema(self) -> OktaSchema:
        return get_schema(self.schema_id)

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> SigmaDetectionItem | None:
        schema = self.schema
        raw = detection_item.field
        if raw is None:
            return None
        mapping = schema.value_mappings.get(raw)
        if isinstance(mapping, PositiveBehaviorNames):
            self._map_positive_behaviors(detection_item, schema, raw)
        elif isinstance(mapping, EnumValues):
            self._map_enum(detection_item, schema, mapping)
        elif raw in schema.boolean_fields:
            self._map_booleans(detection_item, schema)
        else:
            return None
        return detection_item

    def _fail(self, item: SigmaDetectionItem, schema: OktaSchema, why: str) -> UnmappedValueError:
        return UnmappedValueError(
            f"schema '{schema.id}' cannot express `{_describe(item)}`: {why}",
            field=item.field,
            schema=schema.id,
            source=item.source,
        )

    def _map_positive_behaviors(self, item: SigmaDetectionItem, schema: OktaSchema, raw: str) -> None:
        why = (
            f"the target keeps only the names of POSITIVE behaviors ({map_field(schema, raw)}); the only "
            f"supported form is `{raw}|contains: '<behavior name>=POSITIVE'` (a list, or |contains|all, of them)"
        )
        if SigmaContainsModifier not in item.modifiers or not set(item.modifiers) <= {
            SigmaContainsModifier,
            SigmaAllModifier,
        }:
            raise self._fail(item, schema, why)
        names: list[SigmaType] = []
        for value in item.value:
            # contains wrapped the value in wildcards; what they enclose must be plain text.
            if not (
                isinstance(value, SigmaString)
                and value.startswith(SpecialChars.WILDCARD_MULTI)
                and value.endswith(SpecialChars.WILDCARD_MULTI)
            ):
                raise self._fail(item, schema, why)
            inner = value[1 : len(value) - 1]
            text = _plain_text(inner)
            # Sigma's contains is case-insensitive, so '=positive' reads Okta's '=POSITIVE' as well.
            if text is None or not text.upper().endswith(_POSITIVE_SUFFIX):
                raise self._fail(item, schema, why)
            name = text[: -len(_POSITIVE_SUFFIX)]
            # One whole behavior: a name that does not reach into the neighbouring 'Name=VALUE' pairs.
            if not name.strip() or any(separator in name for separator in "=,{}"):
                raise self._fail(item, schema, why)
            names.append(inner[: len(inner) - len(_POSITIVE_SUFFIX)])
        item.modifiers = []
        item.value = names

    def _map_enum(self, item: SigmaDetectionItem, schema: OktaSchema, mapping: EnumValues) -> None:
        by_folded = {raw.casefold(): target for raw, target in mapping.values.items()}
        why = (
            f"the target stores a translation of the value; only equality with "
            f"{', '.join(mapping.values)} can be expressed"
        )
        if item.modifiers:
            raise self._fail(item, schema, why)
        translated: list[SigmaType] = []
        for value in item.value:
            if isinstance(value, SigmaNull):  # a missing value is missing in the translation too
                translated.append(value)
                continue
            text = _plain_text(value) if isinstance(value, SigmaString) else None
            if text is None or text.casefold() not in by_folded:
                raise self._fail(item, schema, why)
            translated.append(SigmaString(by_folded[text.casefold()]))
        item.value = translated

    def _map_booleans(self, item: SigmaDetectionItem, schema: OktaSchema) -> None:
        why = "the target column is boolean; only true, false, null or |exists can be expressed"
        if item.modifiers == [SigmaExistsModifier]:
            return
        if item.modifiers:
            raise self._fail(item, schema, why)
        converted: list[SigmaType] = []
        for value in item.value:
            if isinstance(value, (SigmaBool, SigmaNull, SigmaExists)):
                converted.append(value)
                continue
            text = _plain_text(value) if isinstance(value, SigmaString) else None
            if text is None or text.lower() not in _BOOLEAN_TEXTS:
                raise self._fail(item, schema, why)
            converted.append(SigmaBool(_BOOLEAN_TEXTS[text.lower()]))
        item.value = converted


@dataclass
class OktaFieldMappingTransformation(FieldMappingTransformation):
    """pySigma's field mapping, driven by :func:`~.okta_schemas.map_field`: exact fields, prefixes and
    pass-through alike, raising :class:`UnmappedFieldError` for a path the schema lacks. ``mapping``
    holds the exact fields, for display."""

    schema_id: str = ""

    def apply_field_name(self, field: str | None) -> str | list[str] | None:
        schema = get_schema(self.schema_id)
        if field is None:
            if schema.passthrough:
                return None
            raise UnmappedFieldError(
                f"schema '{schema.id}' has no field for a keyword (field-less) search; name the field",
                schema=schema.id,
            )
        return map_field(schema, field)

    def apply_detection_item(
        self, detection_item: SigmaDetectionItem
    ) -> SigmaDetection | SigmaDetectionItem | None:
        try:
            return super().apply_detection_item(detection_item)
        except UnmappedFieldError as error:
            if error.source is None:
                error.source = detection_item.source
            raise

    def apply(self, rule: SigmaRule | SigmaCorrelationRule) -> None:
        try:
            super().apply(rule)
        except UnmappedFieldError as error:
            if error.source is None:
                error.source = rule.source
            raise


def okta_pipeline(schema: OktaSchema | str) -> ProcessingPipeline:
    """A fresh pipeline for one schema (given as object or id)."""
    if isinstance(schema, str):
        schema = get_schema(schema)
    prefix = schema.id
    items = [
        ProcessingItem(
            identifier=f"{prefix}_values",
            transformation=OktaValueMappingTransformation(schema_id=schema.id),
            rule_conditions=_okta_rules(),
        ),
        ProcessingItem(
            identifier=f"{prefix}_fields",
            transformation=OktaFieldMappingTransformation(mapping=dict(schema.fields), schema_id=schema.id),
            rule_conditions=_okta_rules(),
        ),
        ProcessingItem(
            identifier=f"{prefix}_schema_state",
            transformation=SetStateTransformation(OKTA_SCHEMA_VAR, schema.id),
            rule_conditions=_okta_rules(),
        ),
    ]
    if (state_key := _QUERY_SOURCE_STATE.get(schema.id)) is not None:
        items.append(
            ProcessingItem(
                identifier=f"{prefix}_query_source",
                transformation=SetStateTransformation(state_key, schema.table_or_index),
                rule_conditions=_okta_rules(),
            )
        )
    return ProcessingPipeline(
        name=f"Okta System Log fields to {schema.title}",
        priority=20,
        items=items,
        vars={OKTA_SCHEMA_VAR: schema.id},
    )


def okta_splunk_ta_pipeline() -> ProcessingPipeline:
    """Okta System Log as indexed by the Splunk Add-on for Okta Identity Cloud (sourcetype OktaIM2:log)."""
    return okta_pipeline("okta_splunk_ta")


def okta_elastic_pipeline() -> ProcessingPipeline:
    """Okta System Log as stored by Elastic's Okta integration (logs-okta.system-*)."""
    return okta_pipeline("okta_elastic")


def okta_sentinel_pipeline() -> ProcessingPipeline:
    """Okta System Log in Microsoft Sentinel's OktaV2_CL table (codeless connector)."""
    return okta_pipeline("okta_sentinel")


def okta_sentinel_legacy_pipeline() -> ProcessingPipeline:
    """Okta System Log in Microsoft Sentinel's Okta_CL table (Azure Functions connector)."""
    return okta_pipeline("okta_sentinel_legacy")


def okta_ocsf_pipeline() -> ProcessingPipeline:
    """Okta System Log mapped to OCSF 1.3 Authentication (class_uid 3002)."""
    return okta_pipeline("okta_ocsf")


def schema_of(pipeline: ProcessingPipeline | None) -> OktaSchema | None:
    """The Okta schema a pipeline (or a backend's combined pipeline) maps to, or None."""
    if pipeline is None:
        return None
    schema: Any = pipeline.vars.get(OKTA_SCHEMA_VAR)
    if schema is None or isinstance(schema, OktaSchema):
        return schema
    return get_schema(str(schema))


#: The log source the mappers assume for an aggregate's fields when the caller names none.
SYSTEM_LOG = SigmaLogSource(product="okta", service="okta")


def aggregate_field_mapper(
    pipeline: ProcessingPipeline | None, logsource: SigmaLogSource = SYSTEM_LOG
) -> Callable[[str], str]:
    """Maps a raw field name of an ``aggregate`` correlation (group-by, collapse, metric, where and
    output fields) as the pipeline maps the fields of rules of ``logsource`` (the referenced rules').
    Resolve alias names to event fields first.

    An Okta schema pipeline answers from its schema (raising :class:`UnmappedFieldError`). Any other
    pipeline is asked by applying a copy of it (the processing state of a conversion in progress stays
    as it is) to a one-item rule on the field, so it follows whatever field-name transformations and
    conditions the pipeline has; a field it drops or maps to several fields raises
    :class:`SigmaTransformationError` naming it, as an aggregate field must be one field."""
    schema = schema_of(pipeline)
    if schema is not None:
        return functools.partial(map_field, schema)
    if pipeline is None or not pipeline.items:
        return _identity
    probing = copy.deepcopy(pipeline)
    return functools.cache(functools.partial(_probe_field, probing, logsource))


def _probe_field(pipeline: ProcessingPipeline, logsource: SigmaLogSource, name: str) -> str:
    probe = _wrapper(
        "field probe", logsource, SigmaDetection([SigmaDetectionItem(name, [], [SigmaString("x")])])
    )
    pipeline.apply(probe)
    fields = _fields_of(probe.detection.detections[_WHERE])
    if len(fields) == 1 and fields[0] is not None:
        return fields[0]
    if not any(fields):
        raise SigmaTransformationError(f"the pipeline drops field '{name}', which an aggregate reads")
    raise SigmaTransformationError(
        f"the pipeline maps field '{name}' to several fields ({', '.join(map(repr, fields))}): an "
        "aggregate's group-by, collapse, metric and output fields must each map to one"
    )


def _fields_of(detection: SigmaDetection) -> list[str | None]:
    found: list[str | None] = []
    for item in detection.detection_items:
        found.extend(_fields_of(item) if isinstance(item, SigmaDetection) else [item.field])
    return found


def aggregate_detection_mapper(
    pipeline: ProcessingPipeline | None, logsource: SigmaLogSource = SYSTEM_LOG
) -> Callable[[SigmaDetection], SigmaDetection]:
    """Maps a ``where`` detection of an ``aggregate`` metric (values and field names) as the pipeline
    maps the detection of a rule of ``logsource``, returning a transformed copy; raises
    :class:`UnmappedFieldError` (or :class:`UnmappedValueError` for a value the target cannot express).
    A copy, unchanged, without a pipeline."""
    schema = schema_of(pipeline)
    if schema is not None:
        return functools.partial(_map_detection, lambda: okta_pipeline(schema), logsource)
    if pipeline is None:
        return copy.deepcopy
    return functools.partial(_map_detection, lambda: copy.deepcopy(pipeline), logsource)


_WHERE = "where"


def _wrapper(title: str, logsource: SigmaLogSource, detection: SigmaDetection) -> SigmaRule:
    return SigmaRule(
        title=title,
        logsource=logsource,
        detection=SigmaDetections(detections={_WHERE: detection}, condition=[_WHERE]),
    )


def _map_detection(
    fresh_pipeline: Callable[[], ProcessingPipeline], logsource: SigmaLogSource, detection: SigmaDetection
) -> SigmaDetection:
    # A fresh pipeline on a throwaway rule: applying the caller's pipeline would reset the processing
    # state of the conversion in progress.
    wrapper = _wrapper("aggregate where", logsource, copy.deepcopy(detection))
    fresh_pipeline().apply(wrapper)
    return wrapper.detection.detections[_WHERE]


def _identity(name: str) -> str:
    return name
