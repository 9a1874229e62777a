"""``sigma-okta generate``: a seeded, realistic Okta System Log dataset with ground truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .arguments import size
from .output import EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    generate = commands.add_parser(
        "generate",
        help="write a realistic Okta System Log dataset with labelled attack and benign sessions",
        description="Write seeded, realistic Okta System Log events (NDJSON, or .gz by suffix): background "
        "traffic plus labelled push-fatigue, push-denial, fan-out, null-session and other-factor sessions, "
        "and a ground-truth file naming the sessions the bundled rule must alert on.",
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
        type=float,
        metavar="FRACTION",
        help="share of push and push-response events (default: 0.02)",
    )
    generate.add_argument("--only-push", action="store_true", help="only push and push-response events")
    generate.add_argument("--shuffle", action="store_true", help="write events out of time order")
    generate.set_defaults(handler=_generate)


def _generate(arguments: argparse.Namespace) -> int:
    from ..generator import GeneratorConfig, write_dataset

    config = GeneratorConfig(seed=arguments.seed, only_push=arguments.only_push, shuffle=arguments.shuffle)
    if arguments.size is not None:
        config.target_bytes = arguments.size
    if arguments.push_share is not None:
        config.push_share = arguments.push_share
    summary = write_dataset(
        config, Path(arguments.output), Path(arguments.truth) if arguments.truth else None
    )
    print(
        f"wrote {summary.events:,} events ({summary.bytes / 1e6:,.1f} MB) to {summary.events_path} "
        f"in {summary.seconds:.1f}s: {summary.rule_events:,} push or push-response events "
        f"({summary.push_share:.1%}), {sum(summary.sessions.values())} labelled sessions, "
        f"{summary.expected_alerts} of which must alert"
        + (f"; ground truth in {summary.truth_path}" if summary.truth_path else ""),
        file=sys.stderr,
    )
    return EXIT_OK
