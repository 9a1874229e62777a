"""Why a group fired or not, and why an event matched a rule or not: the explanations of failed tests
and of ``sigma-okta explain``.

For a correlation group, the condition is evaluated clause by clause on the group's metrics with the
engine's own evaluator, so the explanation cannot disagree with the verdict: each comparison shows
its value (true, false, or unknown because a side is null) and the values of the names it reads. For a
base rule, each detection and each detection item is evaluated on the event with the engine's matcher.
"""

from __future__ import annotations

from typing import Any

from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule

from sigma.pipelines.okta.expression import And, Comparison, Expression, Name, Not, Or, names, to_text
from sigma.pipelines.okta.model import AggregateCorrelationRule, MetricKind

from ..engine.evaluate import compile_expression
from ..engine.fields import MISSING, compile_field
from ..engine.matcher import compile_detection, compile_item, string_fields
from ..engine.runner import objects_to_text
from ..engine.timestamps import parse_time

_TRUTH = {True: "true", False: "false", None: "unknown"}


def truth_text(value: bool | None) -> str:
    return _TRUTH[value]


def environment(rule: AggregateCorrelationRule, metrics: dict[str, Any]) -> dict[str, Any]:
    """A group's reported metrics as the condition reads them: times as epoch seconds."""
    env = dict(metrics)
    for metric in rule.metrics:
        if metric.kind in (MetricKind.FIRST_SEEN, MetricKind.LAST_SEEN) and isinstance(
            env.get(metric.name), str
        ):
            env[metric.name] = parse_time(env[metric.name]) / 1_000_000
    return env


def explain_condition(rule: AggregateCorrelationRule, metrics: dict[str, Any]) -> list[str]:
    """The condition as an indented tree, each clause with its value and the metrics it reads."""
    env = environment(rule, metrics)
    lines: list[str] = []

    def show(node: Expression, depth: int) -> None:
        value = compile_expression(node)(env)
        text = to_text(node)
        pad = "  " * depth
        if isinstance(node, Comparison | Name):
            shown = ", ".join(f"{name} = {_value_text(metrics.get(name))}" for name in names(node))
            reason = ""
            if value is None:
                nulls = [name for name in names(node) if env.get(name) is None]
                reason = f" (null: {', '.join(nulls)})" if nulls else " (null)"
            lines.append(f"{pad}{truth_text(value):7} {text}    [{shown}]{reason}")
            return
        lines.append(f"{pad}{truth_text(value):7} {text}")
        if isinstance(node, And | Or):
            for operand in node.operands:
                show(operand, depth + 1)
        elif isinstance(node, Not):
            show(node.operand, depth + 1)

    show(rule.condition, 0)
    return lines


def condition_holds(rule: AggregateCorrelationRule, metrics: dict[str, Any]) -> bool | None:
    return compile_expression(rule.condition)(environment(rule, metrics))


def explain_event(rule: SigmaRule, event: dict[str, Any]) -> list[str]:
    """Each detection of the rule on ``event``: matched or not, item by item, with the event's values."""
    event = dict(event)
    objects_to_text(event, [name.split(".") for name in sorted(string_fields(rule))])
    lines = []
    for name, detection in rule.detection.detections.items():
        matched = compile_detection(rule, detection)(event)
        lines.append(f"{'matched' if matched else 'failed':7} detection '{name}'")
        lines.extend(_explain_detection(rule, detection, event, 1))
    condition = " / ".join(str(condition) for condition in rule.detection.condition)
    lines.append(f"condition: {condition}")
    return lines


def _explain_detection(rule: SigmaRule, detection: SigmaDetection, event: dict, depth: int) -> list[str]:
    lines = []
    linking = "all of" if detection.item_linking.__name__ == "ConditionAND" else "any of"
    if len(detection.detection_items) > 1:
        lines.append(f"{'  ' * depth}({linking} the items below)")
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            matched = compile_detection(rule, item)(event)
            lines.append(f"{'  ' * depth}{'matched' if matched else 'failed':7} (nested)")
            lines.extend(_explain_detection(rule, item, event, depth + 1))
            continue
        lines.append(f"{'  ' * depth}{_explain_item(rule, item, event)}")
    return lines


def _explain_item(rule: SigmaRule, item: SigmaDetectionItem, event: dict) -> str:
    matched = compile_item(rule, item)(event)
    modifiers = "".join(
        f"|{modifier.__name__.removeprefix('Sigma').removesuffix('Modifier').lower()}"
        for modifier in item.modifiers
    )
    values = ", ".join(repr(str(value)) for value in item.original_value) if item.original_value else "null"
    if item.field is None:
        return f"{'matched' if matched else 'failed':7} keywords {values}"
    actual = compile_field(item.field)(event)
    shown = "missing" if actual is MISSING else _value_text(actual)
    return f"{'matched' if matched else 'failed':7} {item.field}{modifiers}: {values}    [event: {shown}]"


def _value_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    return str(value)
