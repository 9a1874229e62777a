"""The risk stream: the alerts of rules that carry a ``risk`` as events, for rules over other rules' risk.

Risk-based alerting (Splunk ES's risk framework, which ESCU's "Okta Risk Threshold Exceeded" reads)
adds up what many detections say about one user. Here a rule does that by reading the **risk stream**
(``logsource: {product: sigma-okta, service: risk}``): every alert of a rule with ``risk:`` becomes one
risk event per risk object, and a risk event becomes one row per ATT&CK technique of its rule (the
multivalue ``annotations.mitre_attack.mitre_technique_id`` of Splunk's risk events, expanded). A row:

========================  =====================================================================
``published``             the alert's time: the event's for a match, the first event's of the
                          window for a correlation
``uuid``                  the row's id (deterministic: rule, alert, object, technique)
``risk_event_id``         the risk event's id, shared by its rows
``annotation_index``      the row's position among its risk event's rows; 0 stands for the risk
                          event itself, so a count or sum of risk events takes only rows with 0
``risk_object``           a value of the risk object (``actor.alternateId``, an address)
``risk_object_type``      the rule's ``risk.object_type`` (``user``, ``system``)
``risk_score``            the rule's ``risk.score``
``mitre_technique_id``    one technique (``T1078``, ``T1078.004``) of the rule's ``attack.t...`` tags,
                          null for a rule without any
``rule_id``, ``search_name``  the rule's id and title
========================  =====================================================================

The rules of a pack run in two stages: the rules over Okta events first, then the risk rules over the
risk stream of the first stage's alerts. Rules given without any other rule read the events given as a
risk stream (a file of rows, e.g. written by ``sigma-okta run --risk-output``).
"""

from __future__ import annotations

import re
from dataclasses import replace

from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from .loader import RulePack
from .selection import references_of

RISK_PRODUCT = "sigma-okta"
RISK_SERVICE = "risk"
_TECHNIQUE = re.compile(r"attack\.(t\d{4}(?:\.\d{3})?)", re.IGNORECASE)


def reads_risk_stream(rule: SigmaRule) -> bool:
    """Whether a base rule's logsource is the risk stream."""
    source = rule.logsource
    return (source.product or "").lower() == RISK_PRODUCT and (source.service or "").lower() == RISK_SERVICE


def techniques(tags) -> list[str]:
    """The ATT&CK technique ids of a rule's tags, in tag order (``attack.t1078.004`` → ``T1078.004``)."""
    found: list[str] = []
    for tag in tags:
        match = _TECHNIQUE.fullmatch(str(tag))
        if match and match.group(1).upper() not in found:
            found.append(match.group(1).upper())
    return found


def risk_stage_rules(pack: RulePack) -> set[int]:
    """``id()`` of every rule of ``pack`` that reads the risk stream: the base rules over it and the
    correlations over those."""
    risk = {id(rule) for rule in pack.base_rules if reads_risk_stream(rule)}
    changed = True
    while changed:
        changed = False
        for correlation in pack.correlations:
            if id(correlation) not in risk and any(id(ref) in risk for ref in references_of(correlation)):
                risk.add(id(correlation))
                changed = True
    return risk


def split_stages(pack: RulePack) -> tuple[RulePack, RulePack | None]:
    """The rules over Okta events and the rules over the risk stream (None when there are none)."""
    risk = risk_stage_rules(pack)
    if not risk:
        return pack, None
    return _part(pack, lambda rule: id(rule) not in risk), _part(pack, lambda rule: id(rule) in risk)


def _part(pack: RulePack, keep) -> RulePack:
    collection = SigmaCollection(
        init_rules=[rule for rule in pack.collection.rules if keep(rule)], resolve_references=False
    )
    return replace(pack, collection=collection, aggregates=[rule for rule in pack.aggregates if keep(rule)])


__all__ = [
    "RISK_PRODUCT",
    "RISK_SERVICE",
    "reads_risk_stream",
    "risk_stage_rules",
    "split_stages",
    "techniques",
]
