"""Deployable artifacts (`convert --format`): every rule of the pack as a Splunk savedsearches.conf
stanza, a Kibana ES|QL rule (NDJSON) and a Sentinel analytics rule (YAML and ARM), each parsed back and
checked for the keys its SIEM requires; the queries inside by the vendors' parsers; the schedules of
docs/semantics.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conversion.test_esql_checked_by_elastic import parse as parse_esql
from conversion.test_kusto_checked_by_microsoft import analyse as analyse_kql

from sigma.backends.okta.cli import main
from sigma.pipelines.okta.loader import load_bundled
from sigma.pipelines.okta.risk_stream import split_stages

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "rules"
STANDARD = ROOT / "tests" / "conversion" / "rules" / "standard_correlations.yml"
_BUNDLED = load_bundled()
#: the pack's rules that produce alerts (base rules that only feed a correlation do not) and that a SIEM
#: can run (not those over sigma-okta's risk stream, which convert leaves out for Splunk, Elastic, Sentinel)
_SIEM = split_stages(_BUNDLED)[0]
PACK_RULES = sum(rule._output for rule in _SIEM.base_rules) + len(_SIEM.correlations)
#: the pack's rules a Sentinel schema cannot hold (docs/rule-pack.md)
CORRELATION_TITLES = {rule.title for rule in _BUNDLED.correlations}
#: (legacy) the session-cookie rule; members of the target list convert (mv-apply)
SENTINEL_REFUSED = {"okta_sentinel": 0, "okta_sentinel_legacy": 1}
#: the pack's rules Elastic's schema cannot hold: none (members of the target list through FIELD_EXTRACT)
ELASTIC_REFUSED = 0


def convert(capsys, *arguments: str) -> str:
    assert main(["convert", *arguments]) == 0
    return capsys.readouterr().out


def json_documents(text: str) -> list:
    """The JSON texts one after another in ``text`` (one ARM template per rule)."""
    decoder, documents, position = json.JSONDecoder(), [], 0
    while position < len(text.rstrip()):
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
        while position < len(text) and text[position].isspace():
            position += 1
    return documents


def read_conf(text: str) -> dict[str, dict[str, str]]:
    """savedsearches.conf as Splunk reads .conf files: [stanza] headers, `key = value`, a backslash at
    the end of a line continuing the value on the next (the newline is kept)."""
    stanzas: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    lines = iter(text.splitlines())
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("["):
            current = stanzas.setdefault(line.strip()[1:-1], {})
            continue
        key, _, value = line.partition(" = ")
        while value.endswith("\\"):
            value = value[:-1].rstrip(" ") + "\n" + next(lines)
        assert current is not None, line
        current[key.strip()] = value
    return stanzas


def test_splunk_stanzas(capsys):
    (query,) = [
        text.split("\n", 1)[1].rstrip("\n")  # after the title
        for text in convert(capsys, "-t", "splunk", str(PACK)).split("\n\n")
        if text.startswith("``` Okta Mismatch")
    ]
    stanzas = read_conf(convert(capsys, "-t", "splunk", "-f", "savedsearches", str(PACK)))
    assert len(stanzas) == PACK_RULES
    stanza = stanzas["Okta Mismatch Between Source and Response for Verify Push Request"]
    assert stanza["search"] == query.removesuffix(" ```").rstrip()
    # on the clock, 10 minutes after each hour closes, over exactly that hour
    assert stanza["cron_schedule"] == "10 * * * *"
    assert (stanza["dispatch.earliest_time"], stanza["dispatch.latest_time"]) == ("-1h@h", "@h")
    assert stanza["enableSched"] == "1" and stanza["alert.track"] == "1"
    # ESCU's risk action: the user, score 50
    assert stanza["action.risk"] == "1"
    assert json.loads(stanza["action.risk.param._risk"]) == [
        {"risk_object_field": "user", "risk_object_type": "user", "risk_score": 50}
    ]
    assert json.loads(stanza["action.correlationsearch.annotations"]) == {"mitre_attack": ["T1621"]}


def test_splunk_schedules_follow_the_window(capsys):
    # temporal_ordered, percentiles and sliding windows are refused by Splunk (docs/aggregate-correlation.md)
    stanzas = read_conf(
        convert(capsys, "-t", "splunk", "-f", "savedsearches", "--skip-unsupported", str(STANDARD))
    )
    ten_minutes = stanzas["Many failed pushes per user"]
    assert ten_minutes["cron_schedule"] == "0-59/10 * * * *"
    assert (ten_minutes["dispatch.earliest_time"], ten_minutes["dispatch.latest_time"]) == (
        "-20m@m",
        "-10m@m",
    )
    quarter = stanzas["Failed pushes and a session start for one user"]
    assert quarter["cron_schedule"] == "10-59/15 * * * *"
    assert (quarter["dispatch.earliest_time"], quarter["dispatch.latest_time"]) == ("-25m@m", "-10m@m")


KIBANA_REQUIRED = {"rule_id", "name", "description", "risk_score", "severity", "type", "language", "query"}


@pytest.mark.parametrize("rules", [PACK, STANDARD])
def test_kibana_rules(capsys, rules):
    lines = convert(capsys, "-t", "esql", "-f", "kibana", "--skip-unsupported", str(rules)).splitlines()
    documents = [json.loads(line) for line in lines]
    assert len(documents) == (PACK_RULES - ELASTIC_REFUSED if rules == PACK else 5)
    for document in documents:
        assert document.keys() >= KIBANA_REQUIRED
        assert document["type"] == document["language"] == "esql"
        assert document["severity"] in {"low", "medium", "high", "critical"}
        assert 0 <= document["risk_score"] <= 100
        assert parse_esql(document["query"])[1] == [], document["name"]
        # a window is evaluated only whole: the query keeps the windows inside the look-back
        windowed = rules == STANDARD or document["name"] in CORRELATION_TITLES
        assert ("| WHERE window_start >= DATE_TRUNC(" in document["query"]) == windowed
    if rules == PACK:
        (push,) = [document for document in documents if document["name"].startswith("Okta Mismatch")]
        assert (push["interval"], push["from"], push["risk_score"]) == ("1h", "now-130m", 50)
        assert push["threat"] == [
            {
                "framework": "MITRE ATT&CK",
                "tactic": {
                    "id": "TA0006",
                    "name": "Credential Access",
                    "reference": "https://attack.mitre.org/tactics/TA0006/",
                },
                "technique": [
                    {
                        "id": "T1621",
                        "name": "Multi-Factor Authentication Request Generation",
                        "reference": "https://attack.mitre.org/techniques/T1621/",
                    }
                ],
            }
        ]


SENTINEL_REQUIRED = {
    "id",
    "name",
    "description",
    "severity",
    "requiredDataConnectors",
    "queryFrequency",
    "queryPeriod",
    "triggerOperator",
    "triggerThreshold",
    "tactics",
    "relevantTechniques",
    "query",
    "entityMappings",
    "version",
    "kind",
}


@pytest.mark.parametrize("pipeline", ["okta_sentinel", "okta_sentinel_legacy"])
def test_sentinel_yaml_and_arm(capsys, pipeline):
    skip = ["--skip-unsupported"]
    texts = convert(
        capsys, "-t", "kusto", "-p", pipeline, "-f", "sentinel-yaml", *skip, str(PACK), str(STANDARD)
    )
    rules = list(yaml.safe_load_all(texts))
    assert len(rules) == PACK_RULES - SENTINEL_REFUSED[pipeline] + 5
    for rule in rules:
        assert rule.keys() >= SENTINEL_REQUIRED
        assert rule["kind"] == "Scheduled" and rule["triggerOperator"] == "gt"
        assert re.fullmatch(r"\d+[mhd]", rule["queryFrequency"]) and re.fullmatch(
            r"\d+[mhd]", rule["queryPeriod"]
        )
    (push,) = [rule for rule in rules if rule["name"].startswith("Okta Mismatch")]
    assert (push["queryFrequency"], push["queryPeriod"], push["severity"]) == ("1h", "130m", "Medium")
    assert (push["tactics"], push["relevantTechniques"]) == (["CredentialAccess"], ["T1621"])
    table = "OktaV2_CL" if pipeline == "okta_sentinel" else "Okta_CL"
    assert push["requiredDataConnectors"][0]["dataTypes"] == [table]
    assert push["entityMappings"] == [
        {"entityType": "Account", "fieldMappings": [{"identifier": "FullName", "columnName": "AccountUpn"}]}
    ]
    assert analyse_kql([rule["query"] for rule in rules]) == [[] for _ in rules]

    templates = json_documents(
        convert(capsys, "-t", "kusto", "-p", pipeline, "-f", "sentinel-arm", *skip, str(PACK))
    )
    assert len(templates) == PACK_RULES - SENTINEL_REFUSED[pipeline]
    (resource,) = [
        resource
        for template in templates
        for resource in template["resources"]
        if resource["properties"]["displayName"].startswith("Okta Mismatch")
    ]
    assert resource["type"] == "Microsoft.OperationalInsights/workspaces/providers/alertRules"
    assert resource["kind"] == "Scheduled"
    properties = resource["properties"]
    assert {
        "displayName",
        "severity",
        "enabled",
        "query",
        "queryFrequency",
        "queryPeriod",
    } <= properties.keys()
    assert (properties["queryFrequency"], properties["queryPeriod"]) == ("PT1H", "PT130M")
    assert (properties["triggerOperator"], properties["triggerThreshold"]) == ("GreaterThan", 0)
    assert properties["query"] == push["query"]


def test_one_file_per_rule(capsys, tmp_path):
    arguments = ["convert", "-t", "kusto", "-f", "sentinel-arm", "--skip-unsupported", "-o", str(tmp_path)]
    assert main([*arguments, str(STANDARD)]) == 0
    files = sorted(path.name for path in tmp_path.iterdir())
    assert files == sorted(
        f"{name}.json"
        for name in ("std_event_count", "std_value_count", "std_value_sum", "std_value_avg", "std_temporal")
    )
    assert all(json.loads(path.read_text())["resources"] for path in tmp_path.iterdir())


def test_a_format_of_another_target_is_refused(capsys):
    assert main(["convert", "-t", "splunk", "-f", "kibana", str(PACK)]) != 0
    assert "target splunk has no format 'kibana' (formats: query, savedsearches)" in capsys.readouterr().err
