"""``sigma-okta explain``: why a correlation group fired or not, or why events matched a rule or not."""

from __future__ import annotations

import argparse

from .output import EXIT_NO_INPUT, EXIT_OK, EXIT_USAGE, CliError

MAX_EVENTS = 10


def register(commands: argparse._SubParsersAction) -> None:
    explain = commands.add_parser(
        "explain",
        help="show a rule's condition evaluated on events, clause by clause or detection item by item",
        description="For a correlation: every group the events form (or those chosen with --group), its "
        "metrics and the condition evaluated clause by clause, with the reason of each false or unknown "
        "comparison. For a single-event rule: each detection item on each event (or those chosen with "
        "--event) with the event's value.",
    )
    explain.add_argument("rule", metavar="RULE", help="the id or name of a rule")
    explain.add_argument("--events", "-e", required=True, metavar="FILE", help="NDJSON, .gz or JSON array")
    explain.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="PATH",
        help="rule files or folders (default: bundled)",
    )
    explain.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="only the group with this group-by value (repeatable)",
    )
    explain.add_argument(
        "--event", action="append", default=[], metavar="UUID", help="only this event (repeatable)"
    )
    explain.set_defaults(handler=_explain)


def _explain(arguments: argparse.Namespace) -> int:
    from pathlib import Path

    from ..detection_tests.events import read_events
    from ..detection_tests.parser import as_correlation, find_rule
    from .arguments import load_pack

    pack = load_pack(arguments.rules)
    rule = find_rule(pack, arguments.rule)
    if rule is None:
        known = ", ".join(r.name or str(r.id) for r in [*pack.collection.rules, *pack.aggregates])
        raise CliError(f"unknown rule '{arguments.rule}' (rules: {known})", EXIT_USAGE)
    path = Path(arguments.events)
    if not path.is_file():
        raise CliError(f"no such events file: {path}", EXIT_NO_INPUT)
    correlation = as_correlation(rule)
    if correlation is not None:
        return _explain_groups(arguments, pack, rule, correlation, path)
    try:
        events = read_events(path)
    except ValueError as error:
        raise CliError(f"{path}: {error}", EXIT_NO_INPUT) from error
    return _explain_events(arguments, rule, events)


def _explain_groups(arguments, pack, rule, correlation, path) -> int:
    from ..detection_tests.engines import run_engine
    from ..detection_tests.explain import explain_condition

    wanted = {}
    for text in arguments.group:
        name, equals, value = text.partition("=")
        if not equals or name not in correlation.group_by:
            raise CliError(
                f"--group {text!r}: give FIELD=VALUE with FIELD one of {', '.join(correlation.group_by)}",
                EXIT_USAGE,
            )
        wanted[name] = value
    key = str(rule.id) if rule.id else None
    groups = [
        group
        for group in run_engine("python", pack, path).groups
        if group["rule_id"] == key
        and group["rule_title"] == rule.title
        and all(group["group"].get(name) == value for name, value in wanted.items())
    ]
    if not groups:
        print(f"{rule.title}: no group" + (" with " + ", ".join(arguments.group) if wanted else ""))
        print(
            "  no event of the events file matched the rules it correlates"
            if not wanted
            else "  (the events form no such group in any window)"
        )
        return EXIT_OK
    for group in groups:
        fires = group.get("condition", True)
        shown = ", ".join(f"{name}={value}" for name, value in group["group"].items()) or "(all events)"
        print(f"{rule.title}: group {shown}")
        print(
            f"  window   {group['window']['start']} .. {group['window']['end']}   {'FIRES' if fires else 'does not fire'}"
        )
        print("  metrics  " + ", ".join(f"{name}={_text(value)}" for name, value in group["metrics"].items()))
        for name, values in group["fields"].items():
            print(f"  {name:8} {', '.join(map(str, values)) or '-'}")
        print("  condition")
        for line in explain_condition(correlation, group["metrics"]):
            print(f"    {line}")
        print()
    return EXIT_OK


def _explain_events(arguments, rule, events) -> int:
    from ..detection_tests.explain import explain_event

    chosen = [event for event in events if not arguments.event or event.get("uuid") in arguments.event]
    if arguments.event and not chosen:
        raise CliError(f"no event with uuid {', '.join(arguments.event)} in {arguments.events}", EXIT_USAGE)
    for number, event in enumerate(chosen[:MAX_EVENTS], 1):
        print(
            f"{rule.title}: event {event.get('uuid') or number} ({event.get('eventType')}, {event.get('published')})"
        )
        for line in explain_event(rule, event):
            print(f"  {line}")
        print()
    if len(chosen) > MAX_EVENTS:
        print(f"... and {len(chosen) - MAX_EVENTS} more events: choose with --event UUID")
    return EXIT_OK


def _text(value) -> str:
    return "null" if value is None else str(value)
