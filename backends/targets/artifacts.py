"""Deployable rule artifacts around a converted query: what a SIEM imports as a scheduled detection.

- Splunk: a ``savedsearches.conf`` stanza (cron schedule, dispatch times, alert and risk actions);
- Elastic: a Kibana detection rule of type ``esql``, one JSON object per line (NDJSON) for import;
- Microsoft Sentinel: a scheduled analytics rule, as Azure-Sentinel's YAML or as an ARM template.

The schedule follows docs/semantics.md (*Windows and schedules*): windows are epoch-aligned, so a run
must evaluate only windows that lie wholly inside its range and closed ``INDEXING_DELAY`` before it.
Splunk runs on the clock over exactly the previous window; Kibana and Sentinel run on an interval with
a longer look-back, and their queries keep only the complete windows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import yaml
from sigma.conversion.base import Backend
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRuleBase

from sigma.pipelines.okta.model import AggregateCorrelationRule, MetricKind
from sigma.pipelines.okta.okta_pipelines import schema_of
from sigma.pipelines.okta.okta_schemas import OktaSchema, map_field

from .base_values import processing_pipeline
from .kusto import kql_member_path, kql_name

#: how long after a window closes its events are taken to be indexed
INDEXING_DELAY_SECONDS = 600
#: the schedule of a single-event rule: its "window" is the run interval
BASE_RULE_INTERVAL_SECONDS = 3600

#: Enterprise ATT&CK tactics by Sigma tag (attack.<name>): id and name
TACTICS = {
    "reconnaissance": ("TA0043", "Reconnaissance"),
    "resource-development": ("TA0042", "Resource Development"),
    "initial-access": ("TA0001", "Initial Access"),
    "execution": ("TA0002", "Execution"),
    "persistence": ("TA0003", "Persistence"),
    "privilege-escalation": ("TA0004", "Privilege Escalation"),
    "defense-evasion": ("TA0005", "Defense Evasion"),
    "credential-access": ("TA0006", "Credential Access"),
    "discovery": ("TA0007", "Discovery"),
    "lateral-movement": ("TA0008", "Lateral Movement"),
    "collection": ("TA0009", "Collection"),
    "command-and-control": ("TA0011", "Command and Control"),
    "exfiltration": ("TA0010", "Exfiltration"),
    "impact": ("TA0040", "Impact"),
}
#: names of the techniques the Okta rules use (Kibana wants a name; an unknown id is its own name)
TECHNIQUE_NAMES = {
    "T1621": "Multi-Factor Authentication Request Generation",
    "T1110": "Brute Force",
    "T1078": "Valid Accounts",
    "T1556": "Modify Authentication Process",
    "T1098": "Account Manipulation",
    "T1539": "Steal Web Session Cookie",
    "T1550": "Use Alternate Authentication Material",
    "T1087": "Account Discovery",
    "T1531": "Account Access Removal",
}
#: the Sentinel data connector writing each Okta table (Azure-Sentinel's Okta Single Sign-On solution)
SENTINEL_CONNECTORS = {"OktaV2_CL": "OktaSSOv2", "Okta_CL": "OktaSSO"}
#: Kibana's default risk score per severity, used when a rule has no `risk.score`
KIBANA_RISK_SCORES = {"low": 21, "medium": 47, "high": 73, "critical": 99}


class ArtifactError(ValueError):
    pass


def schema_of_backend(backend: Backend) -> OktaSchema | None:
    """The Okta schema the backend's pipeline maps to (its table, its columns), None without one."""
    return schema_of(processing_pipeline(backend))


@dataclass(frozen=True)
class Schedule:
    """When and over what a rule runs: every ``window`` seconds, ``delay`` after a window closes."""

    window_seconds: int
    windowed: bool  # a correlation, whose queries must keep only the complete windows
    delay_seconds: int = INDEXING_DELAY_SECONDS

    @property
    def look_back_seconds(self) -> int:
        """For interval schedulers: a correlation's previous whole window, the delay and one interval of
        jitter; a single-event rule's interval and the delay."""
        return (2 if self.windowed else 1) * self.window_seconds + self.delay_seconds


def schedule_of(rule: SigmaRuleBase) -> Schedule:
    if isinstance(rule, AggregateCorrelationRule | SigmaCorrelationRule):
        return Schedule(rule.timespan.seconds, windowed=True)
    return Schedule(BASE_RULE_INTERVAL_SECONDS, windowed=False)


# --- rule metadata --------------------------------------------------------------------------------


def level_of(rule: SigmaRuleBase) -> str:
    level = rule.level.name.lower() if rule.level is not None else "medium"
    return "low" if level == "informational" else level


def attack_tags(rule: SigmaRuleBase) -> tuple[list[tuple[str, str]], list[str]]:
    """(tactics as (id, name), technique ids) from the rule's ``attack.*`` tags."""
    tactics, techniques = [], []
    for tag in rule.tags:
        if tag.namespace != "attack":
            continue
        name = tag.name.lower().replace("_", "-")
        if name in TACTICS:
            tactics.append(TACTICS[name])
        elif name[:1] == "t" and name[1:5].isdigit():
            techniques.append(name.upper())
    return tactics, techniques


def risk_of(rule: SigmaRuleBase) -> dict | None:
    risk = rule.custom_attributes.get("risk")
    return dict(risk) if isinstance(risk, dict) else None


def description_of(rule: SigmaRuleBase) -> str:
    return " ".join((rule.description or rule.title).split())


def values_fields(rule: SigmaRuleBase) -> set[str]:
    """Output fields that hold lists of values (an entity must be expanded from them)."""
    if isinstance(rule, AggregateCorrelationRule):
        return {m.name for m in rule.outputs if m.kind is MetricKind.VALUES}
    return set()


def _duration(seconds: int, style: str) -> str:
    """``1h`` (Kibana), ``PT1H`` (ISO 8601, Sentinel)."""
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if seconds % size == 0:
            amount = seconds // size
            if style == "iso":
                return f"PT{amount}{unit.upper()}"
            return f"{amount}{unit}"
    raise AssertionError(seconds)


# --- Splunk ---------------------------------------------------------------------------------------


def splunk_savedsearch(rule: SigmaRuleBase, query: str) -> str:
    """A ``savedsearches.conf`` stanza: on the clock, over exactly the previous window."""
    schedule = schedule_of(rule)
    window = schedule.window_seconds
    if window % 3600 == 0 and window <= 86400:
        hours = window // 3600
        minute = schedule.delay_seconds // 60 % 60
        cron = f"{minute} {'*' if hours == 1 else f'*/{hours}'} * * *" if hours < 24 else f"{minute} 0 * * *"
        unit = "h" if hours < 24 else "d"
        earliest, latest = (f"-{hours}h@h", "@h") if unit == "h" else ("-1d@d", "@d")
    elif window % 60 == 0 and 3600 % window == 0:
        # every `minutes`, at whole windows plus the delay: each run's range is the previous window
        minutes, delay = window // 60, schedule.delay_seconds // 60
        cron = f"{delay % minutes}-59/{minutes} * * * *"
        earliest, latest = f"-{minutes + delay}m@m", f"-{delay}m@m"
    else:
        raise ArtifactError(f"rule '{rule.title}': no Splunk cron schedule for a window of {window} s")
    lines = [
        f"[{rule.title}]",
        f"description = {description_of(rule)}",
        f"search = {_conf_value(query)}",
        "enableSched = 1",
        f"cron_schedule = {cron}",
        f"dispatch.earliest_time = {earliest}",
        f"dispatch.latest_time = {latest}",
        "schedule_window = auto",
        "alert.track = 1",
        "alert.severity = " + str({"low": 2, "medium": 3, "high": 4, "critical": 5}[level_of(rule)]),
        "counttype = number of events",
        "relation = greater than",
        "quantity = 0",
        "alert.digest_mode = 0",
    ]
    risk = risk_of(rule)
    if risk is not None:
        entry = {
            "risk_object_field": risk["object"],
            "risk_object_type": risk.get("object_type", "user"),
            "risk_score": risk.get("score", 50),
        }
        lines += [
            "action.risk = 1",
            f"action.risk.param._risk = {json.dumps([entry])}",
            f"action.risk.param._risk_message = {rule.title}",
            "action.risk.param.verbose = 0",
        ]
    _, techniques = attack_tags(rule)
    annotations = {"mitre_attack": techniques} if techniques else {}
    if annotations:
        lines.append(f"action.correlationsearch.annotations = {json.dumps(annotations)}")
    lines.append(f"action.correlationsearch.label = {rule.title}")
    return "\n".join(lines) + "\n"


def _conf_value(text: str) -> str:
    """A multi-line value in a .conf file: every line but the last ends with a backslash."""
    return " \\\n".join(text.rstrip("\n").splitlines())


# --- Elastic ----------------------------------------------------------------------------------------


def kibana_rule(rule: SigmaRuleBase, query: str) -> str:
    """One Kibana detection rule (type ``esql``) as a JSON line, for Kibana's rule import."""
    schedule = schedule_of(rule)
    window, look_back = schedule.window_seconds, schedule.look_back_seconds
    if schedule.windowed:
        unit = _esql_span(window)
        query = (
            query.rstrip("\n")
            + f"\n| WHERE window_start >= DATE_TRUNC({unit}, NOW() - {_esql_span(look_back)}) + {unit}"
            + f" AND window_start + {unit} <= NOW() - {_esql_span(schedule.delay_seconds)}"
        )
    level = level_of(rule)
    risk = risk_of(rule)
    tactics, techniques = attack_tags(rule)
    threat = [
        {
            "framework": "MITRE ATT&CK",
            "tactic": {
                "id": tactic_id,
                "name": tactic_name,
                "reference": f"https://attack.mitre.org/tactics/{tactic_id}/",
            },
            "technique": [
                {
                    "id": technique,
                    "name": TECHNIQUE_NAMES.get(technique.split(".")[0], technique),
                    "reference": f"https://attack.mitre.org/techniques/{technique.replace('.', '/')}/",
                }
                for technique in techniques
            ],
        }
        for tactic_id, tactic_name in tactics
    ]
    document = {
        "rule_id": str(rule.id) if rule.id else str(uuid.uuid5(uuid.NAMESPACE_URL, rule.title)),
        "name": rule.title,
        "description": description_of(rule),
        "type": "esql",
        "language": "esql",
        "query": query,
        "severity": level,
        "risk_score": int(risk["score"]) if risk and "score" in risk else KIBANA_RISK_SCORES[level],
        "interval": _duration(window, "kibana"),
        "from": f"now-{_duration(look_back, 'kibana')}",
        "to": "now",
        "enabled": False,
        "version": 1,
        "tags": [str(tag) for tag in rule.tags],
        "threat": threat,
        "references": list(rule.references),
        "author": [rule.author] if rule.author else [],
        "license": "",
        "false_positives": list(rule.falsepositives),
        "max_signals": 100,
    }
    return json.dumps(document, ensure_ascii=False) + "\n"


def _esql_span(seconds: int) -> str:
    for unit, size in (("hours", 3600), ("minutes", 60), ("seconds", 1)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    raise AssertionError(seconds)


# --- Microsoft Sentinel -----------------------------------------------------------------------------


def sentinel_rule(rule: SigmaRuleBase, query: str, schema: OktaSchema | None) -> dict:
    """The properties of a scheduled analytics rule (Azure-Sentinel's rule YAML keys)."""
    table = schema.table_or_index if schema is not None else None
    schedule = schedule_of(rule)
    window, look_back = schedule.window_seconds, schedule.look_back_seconds
    entity_mappings = []
    if schedule.windowed:
        span = _kql_span(window)
        query = (
            query.rstrip("\n")
            + f"\n| where window_start >= bin(ago({_kql_span(look_back)}), {span}) + {span}"
            + f" and window_start + {span} <= ago({_kql_span(schedule.delay_seconds)})"
        )
    risk = risk_of(rule)
    if risk is not None and risk.get("object_type", "user") == "user":
        column = _result_column(rule, risk["object"], schema)
        if risk["object"] in values_fields(rule):  # a list of users: one result (and alert) per user
            query += f"\n| mv-expand AccountUpn = {column} to typeof(string)"
        else:
            query += f"\n| extend AccountUpn = tostring({column})"
        entity_mappings.append(
            {
                "entityType": "Account",
                "fieldMappings": [{"identifier": "FullName", "columnName": "AccountUpn"}],
            }
        )
    tactics, techniques = attack_tags(rule)
    severity = {"low": "Low", "medium": "Medium", "high": "High", "critical": "High"}[level_of(rule)]
    properties = {
        "id": str(rule.id) if rule.id else str(uuid.uuid5(uuid.NAMESPACE_URL, rule.title)),
        "name": rule.title,
        "description": description_of(rule),
        "severity": severity,
        "requiredDataConnectors": (
            [{"connectorId": SENTINEL_CONNECTORS.get(table, "OktaSSOv2"), "dataTypes": [table]}]
            if table
            else []
        ),
        "queryFrequency": _duration(window, "kibana"),
        "queryPeriod": _duration(look_back, "kibana"),
        "triggerOperator": "gt",
        "triggerThreshold": 0,
        "tactics": [name.replace(" ", "") for _, name in tactics],
        "relevantTechniques": techniques,
        "query": query,
        "entityMappings": entity_mappings,
        "eventGroupingSettings": {"aggregationKind": "AlertPerResult"},
        "version": "1.0.0",
        "kind": "Scheduled",
    }
    return properties


class _SentinelYamlDumper(yaml.SafeDumper):
    """Multi-line strings (the query) as literal blocks, as Azure-Sentinel's rule files write them."""


_SentinelYamlDumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


def _result_column(rule: SigmaRuleBase, name: str, schema: OktaSchema | None) -> str:
    """How the query's results name a rule's field: a correlation's output column as written, a base
    rule's event field where the schema stores it (a column, or a key of a dynamic column)."""
    if isinstance(rule, AggregateCorrelationRule | SigmaCorrelationRule):
        return kql_name(name)
    return kql_member_path(map_field(schema, name) if schema is not None else name)


def sentinel_yaml(rule: SigmaRuleBase, query: str, schema: OktaSchema | None) -> str:
    spec = sentinel_rule(rule, query, schema)
    return yaml.dump(spec, Dumper=_SentinelYamlDumper, sort_keys=False, allow_unicode=True, width=1000)


def sentinel_arm(rule: SigmaRuleBase, query: str, schema: OktaSchema | None) -> str:
    """An ARM template deploying the rule into a workspace (parameter ``workspace``)."""
    spec = sentinel_rule(rule, query, schema)
    schedule = schedule_of(rule)
    properties = {
        "displayName": spec["name"],
        "description": spec["description"],
        "severity": spec["severity"],
        "enabled": True,
        "query": spec["query"],
        "queryFrequency": _duration(schedule.window_seconds, "iso"),
        "queryPeriod": _duration(schedule.look_back_seconds, "iso"),
        "triggerOperator": "GreaterThan",
        "triggerThreshold": 0,
        "suppressionDuration": "PT1H",
        "suppressionEnabled": False,
        "tactics": spec["tactics"],
        "techniques": spec["relevantTechniques"],
        "entityMappings": spec["entityMappings"],
        "eventGroupingSettings": spec["eventGroupingSettings"],
    }
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"workspace": {"type": "String"}},
        "resources": [
            {
                "type": "Microsoft.OperationalInsights/workspaces/providers/alertRules",
                "apiVersion": "2023-02-01",
                "name": f"[concat(parameters('workspace'), '/Microsoft.SecurityInsights/{spec['id']}')]",
                "kind": "Scheduled",
                "properties": properties,
            }
        ],
    }
    return json.dumps(template, indent=2, ensure_ascii=False) + "\n"


def _kql_span(seconds: int) -> str:
    return _duration(seconds, "kibana")


#: target -> format -> (file suffix, renderer(rule, query, the backend's Okta schema))
FORMATS: dict[str, dict[str, tuple[str, Callable[[SigmaRuleBase, str, OktaSchema | None], str]]]] = {
    "splunk": {"savedsearches": ("conf", lambda rule, query, _: splunk_savedsearch(rule, query))},
    "esql": {"kibana": ("ndjson", lambda rule, query, _: kibana_rule(rule, query))},
    "kusto": {"sentinel-yaml": ("yaml", sentinel_yaml), "sentinel-arm": ("json", sentinel_arm)},
}

__all__ = ["FORMATS", "ArtifactError", "kibana_rule", "sentinel_arm", "sentinel_yaml", "splunk_savedsearch"]
