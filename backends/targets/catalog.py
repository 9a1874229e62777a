"""The conversion targets of ``sigma-okta convert``: which backend, which pipelines, and converting a pack.

Each target is a pySigma backend (``OktaSplunkBackend`` ...) that also converts the `aggregate`
correlation; pySigma's autodiscovery and sigma-cli know them by their identifiers (``okta_splunk``
...). Standard Sigma correlations are converted through the aggregate model (``plugin/standard.py``)
so that every target gives them the engine's tumbling-window semantics.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sigma.conversion.base import Backend
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.resolver import ProcessingPipelineResolver
from sigma.rule import SigmaRule, SigmaRuleBase

from sigma.pipelines.okta import pipelines as okta_pipelines
from sigma.pipelines.okta.errors import for_rule, raise_together
from sigma.pipelines.okta.loader import RulePack
from sigma.pipelines.okta.okta_pipelines import schema_of
from sigma.pipelines.okta.risk_stream import risk_stage_rules
from sigma.pipelines.okta.standard import as_aggregate


@dataclass(frozen=True)
class Target:
    name: str
    backend: str  # "module:Class"
    language: str
    suffix: str
    pipelines: tuple[str, ...]  # the Okta pipelines it supports; the first is the default

    def backend_class(self) -> type[Backend]:
        module, _, name = self.backend.partition(":")
        return getattr(importlib.import_module(module), name)


TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        Target(
            "splunk",
            "sigma.backends.okta.targets.splunk:OktaSplunkBackend",
            "Splunk SPL",
            "spl",
            ("okta_splunk_ta",),
        ),
        Target(
            "esql",
            "sigma.backends.okta.targets.esql:OktaESQLBackend",
            "Elastic ES|QL",
            "esql",
            ("okta_elastic", "okta_ocsf"),
        ),
        Target(
            "kusto",
            "sigma.backends.okta.targets.kusto:OktaKustoBackend",
            "Microsoft Sentinel / Defender KQL",
            "kql",
            ("okta_sentinel", "okta_sentinel_legacy"),
        ),
        Target(
            "duckdb", "sigma.backends.okta.targets.sql:OktaDuckDBBackend", "DuckDB SQL over NDJSON", "sql", ()
        ),
        Target(
            "spark", "sigma.backends.okta.targets.sql:OktaSparkBackend", "Spark SQL over NDJSON", "sql", ()
        ),
    )
}


class TargetError(ValueError):
    pass


def target_named(name: str) -> Target:
    """A target by its short name (``splunk``) or its backend identifier (``okta_splunk``)."""
    found = TARGETS.get(name.removeprefix("okta_"))
    if found is None:
        raise TargetError(f"unknown target '{name}' (targets: {', '.join(TARGETS)})")
    return found


def make_backend(target: Target, pipeline_names: Sequence[str] = ()) -> Backend:
    """The target's backend with the named pipelines (Okta pipeline ids, other installed pySigma
    pipelines, or pipeline YAML files), in pySigma's priority order as sigma-cli sums them.

    The target's default Okta pipeline is added unless one of them maps to an Okta schema itself: a
    pipeline that only fills placeholders (``vars`` and ``value_placeholders``) or adds conditions
    should not cost the target its field mapping."""
    for name in pipeline_names:
        if name in okta_pipelines and name not in target.pipelines:
            supported = ", ".join(target.pipelines) or "none: it reads raw Okta System Log JSON"
            raise TargetError(
                f"target {target.name} cannot use the pipeline {name} (its Okta pipelines: {supported})"
            )
    named = [resolve_pipeline(name) for name in pipeline_names]
    if target.pipelines and not any(schema_of(pipeline) for pipeline in named):
        named.insert(0, resolve_pipeline(target.pipelines[0]))
    if not named:
        return target.backend_class()(None)
    combined = ProcessingPipeline()
    for pipeline in sorted(named, key=lambda pipeline: pipeline.priority):  # stable: ties keep their order
        combined += pipeline
    return target.backend_class()(combined)


def resolve_pipeline(name: str) -> ProcessingPipeline:
    if name in okta_pipelines:
        return okta_pipelines[name]()
    if name.endswith((".yml", ".yaml")) and not Path(name).is_file():
        raise TargetError(f"pipeline file '{name}' not found")
    try:
        from sigma.plugins import InstalledSigmaPlugins

        resolver = ProcessingPipelineResolver(InstalledSigmaPlugins.autodiscover().pipelines)
        return resolver.resolve_pipeline(name)
    except Exception as error:  # pySigma raises several kinds here; one message for the user
        raise TargetError(
            f"unknown pipeline '{name}' (Okta pipelines: {', '.join(okta_pipelines)})"
        ) from error


@dataclass(frozen=True)
class Converted:
    rule: SigmaRuleBase
    query: str


def convert_pack(
    pack: RulePack, backend: Backend, refused: list[SigmaError] | None = None
) -> list[Converted]:
    """Every rule that produces alerts: base rules on their own, standard and aggregate correlations.

    A rule the target cannot express is an error naming it; every such error is raised at once, after
    trying every rule. Given a ``refused`` list, they are added to it instead and the rest converted
    (sigma-cli's ``--skip-unsupported``)."""
    converted: list[Converted] = []
    problems: list[SigmaError] = []
    risk_rules = set() if getattr(backend, "reads_risk_stream", False) else risk_stage_rules(pack)
    for rule in [*pack.base_rules, *pack.correlations]:
        if id(rule) in risk_rules and getattr(rule, "_output", True):
            problems.append(for_rule(_risk_stream_refusal(backend), rule))
    for rule in pack.base_rules:
        if id(rule) in risk_rules:
            continue
        if rule._output:
            # a copy: pipelines change the rules they are applied to, and through a rule's links to
            # the correlations that use it (generate: true), those correlations' fields too
            copy = SigmaRule.from_dict(rule.to_dict())
            copy.source = rule.source
            try:
                converted.extend(Converted(rule, str(query)) for query in backend.convert_rule(copy))
            except SigmaError as error:
                problems.append(for_rule(error, rule))
    for correlation in pack.correlations:
        if id(correlation) in risk_rules:
            continue
        aggregate = (
            as_aggregate(correlation) if isinstance(correlation, SigmaCorrelationRule) else correlation
        )
        try:
            converted.append(Converted(correlation, backend.convert_aggregate(aggregate)))
        except SigmaError as error:
            problems.append(for_rule(error, correlation))
    if refused is None:
        raise_together(problems)
    else:
        refused.extend(problems)
    return converted


def _risk_stream_refusal(backend: Backend) -> SigmaError:
    return SigmaError(
        f"{backend.name} cannot read sigma-okta's risk stream (logsource product "
        "sigma-okta, service risk): the stream is made by `sigma-okta run` from the alerts of the other "
        "rules, and a SIEM keeps its alerts' risk in its own store (Splunk ES: the Risk data model, as "
        "ESCU's original reads it); convert it for duckdb or spark, or run it with `sigma-okta run`"
    )


def rule_label(rule: SigmaRuleBase) -> str:
    return rule.name or (str(rule.id) if rule.id else rule.title)


__all__ = ["TARGETS", "Converted", "Target", "convert_pack", "make_backend", "target_named"]
