"""Every query the conversion targets generate, for the checks by the vendors' own parsers.

The corpus: the bundled pack, the conversion fixtures (every `aggregate` construct, every modifier,
every standard correlation type) and, when ``../shared`` is present, SigmaHQ's Okta rules. A rule a
target refuses is left out here (refusals have tests of their own); the list of refusals is returned
so that a test can assert the corpus did not shrink unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from shared_corpus import SIGMAHQ_OKTA_RULES
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from sigma.backends.okta.targets.aggregate_plan import AggregateConversionError
from sigma.backends.okta.targets.catalog import make_backend, rule_label, target_named
from sigma.pipelines.okta.loader import load_rules
from sigma.pipelines.okta.standard import as_aggregate

ROOT = Path(__file__).resolve().parents[1]
#: ../shared beside the checkout; resolved, so that a symbolic link compares equal to its target
SIGMAHQ = SIGMAHQ_OKTA_RULES
FIXTURES = ROOT / "tests" / "conversion" / "rules"

SOURCES: dict[str, list[Path]] = {
    "pack": [ROOT / "rules"],
    "constructs": [FIXTURES / "constructs.yml"],
    "modifiers": [FIXTURES / "modifiers.yml"],
    "standard": [FIXTURES / "standard_correlations.yml"],
}


@dataclass(frozen=True)
class Query:
    source: str  # which part of the corpus
    rule: str
    text: str


def sources() -> dict[str, list[Path]]:
    found = dict(SOURCES)
    if SIGMAHQ.is_dir():
        found["sigmahq"] = [SIGMAHQ]
    return found


@cache
def generated_queries(target: str, pipeline: str) -> tuple[tuple[Query, ...], tuple[str, ...]]:
    """(queries, refusals) of one target and pipeline over the whole corpus."""
    queries: list[Query] = []
    refusals: list[str] = []
    for source, paths in sources().items():
        pack = load_rules(paths)
        backend = make_backend(target_named(target), [pipeline])
        for rule in [*pack.base_rules, *pack.correlations]:
            label = rule_label(rule)
            try:
                if isinstance(rule, SigmaRule):
                    if not rule._output:
                        continue
                    copy = SigmaRule.from_dict(rule.to_dict())
                    copy.source = rule.source
                    texts = [str(query) for query in backend.convert_rule(copy)]
                else:
                    aggregate = as_aggregate(rule) if isinstance(rule, SigmaCorrelationRule) else rule
                    texts = [backend.convert_aggregate(aggregate)]
            except (SigmaError, AggregateConversionError) as error:
                refusals.append(f"{source}/{label}: {error}")
                continue
            queries.extend(Query(source, label, text) for text in texts)
    return tuple(queries), tuple(refusals)
