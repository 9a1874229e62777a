"""The Okta processing pipelines: discovery, conversion with pySigma's own backends, unmapped fields,
value-level mappings, the `aggregate` helpers, and the documentation's tables against the data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from shared_corpus import SIGMAHQ_OKTA_RULES
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaRuleLocation
from sigma.plugins import InstalledSigmaPlugins
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import ValueListPlaceholderTransformation
from sigma.rule import SigmaRule
from sigma.types import SigmaBool, SigmaString

from sigma.pipelines.okta import pipelines
from sigma.pipelines.okta.loader import bundled_rules_path, load_bundled
from sigma.pipelines.okta.model import detection_fields
from sigma.pipelines.okta.okta_pipelines import (
    OKTA_SCHEMA_VAR,
    aggregate_detection_mapper,
    aggregate_field_mapper,
    okta_pipeline,
    schema_of,
)
from sigma.pipelines.okta.okta_schemas import (
    SCHEMAS,
    OktaSchema,
    UnmappedFieldError,
    UnmappedValueError,
    get_schema,
    map_field,
)

PROJECT = Path(__file__).resolve().parents[2]
SIGMAHQ = SIGMAHQ_OKTA_RULES
DOCS = PROJECT / "docs" / "field-mappings.md"

SCHEMA_IDS = ["okta_splunk_ta", "okta_elastic", "okta_sentinel", "okta_sentinel_legacy", "okta_ocsf"]

# pySigma's own backend for each schema. They are development dependencies: a missing one skips.
BACKEND_FOR = {
    "okta_splunk_ta": ("sigma.backends.splunk", "SplunkBackend"),
    "okta_elastic": ("sigma.backends.elasticsearch", "ESQLBackend"),
    "okta_sentinel": ("sigma.backends.kusto", "KustoBackend"),
    "okta_sentinel_legacy": ("sigma.backends.kusto", "KustoBackend"),
    "okta_ocsf": ("sigma.backends.elasticsearch", "ESQLBackend"),
}

# SigmaHQ rules that use a field (or a form of one) that a schema lacks, with the fields that may be
# named: the first problem met raises, so any of them will do. Every other rule must convert.
SIGMAHQ_GAPS: dict[str, dict[str, set[str]]] = {
    "okta_splunk_ta": {},
    "okta_elastic": {
        "okta_apt_suspicious_user_creation.yml": {"target.displayName"},
        "okta_new_behaviours_admin_console.yml": {
            "debugContext.debugData.behaviors",  # contains 'POSITIVE': not a named POSITIVE behavior
            "debugContext.debugData.logOnlySecurityData",
            "target.displayName",
        },
        "okta_password_in_alternateid_field.yml": {"legacyEventType"},
    },
    "okta_sentinel": {
        "okta_apt_suspicious_user_creation.yml": {"target.displayName"},
        "okta_new_behaviours_admin_console.yml": {"target.displayName"},
    },
    "okta_sentinel_legacy": {
        "okta_apt_suspicious_user_creation.yml": {"target.displayName"},
        "okta_new_behaviours_admin_console.yml": {"target.displayName"},
    },
    "okta_ocsf": {
        "okta_apt_suspicious_user_creation.yml": {"target.displayName"},
        "okta_new_behaviours_admin_console.yml": {"target.displayName"},
        "okta_fastpass_phishing_detection.yml": {"outcome.reason"},
        "okta_password_in_alternateid_field.yml": {"legacyEventType"},
    },
}


def backend_for(schema_id: str, pipeline: ProcessingPipeline):
    module_name, class_name = BACKEND_FOR[schema_id]
    module = pytest.importorskip(
        module_name, reason=f"{module_name} (pySigma's own backend) is not installed"
    )
    return getattr(module, class_name)(pipeline)


def base_rule_files() -> list[Path]:
    """The bundled files that hold Sigma base rules only (the others hold a correlation too)."""
    return sorted(
        path for path in bundled_rules_path().glob("*.yml") if "correlation:" not in path.read_text()
    )


#: bundled base rules a schema cannot hold (docs/rule-pack.md)
REFUSED_BASE_RULES = {("okta_phishing_detection_with_fastpass_origin_check.yml", "okta_ocsf"): "browser"}


def sigmahq_rule_params() -> list:
    if not SIGMAHQ.is_dir():
        return [
            pytest.param(None, marks=pytest.mark.skip(reason="../shared/corpus/sigmahq-okta-rules is absent"))
        ]
    return [pytest.param(path, id=path.name) for path in sorted(SIGMAHQ.glob("*.yml"))]


def raw_fields(text: str) -> list[str]:
    rule = SigmaCollection.from_yaml(text).rules[0]
    assert isinstance(rule, SigmaRule)
    return sorted(
        {name for detection in rule.detection.detections.values() for name in detection_fields(detection)}
    )


def placeholders() -> ProcessingPipeline:
    """What a user adds for SigmaHQ's %legtimate_identifiers% placeholder (environment-specific)."""
    return ProcessingPipeline(
        items=[ProcessingItem(ValueListPlaceholderTransformation())],
        vars={"legtimate_identifiers": ["@example.com"]},
    )


def appears(name: str, query: str) -> bool:
    """Whether a field name appears in a query as a name of its own (not inside a longer one)."""
    return re.search(rf"(?<![\w.{{}}]){re.escape(name)}(?![\w.{{}}])", query) is not None


def assert_mapped(schema: OktaSchema, fields: list[str], query: str) -> None:
    for raw in fields:
        target = map_field(schema, raw)
        assert target in query, f"{raw} -> {target} missing from {query!r}"
        if not schema.passthrough and target != raw:
            assert not appears(raw, query), f"raw path {raw} left in {query!r}"


# --- discovery and recording ---------------------------------------------------------------------------


def test_autodiscovery_lists_every_pipeline():
    discovered = InstalledSigmaPlugins.autodiscover().pipelines
    for schema_id in SCHEMA_IDS:
        assert schema_id in discovered
        pipeline = discovered[schema_id]()
        assert isinstance(pipeline, ProcessingPipeline)
        assert schema_of(pipeline) is get_schema(schema_id)
    assert set(pipelines) == set(SCHEMA_IDS) == set(SCHEMAS)


def test_schema_survives_pipeline_addition_and_backend_combination():
    combined = okta_pipeline("okta_elastic") + placeholders()
    assert combined.name is None  # pySigma's addition drops the name: the schema lives in vars
    assert schema_of(combined) is get_schema("okta_elastic")
    assert schema_of(ProcessingPipeline()) is None
    assert schema_of(None) is None

    backend = backend_for("okta_elastic", okta_pipeline("okta_elastic"))
    text = (base_rule_files()[0]).read_text()
    backend.convert(SigmaCollection.from_yaml(text))
    assert schema_of(backend.last_processing_pipeline).time_field == "@timestamp"
    assert backend.last_processing_pipeline.vars[OKTA_SCHEMA_VAR] == "okta_elastic"


@pytest.mark.parametrize(
    ("schema_id", "state_key", "value"),
    [("okta_elastic", "index", "logs-okta.system-*"), ("okta_sentinel", "query_table", "OktaV2_CL")],
)
def test_rule_state_names_the_schema_and_query_source(schema_id, state_key, value):
    rule = SigmaCollection.from_yaml(base_rule_files()[0].read_text()).rules[0]
    pipeline = okta_pipeline(schema_id)
    pipeline.apply(rule)
    assert pipeline.state[OKTA_SCHEMA_VAR] == schema_id
    assert pipeline.state[state_key] == value


def test_rules_of_other_products_are_left_alone():
    rule = SigmaCollection.from_yaml(
        "title: t\nlogsource: {product: windows}\ndetection: {sel: {Image: x}, condition: sel}\n"
    ).rules[0]
    okta_pipeline("okta_elastic").apply(rule)
    assert rule.detection.detections["sel"].detection_items[0].field == "Image"


# --- conversion with pySigma's own backends ------------------------------------------------------------


@pytest.mark.parametrize("schema_id", SCHEMA_IDS)
@pytest.mark.parametrize("rule_file", base_rule_files(), ids=lambda path: path.name)
def test_bundled_base_rules_convert(schema_id, rule_file):
    schema = get_schema(schema_id)
    text = rule_file.read_text()
    if (rule_file.name, schema_id) in REFUSED_BASE_RULES:
        with pytest.raises(UnmappedFieldError, match=REFUSED_BASE_RULES[rule_file.name, schema_id]):
            backend_for(schema_id, okta_pipeline(schema)).convert(SigmaCollection.from_yaml(text))
        return
    queries = backend_for(schema_id, okta_pipeline(schema)).convert(SigmaCollection.from_yaml(text))
    assert len(queries) == 1
    assert_mapped(schema, raw_fields(text), queries[0])


@pytest.mark.shared
@pytest.mark.parametrize("schema_id", SCHEMA_IDS)
@pytest.mark.parametrize("rule_file", sigmahq_rule_params())
def test_sigmahq_okta_rules_convert_or_name_the_missing_field(schema_id, rule_file):
    schema = get_schema(schema_id)
    text = rule_file.read_text()
    backend = backend_for(schema_id, okta_pipeline(schema) + placeholders())
    gaps = SIGMAHQ_GAPS[schema_id].get(rule_file.name)
    if gaps:
        with pytest.raises(UnmappedFieldError) as raised:
            backend.convert(SigmaCollection.from_yaml(text, source=SigmaRuleLocation(rule_file)))
        assert raised.value.field in gaps
        assert raised.value.schema == schema_id
        assert raised.value.field in str(raised.value)
        assert raised.value.source is not None and raised.value.source.path == rule_file
    else:
        queries = backend.convert(SigmaCollection.from_yaml(text))
        assert queries
        assert_mapped(schema, raw_fields(text), " ".join(map(str, queries)))


def test_every_sigmahq_gap_is_a_real_rule():
    if not SIGMAHQ.is_dir():
        pytest.skip("../shared/corpus/sigmahq-okta-rules is absent")
    names = {path.name for path in SIGMAHQ.glob("*.yml")}
    for gaps in SIGMAHQ_GAPS.values():
        assert set(gaps) <= names


# --- unmapped fields -----------------------------------------------------------------------------------

TARGET_RULE = """\
title: Service account created
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType: user.lifecycle.create
    target.displayName|contains: svc_
  condition: selection
"""


def test_a_field_the_schema_lacks_raises_naming_field_schema_and_reason():
    backend = backend_for("okta_elastic", okta_pipeline("okta_elastic"))
    with pytest.raises(UnmappedFieldError) as raised:
        backend.convert(SigmaCollection.from_yaml(TARGET_RULE))
    message = str(raised.value)
    assert raised.value.field == "target.displayName"
    assert "'target.displayName'" in message and "'okta_elastic'" in message
    assert "flattened" in message  # the documented reason


def test_a_misspelled_field_gets_the_nearest_known_fields():
    with pytest.raises(UnmappedFieldError, match=r"Nearest fields it maps: eventType"):
        map_field(get_schema("okta_sentinel"), "eventTyp")


def test_collect_errors_keeps_the_unmapped_field_error():
    module_name, class_name = BACKEND_FOR["okta_sentinel"]
    backend_class = getattr(pytest.importorskip(module_name), class_name)
    backend = backend_class(okta_pipeline("okta_sentinel"), collect_errors=True)
    assert backend.convert(SigmaCollection.from_yaml(TARGET_RULE)) == []
    [(_, error)] = backend.errors
    assert isinstance(error, UnmappedFieldError) and error.field == "target.displayName"


def test_keyword_search_needs_a_field_except_in_the_raw_splunk_schema():
    keyword_rule = (
        "title: k\nlogsource: {product: okta}\ndetection: {keywords: [evil], condition: keywords}\n"
    )
    with pytest.raises(UnmappedFieldError, match="keyword"):
        okta_pipeline("okta_ocsf").apply(SigmaCollection.from_yaml(keyword_rule).rules[0])
    okta_pipeline("okta_splunk_ta").apply(SigmaCollection.from_yaml(keyword_rule).rules[0])


@pytest.mark.parametrize(
    ("schema_id", "raw", "target"),
    [
        ("okta_splunk_ta", "target.displayName", "target{}.displayName"),
        ("okta_splunk_ta", "request.ipChain.ip", "request.ipChain{}.ip"),
        (
            "okta_splunk_ta",
            "debugContext.debugData.pushOnlyResponseType",
            "debugContext.debugData.pushOnlyResponseType",
        ),
        ("okta_sentinel", "debugContext.debugData.pushOnlyResponseType", "DebugData.pushOnlyResponseType"),
        ("okta_sentinel", "outcome.result", "OriginalOutcomeResult"),
        ("okta_sentinel_legacy", "uuid", "uuid_g"),
        ("okta_elastic", "client.ipAddress", "okta.client.ip"),
        ("okta_ocsf", "debugContext.debugData.url", "dst_endpoint.svc_name"),
        ("okta_ocsf", "debugContext.debugData.requestUri", "unmapped.debugContext.debugData.requestUri"),
    ],
)
def test_map_field(schema_id, raw, target):
    assert map_field(get_schema(schema_id), raw) == target


@pytest.mark.parametrize(
    ("schema_id", "raw"),
    [
        ("okta_sentinel_legacy", "debugContext.debugData.pushOnlyResponseType"),
        ("okta_elastic", "debugContext.debugData.pushOnlyResponseType"),
        ("okta_elastic", "debugContext.debugData.logOnlySecurityData"),
        ("okta_sentinel", "target.alternateId"),
        ("okta_ocsf", "legacyEventType"),
    ],
)
def test_documented_gaps_raise_with_their_reason(schema_id, raw):
    schema = get_schema(schema_id)
    with pytest.raises(UnmappedFieldError) as raised:
        map_field(schema, raw)
    assert raised.value.field == raw
    reason = next(
        reason for path, reason in schema.unavailable.items() if raw == path or raw.startswith(path)
    )
    assert reason in str(raised.value)


def test_standard_correlation_group_by_is_mapped_and_checked():
    correlation = (bundled_rules_path() / "okta_verify_push_response.yml").read_text() + (
        "---\ntitle: Many\ncorrelation:\n  type: event_count\n  rules: [okta_verify_push_response]\n"
        "  group-by: [{field}]\n  timespan: 1h\n  condition: {{gte: 3}}\n"
    )
    collection = SigmaCollection.from_yaml(
        correlation.format(field="authenticationContext.externalSessionId")
    )
    rule = collection.rules[-1]
    okta_pipeline("okta_sentinel").apply(rule)
    assert rule.group_by == ["ActorSessionId"]

    collection = SigmaCollection.from_yaml(correlation.format(field="target.displayName"))
    with pytest.raises(UnmappedFieldError, match=r"target\.displayName"):
        okta_pipeline("okta_sentinel").apply(collection.rules[-1])


# --- value-level mappings --------------------------------------------------------------------------------


def behaviors_rule(expression: str) -> str:
    return (
        "title: b\nlogsource: {product: okta, service: okta}\n"
        f"detection:\n  selection:\n    {expression}\n  condition: selection\n"
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (
            "debugContext.debugData.behaviors|contains: New Device=POSITIVE",
            'okta.debug_context.debug_data.risk_behaviors=="New Device"',
        ),
        (
            "debugContext.debugData.behaviors|contains|all: [New Device=POSITIVE, New IP=POSITIVE]",
            'okta.debug_context.debug_data.risk_behaviors=="New Device" and '
            'okta.debug_context.debug_data.risk_behaviors=="New IP"',
        ),
        (
            "debugContext.debugData.behaviors|contains: [New Device=POSITIVE, New IP=positive]",
            'okta.debug_context.debug_data.risk_behaviors in ("New Device", "New IP")',
        ),
    ],
)
def test_elastic_behaviors_contains_positive_becomes_a_risk_behaviors_name(expression, expected):
    backend = backend_for("okta_elastic", okta_pipeline("okta_elastic"))
    [query] = backend.convert(SigmaCollection.from_yaml(behaviors_rule(expression)))
    assert expected in query
    assert "=POSITIVE" not in query.upper()


@pytest.mark.parametrize(
    "expression",
    [
        "debugContext.debugData.behaviors|contains: NEGATIVE",
        "debugContext.debugData.behaviors|contains: POSITIVE",
        "debugContext.debugData.behaviors|contains: New Device=NEGATIVE",
        "debugContext.debugData.behaviors: New Device=POSITIVE",
        "debugContext.debugData.behaviors|startswith: '{New Device=POSITIVE'",
        "debugContext.debugData.behaviors|contains: New*=POSITIVE",
        "debugContext.debugData.behaviors|re: 'New Device=POSITIVE'",
        "debugContext.debugData.behaviors|contains: 'New Device=POSITIVE, New IP=POSITIVE'",
    ],
)
def test_elastic_behaviors_other_uses_raise_naming_the_construct(expression):
    with pytest.raises(UnmappedValueError) as raised:
        okta_pipeline("okta_elastic").apply(SigmaCollection.from_yaml(behaviors_rule(expression)).rules[0])
    field, _, _ = expression.partition(":")
    assert f"`{field}:" in str(raised.value)
    assert "risk_behaviors" in str(raised.value)
    assert isinstance(raised.value, UnmappedFieldError)  # one except clause catches every gap


@pytest.mark.parametrize(
    "schema_id", ["okta_splunk_ta", "okta_sentinel", "okta_sentinel_legacy", "okta_ocsf"]
)
def test_other_schemas_keep_the_behaviors_string(schema_id):
    rule = SigmaCollection.from_yaml(
        behaviors_rule("debugContext.debugData.behaviors|contains: NEGATIVE")
    ).rules[0]
    okta_pipeline(schema_id).apply(rule)
    [item] = rule.detection.detections["selection"].detection_items
    assert item.field == map_field(get_schema(schema_id), "debugContext.debugData.behaviors")
    assert str(item.value[0]) == "*NEGATIVE*"


def test_ocsf_outcome_result_becomes_status():
    rule = SigmaCollection.from_yaml(behaviors_rule("outcome.result: [SUCCESS, failure]")).rules[0]
    okta_pipeline("okta_ocsf").apply(rule)
    [item] = rule.detection.detections["selection"].detection_items
    assert item.field == "status"
    assert [str(value) for value in item.value] == ["Success", "Failure"]
    with pytest.raises(UnmappedValueError, match=r"`outcome.result: 'ALLOW'`"):
        okta_pipeline("okta_ocsf").apply(
            SigmaCollection.from_yaml(behaviors_rule("outcome.result: ALLOW")).rules[0]
        )
    with pytest.raises(UnmappedValueError, match=r"outcome.result\|contains"):
        okta_pipeline("okta_ocsf").apply(
            SigmaCollection.from_yaml(behaviors_rule("outcome.result|contains: SUCC")).rules[0]
        )


@pytest.mark.parametrize("schema_id", ["okta_elastic", "okta_sentinel", "okta_sentinel_legacy", "okta_ocsf"])
def test_boolean_columns_get_booleans(schema_id):
    rule = SigmaCollection.from_yaml(behaviors_rule("securityContext.isProxy: 'true'")).rules[0]
    okta_pipeline(schema_id).apply(rule)
    [item] = rule.detection.detections["selection"].detection_items
    assert item.value == [SigmaBool(True)]
    with pytest.raises(UnmappedValueError):
        okta_pipeline(schema_id).apply(
            SigmaCollection.from_yaml(behaviors_rule("securityContext.isProxy|contains: tru")).rules[0]
        )


def test_splunk_keeps_the_string_form_of_booleans():
    rule = SigmaCollection.from_yaml(behaviors_rule("securityContext.isProxy: 'true'")).rules[0]
    okta_pipeline("okta_splunk_ta").apply(rule)
    [item] = rule.detection.detections["selection"].detection_items
    assert item.value == [SigmaString("true")]


# --- the aggregate correlation ---------------------------------------------------------------------------

# What the bundled aggregate reads, per schema (a documented gap would be listed as None).
AGGREGATE_FIELDS = {
    "okta_splunk_ta": {},  # raw names, unchanged
    "okta_elastic": {
        "authenticationContext.externalSessionId": "okta.authentication_context.external_session_id",
        "eventType": "okta.event_type",
        "debugContext.debugData.factor": "okta.debug_context.debug_data.factor",
        "outcome.result": "okta.outcome.result",
        "actor.alternateId": "okta.actor.alternate_id",
        "client.device": "okta.client.device",
        "client.ipAddress": "okta.client.ip",
        "client.userAgent.rawUserAgent": "okta.client.user_agent.raw_user_agent",
        "debugContext.debugData.behaviors": "okta.debug_context.debug_data.risk_behaviors",
    },
    "okta_sentinel": {
        "authenticationContext.externalSessionId": "ActorSessionId",
        "eventType": "EventOriginalType",
        "debugContext.debugData.factor": "DebugData.factor",
        "outcome.result": "OriginalOutcomeResult",
        "actor.alternateId": "OriginalActorAlternateId",
        "client.device": "OriginalClientDevice",
        "client.ipAddress": "SrcIpAddr",
        "client.userAgent.rawUserAgent": "HttpUserAgent",
        "debugContext.debugData.behaviors": "DebugData.behaviors",
    },
    "okta_sentinel_legacy": {
        "authenticationContext.externalSessionId": "authenticationContext_externalSessionId_s",
        "eventType": "eventType_s",
        "debugContext.debugData.factor": "debugContext_debugData_factor_s",
        "outcome.result": "outcome_result_s",
        "actor.alternateId": "actor_alternateId_s",
        "client.device": "client_device_s",
        "client.ipAddress": "client_ipAddress_s",
        "client.userAgent.rawUserAgent": "client_userAgent_rawUserAgent_s",
        "debugContext.debugData.behaviors": "debugContext_debugData_behaviors_s",
    },
    "okta_ocsf": {
        "authenticationContext.externalSessionId": "actor.session.uid",
        "eventType": "metadata.event_code",
        "debugContext.debugData.factor": "unmapped.debugContext.debugData.factor",
        "outcome.result": "status",
        "actor.alternateId": "actor.user.email_addr",
        "client.device": "src_endpoint.type",
        "client.ipAddress": "src_endpoint.ip",
        "client.userAgent.rawUserAgent": "http_request.user_agent",
        "debugContext.debugData.behaviors": "unmapped.debugContext.debugData.behaviors",
    },
}


@pytest.fixture(scope="module")
def aggregate():
    return next(
        rule for rule in load_bundled().aggregates if rule.name == "okta_verify_push_source_response_mismatch"
    )


@pytest.mark.parametrize("schema_id", SCHEMA_IDS)
def test_aggregate_field_mapper_maps_every_field_the_aggregate_reads(schema_id, aggregate):
    mapper = aggregate_field_mapper(okta_pipeline(schema_id))
    expected = AGGREGATE_FIELDS[schema_id]
    for name in aggregate.fields_read():
        target = expected.get(name, name)
        if target is None:
            with pytest.raises(UnmappedFieldError):
                mapper(name)
        else:
            assert mapper(name) == target
    assert set(expected) <= set(aggregate.fields_read())


def test_aggregate_field_mapper_is_the_identity_without_an_okta_schema():
    mapper = aggregate_field_mapper(ProcessingPipeline())
    assert mapper("target.displayName") == "target.displayName"


def test_aggregate_field_mapper_raises_for_a_gap():
    with pytest.raises(UnmappedFieldError, match=r"target\.displayName"):
        aggregate_field_mapper(okta_pipeline("okta_elastic"))("target.displayName")


def where_items(aggregate, schema_id: str) -> dict[str, list[tuple[str | None, list[str]]]]:
    mapper = aggregate_detection_mapper(okta_pipeline(schema_id))
    mapped = {}
    for metric in aggregate.metrics:
        if metric.where is not None:
            detection = mapper(metric.where.detection)
            mapped[metric.name] = [
                (item.field, [str(v) for v in item.value]) for item in detection.detection_items
            ]
    return mapped


def test_aggregate_where_detections_get_the_value_mappings(aggregate):
    elastic = where_items(aggregate, "okta_elastic")
    assert elastic["suspect_device_from_source"] == [
        ("okta.debug_context.debug_data.risk_behaviors", ["New Device"])
    ]
    assert elastic["suspect_ip_from_source"] == [("okta.debug_context.debug_data.risk_behaviors", ["New IP"])]
    assert elastic["total_rejected"] == [("okta.outcome.result", ["FAILURE"])]
    ocsf = where_items(aggregate, "okta_ocsf")
    assert ocsf["total_successes"] == [("status", ["Success"])]
    assert ocsf["suspect_device_from_source"] == [
        ("unmapped.debugContext.debugData.behaviors", ["*New Device=POSITIVE*"])
    ]
    # The rule's own detections are untouched.
    [item] = next(
        m for m in aggregate.metrics if m.name == "suspect_device_from_source"
    ).where.detection.detection_items
    assert item.field == "debugContext.debugData.behaviors"


def test_aggregate_where_detection_mapper_raises_for_an_unsupported_behaviors_use():
    rule = SigmaCollection.from_yaml(
        behaviors_rule("debugContext.debugData.behaviors|contains: NEGATIVE")
    ).rules[0]
    detection = rule.detection.detections["selection"]
    with pytest.raises(UnmappedValueError, match="NEGATIVE"):
        aggregate_detection_mapper(okta_pipeline("okta_elastic"))(detection)
    assert aggregate_detection_mapper(None)(detection) is not detection


# --- documentation ------------------------------------------------------------------------------------------


def documented_tables() -> dict[str, dict[str, str]]:
    """``docs/field-mappings.md``: per schema section (``## `id` ``), the rows ``| `raw` | `target` |``."""
    tables: dict[str, dict[str, str]] = {}
    current = None
    for line in DOCS.read_text().splitlines():
        if line.startswith("## "):
            heading = re.search(r"`(okta_\w+)`", line)
            current = tables.setdefault(heading.group(1), {}) if heading else None
        elif current is not None and (row := re.match(r"^\| `([^`]+)` \| `([^`]+)` \|", line)):
            current[row.group(1)] = row.group(2)
    return tables


@pytest.mark.parametrize("schema_id", SCHEMA_IDS)
def test_documentation_tables_match_the_schemas(schema_id):
    schema = get_schema(schema_id)
    documented = documented_tables()[schema_id]
    expected = dict(schema.fields)
    expected.update({f"{prefix}*": f"{target}*" for prefix, target in schema.prefixes.items()})
    assert documented == expected
    text = DOCS.read_text()
    assert schema.time_field in text and schema.table_or_index in text
    for path in schema.unavailable:
        assert f"`{path}" in text
