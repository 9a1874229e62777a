"""``run -p PIPELINE``: the pack, renamed by a processing pipeline, finds on events stored in that
pipeline's schema what it finds on the raw System Log events they were stored from.

Each Okta schema's storage of an event is emulated from the schema itself (:func:`schema_storage.stored_as`),
so the test compares the engine on raw events with the engine on the same events as the SIEM keeps them.
"""

from __future__ import annotations

import pytest
from okta_builders import BASE_RULES, push_pack, run_engine
from schema_storage import stored_as
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline

from sigma.backends.okta.generator import GeneratorConfig, generate_events
from sigma.pipelines.okta import pipelines as okta_pipelines
from sigma.pipelines.okta.loader import RulePack, load_bundled, load_rules
from sigma.pipelines.okta.pack_pipeline import apply_to_pack
from sigma.pipelines.okta.risk_stream import split_stages
from sigma.pipelines.okta.selection import Selection, select_rules


def comparable(alerts: list[dict]) -> set[tuple]:
    """What must not depend on the schema: rule, window, group values, counts, the verdict, event ids."""
    return {
        (
            alert["rule_id"],
            alert.get("window", {}).get("start"),
            # casefolded: OCSF stores outcome.result SUCCESS as status Success, and groups on what it stores
            tuple(sorted(str(value).casefold() for value in alert.get("group", {}).values())),
            tuple(sorted((k, v) for k, v in alert.get("metrics", {}).items() if isinstance(v, int | float))),
            alert.get("condition", True),
            alert.get("event_id"),
            tuple(alert.get("event_ids", ())),
        )
        for alert in alerts
    }


@pytest.fixture(scope="module")
def raw_events() -> list[dict]:
    events, _ = generate_events(
        GeneratorConfig(seed=5, duration="6h", sessions_per_label=2, escape_share=0.0)
    )
    return events


# Single-event alerts and a standard correlation beside the bundled aggregate, on fields every schema maps.
FAMILY = """\
title: Push denied
name: push_denied
id: 6a0e2f4c-1b3d-4e5f-8a7b-9c0d1e2f3a4b
level: medium
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType: user.authentication.auth_via_mfa
    outcome.result: FAILURE
  condition: selection
---
title: Push sent from a new device
name: push_new_device
id: 2c4e6a8b-0d1f-4a3b-9c5d-7e9f1a3b5c7d
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType|startswith: system.push.
    debugContext.debugData.behaviors|contains: New Device=POSITIVE
  condition: selection
---
title: Repeated pushes from a new device
name: repeated_new_device_pushes
correlation:
  type: event_count
  rules: [push_new_device]
  group-by: [actor.alternateId, client.ipAddress]
  timespan: 1h
  condition: {gte: 2}
"""


def _family(tmp_path) -> RulePack:
    (tmp_path / "family.yml").write_text(FAMILY)
    return load_rules([tmp_path / "family.yml"])


#: what each schema cannot hold of the bundled pack (docs/rule-pack.md), with the correlations over it
#: rules on members of the target list, which only Splunk's schema keeps per element (a correlation over
#: them is left out with them)
_TARGET_MEMBERS = {
    "okta_application_sign_on_challenged",
    "okta_application_single_sign_on",
    "okta_successful_single_factor_authentication",
}
REFUSED = {
    "okta_splunk_ta": set(),
    # a collapse on the behaviors list
    "okta_elastic": {"okta_verify_push_source_response_mismatch", *_TARGET_MEMBERS},
    "okta_sentinel": _TARGET_MEMBERS,
    "okta_sentinel_legacy": {"okta_suspicious_use_of_a_session_cookie", *_TARGET_MEMBERS},
    "okta_ocsf": {
        "okta_phishing_detection_with_fastpass_origin_check",
        "okta_sign_on_policy_allowed",
        "okta_suspicious_use_of_a_session_cookie",
        "okta_user_verified",  # actor.type
        *_TARGET_MEMBERS,
    },
}


@pytest.mark.parametrize("schema_id", list(okta_pipelines))
def test_an_okta_pipeline_finds_on_stored_events_what_the_pack_finds_on_raw_ones(
    tmp_path, raw_events, schema_id
):
    stored = [stored_as(schema_id, event) for event in raw_events]
    # the risk stage reads the risk stream, not the stored events (run -p maps only the first stage)
    for pack in (split_stages(load_bundled())[0], _family(tmp_path)):
        mapped = apply_to_pack(pack, okta_pipelines[schema_id](), keep_going=True)
        refused = {rule.name for rule, _ in mapped.refused}
        kept = select_rules(
            mapped.pack, Selection(all_logsources=True, refused={id(rule): "" for rule, _ in mapped.refused})
        ).pack
        expected, _ = run_engine(tmp_path, raw_events, pack=pack, every_group=True)
        found, _ = run_engine(
            tmp_path,
            stored,
            pack=kept,
            every_group=True,
            time_field=mapped.time_field,
            id_field=mapped.id_field,
        )
        alerting = {rule.title for rule in (*kept.collection.rules, *kept.aggregates)}
        expected = [alert for alert in expected if alert["rule_title"] in alerting]
        assert sum(alert.get("condition", True) for alert in expected) > 0
        assert comparable(found) == comparable(expected)
        if pack.files[0].parent.name == "rules":  # the bundled pack
            assert refused == REFUSED[schema_id]
            assert len({alert["rule_id"] for alert in found}) >= 5  # several rules of the family alert


def test_elastic_refuses_a_collapse_on_its_multi_valued_behaviors():
    with pytest.raises(
        SigmaError, match=r"collapse field 'debugContext\.debugData\.behaviors' is stored by okta_elastic"
    ):
        apply_to_pack(push_pack(), okta_pipelines["okta_elastic"]())


PUSH_RULES = (
    BASE_RULES
    + """\
---
title: Many pushes
name: many_pushes
correlation:
  type: event_count
  rules: [push]
  group-by: [actor.alternateId]
  timespan: 1h
  condition: {gte: 3}
"""
)

RENAMING = """\
name: lower-case export
priority: 10
transformations:
  - id: lower_case_names
    type: field_name_mapping
    mapping:
      eventType: eventtype
      actor.alternateId: actor.alternateid
      published: time
"""


def _push(user: str, second: int) -> dict:
    return {
        "eventtype": "system.push.send_factor_verify_push",
        "actor": {"alternateid": user},
        "time": f"2026-03-10T14:00:{second:02d}Z",
    }


def test_a_yaml_pipeline_renames_base_rules_standard_correlations_and_the_time_field(tmp_path):
    (tmp_path / "rules.yml").write_text(PUSH_RULES)
    (tmp_path / "renaming.yml").write_text(RENAMING)
    from sigma.backends.okta.targets.catalog import resolve_pipeline

    mapped = apply_to_pack(
        load_rules([tmp_path / "rules.yml"]), resolve_pipeline(str(tmp_path / "renaming.yml"))
    )
    assert mapped.time_field == "time"
    events = [_push("ana@example.com", s) for s in (1, 2, 3)] + [_push("bo@example.com", 4)]
    alerts, _ = run_engine(tmp_path, events, pack=mapped.pack, time_field=mapped.time_field)
    groups = [alert["group"] for alert in alerts if alert["rule_title"] == "Many pushes"]
    assert groups == [{"actor.alternateid": "ana@example.com"}]
    # correlated: no alerts of its own
    assert sum(alert["rule_title"] == "Push" for alert in alerts) == 0


AGGREGATE = (
    BASE_RULES
    + """\
---
title: Pushes per user
name: pushes_per_user
correlation:
  type: aggregate
  rules: [push]
  group-by: [user]
  aliases:
    user: {push: actor.alternateId}
  timespan: 1h
  metrics:
    pushes:
      type: count
    ips:
      type: distinct
      field: client.ipAddress
  condition: pushes >= 2
"""
)


def test_aggregate_fields_and_alias_targets_are_renamed_but_alias_names_are_kept(tmp_path):
    (tmp_path / "rules.yml").write_text(AGGREGATE)
    pipeline = ProcessingPipeline.from_yaml(
        RENAMING.replace("      published: time\n", "      published: time\n      client.ipAddress: ip\n")
    )
    mapped = apply_to_pack(load_rules([tmp_path / "rules.yml"]), pipeline)
    (aggregate,) = mapped.pack.aggregates
    assert aggregate.group_by == ["user"]
    assert {str(k.reference): v for k, v in aggregate.aliases.aliases["user"].mapping.items()} == {
        "push": "actor.alternateid"
    }
    assert [metric.field for metric in aggregate.metrics] == [None, "ip"]
    events = [{**_push("ana@example.com", s), "ip": f"10.0.0.{s}"} for s in (1, 2)]
    alerts, _ = run_engine(tmp_path, events, pack=mapped.pack, time_field=mapped.time_field)
    assert [(alert["group"], alert["metrics"]) for alert in alerts] == [
        ({"user": "ana@example.com"}, {"pushes": 2, "ips": 2})
    ]


ONE_TO_MANY = """\
name: two names
transformations:
  - type: field_name_mapping
    mapping:
      client.ipAddress: [src_ip, client_ip]
"""


def test_a_field_an_aggregate_reads_that_maps_to_several_fields_is_refused_by_name(tmp_path):
    (tmp_path / "rules.yml").write_text(AGGREGATE)
    with pytest.raises(SigmaError, match=r"rule 'pushes_per_user'.*'client\.ipAddress' to several fields"):
        apply_to_pack(load_rules([tmp_path / "rules.yml"]), ProcessingPipeline.from_yaml(ONE_TO_MANY))


def test_an_okta_schema_refuses_a_field_it_does_not_store(tmp_path):
    (tmp_path / "rules.yml").write_text(
        AGGREGATE.replace("client.ipAddress", "client.geographicalContext.postalCode")
    )
    with pytest.raises(SigmaError, match="postalCode' is not available in schema 'okta_elastic'"):
        apply_to_pack(load_rules([tmp_path / "rules.yml"]), okta_pipelines["okta_elastic"]())
