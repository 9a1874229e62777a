"""``sigma-okta generate``: a seeded, realistic Okta System Log dataset with ground truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .arguments import size
from .output import EXIT_OK, EXIT_USAGE, CliError


def register(commands: argparse._SubParsersAction) -> None:
    generate = commands.add_parser(
        "generate",
        help="write a realistic Okta System Log dataset with labelled attack and benign sessions",
        description="Write seeded, realistic Okta System Log events (NDJSON, or .gz by suffix): background "
        "traffic plus labelled sessions for every rule of the bundled pack (push fatigue, MFA bursts, password "
        "spray, lockouts, session-cookie reuse, logins from several cities, admin changes, threats, challenged app requests, "
        "single-factor sign-ins), each "
        "with near misses, and a ground-truth file naming the alerts every rule must give.",
    )
    generate.add_argument(
        "--output", "-o", required=True, metavar="FILE", help="events file (.jsonl or .jsonl.gz)"
    )
    generate.add_argument("--truth", metavar="FILE", help="write the ground truth (JSON) here")
    generate.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    generate.add_argument(
        "--size", type=size, metavar="SIZE", help="repeat until the file is about this big (e.g. 2GB)"
    )
    generate.add_argument(
        "--push-share",
        type=_share,
        metavar="FRACTION",
        help="share of push and push-response events, more than 0 and at most 1 (default: 0.02)",
    )
    generate.add_argument(
        "--scenario",
        action="append",
        metavar="LABEL",
        help="only sessions of this scenario (repeatable; e.g. mfa_fatigue, benign_approval; an unknown "
        "label lists them all)",
    )
    generate.add_argument(
        "--family",
        action="append",
        metavar="FAMILY",
        help="only scenarios of this family (repeatable): push (the push-mismatch rule), mfa_burst, spray, "
        "lockout, session_cookie, cities, changes, threats, apps (the rest of the pack)",
    )
    generate.add_argument(
        "--sessions", type=_count, metavar="N", help="sessions of each scenario (default: 3; unsized runs)"
    )
    generate.add_argument(
        "--background", type=_count, metavar="N", help="background events (default: from --push-share)"
    )
    generate.add_argument("--only-push", action="store_true", help="only push and push-response events")
    generate.add_argument("--shuffle", action="store_true", help="write events out of time order")
    generate.set_defaults(handler=_generate)


def _generate(arguments: argparse.Namespace) -> int:
    from ..generator import GeneratorConfig, write_dataset

    options = {
        "target_bytes": arguments.size,
        "push_share": arguments.push_share,
        "scenarios": arguments.scenario,
        "families": arguments.family,
        "sessions_per_label": arguments.sessions,
        "background_events": arguments.background,
    }
    try:
        config = GeneratorConfig(
            seed=arguments.seed,
            only_push=arguments.only_push,
            shuffle=arguments.shuffle,
            **{name: value for name, value in options.items() if value is not None},
        )
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from error
    summary = write_dataset(
        config, Path(arguments.output), Path(arguments.truth) if arguments.truth else None
    )
    print(
        f"wrote {summary.events:,} events ({summary.bytes / 1e6:,.1f} MB) to {summary.events_path} "
        f"in {summary.seconds:.1f}s: {summary.rule_events:,} push or push-response events "
        f"({summary.push_share:.1%}), {sum(summary.sessions.values())} labelled sessions; the pack must "
        f"give {summary.pack_alerts} alerts ({summary.expected_alerts} of the push-mismatch rule)"
        + (f"; ground truth in {summary.truth_path}" if summary.truth_path else ""),
        file=sys.stderr,
    )
    for intent in summary.broken_intents:  # another session pushed a near miss over, or an attack under
        print(
            f"warning: scenario {intent['label']} meant {intent['rule']} to "
            f"{'fire' if intent['fires'] else 'stay silent'} for {', '.join(intent['group'])} in the window "
            f"of {intent['window_start']}; it does not (the ground truth says what the pack gives)",
            file=sys.stderr,
        )
    return EXIT_OK


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share: more than 0 and at most 1")
    return value


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return int(text)
