"""Where the time goes: each stage of the engine's dense path timed in isolation, per line.

On a stream of only push and push-response events (``sigma-okta generate --only-push``; every line is
decoded, the prefilter cannot skip any), the push-mismatch rule's path is cut into its stages, and each
is timed alone on the same data, fed the previous stage's output computed beforehand: reading and
splitting into lines, the typed decode (msgspec; the native kernel too when it is built), the base
rules' predicates, the event time, the window / group / collapse keys, the state update, the per-event
glue of ``Scan.event`` around them, the evaluation of complete windows and writing the alerts. Times are
CPU seconds of this one process (best of ``--repeat``), with the collector paused as in a run, and
the cost of the collector on the event loop is shown apart. Prints a Markdown table for docs/engine.md.

    python benchmarks/profile_stages.py [--events FILE | --size 200MB] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

from machine_info import cpu_model  # benchmarks/ is the script's folder, on sys.path

from sigma.backends.okta.engine import runner
from sigma.backends.okta.engine.alerts import JsonLinesSink
from sigma.backends.okta.engine.input_report import InputReport
from sigma.backends.okta.engine.parallel import collector_paused
from sigma.backends.okta.engine.runner import CompiledRules, Engine, EngineOptions, Scan, _line_spans
from sigma.backends.okta.engine.sources import expand_sources, iter_chunks
from sigma.pipelines.okta.loader import bundled_rules_path, load_rules

HERE = Path(__file__).resolve().parent
PUSH_RULES = (
    "okta_verify_push_sent",
    "okta_verify_push_response",
    "okta_verify_push_source_response_mismatch",
)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=Path, help="a push-only NDJSON file (default: generated)")
    parser.add_argument("--size", default="200MB", help="size of the generated file (default: 200MB)")
    parser.add_argument("--data", type=Path, default=HERE.parent / "bench-data")
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    path = arguments.events or generated(arguments.data, arguments.size)
    rows, lines, groups = profile(path, arguments.repeat)
    print(machine(path, lines, groups))
    print()
    print(table(rows, lines))
    return 0


def generated(folder: Path, size: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"push-{size}.jsonl"
    if not path.exists():
        command = [str(Path(sys.executable).parent / "sigma-okta"), "generate", "--seed", "12"]
        command += ["--size", size, "--only-push", "--output", str(path)]
        subprocess.run(command, check=True)
    return path


def best(repeat: int, run: Callable[[], object]) -> float:
    """The least CPU time of ``repeat`` runs of ``run`` (a shared machine only ever adds time)."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times)


def profile(path: Path, repeat: int) -> tuple[list[tuple[str, float, str]], int, int]:
    pack = load_rules([bundled_rules_path() / f"{name}.yml" for name in PUSH_RULES])
    rules = CompiledRules(pack, EngineOptions(prefilter=False, workers=1))
    (source,) = expand_sources([str(path)])
    (plan,) = rules.plans
    rows: list[tuple[str, float, str]] = []

    def read_and_split() -> int:
        """As Scan.chunk splits: a memoryview slice per line, dropped once used."""
        count = 0
        for chunk in iter_chunks(source, InputReport([source])):
            view = memoryview(chunk.data)
            for start, end in _line_spans(chunk.data):
                view[start:end]
                count += 1
        return count

    with collector_paused():
        chunks = list(iter_chunks(source, InputReport([source])))
        lines = [chunk.data[start:end] for chunk in chunks for start, end in _line_spans(chunk.data)]
        split_time = best(repeat, read_and_split)
        rows.append(("read + line split", split_time, "pread of 8 MiB chunks, a view per line"))

        decode = rules.projection.decode  # msgspec, falling back to the full decode for bad lines
        decoded = [(decode(line)[0], line) for line in lines]
        events = [event for event, _ in decoded if event is not None]
        lines_decoded = [line for event, line in decoded if event is not None]
        rows.append(("typed decode (msgspec)", best(repeat, lambda: [decode(line) for line in lines]), ""))
        if rules.native is not None:

            def native() -> None:
                for chunk in chunks:
                    for _ in rules.native.scan(chunk.data, list(_line_spans(chunk.data))):
                        pass

            rows.append(("  (native kernel, instead)", best(repeat, native), "validate + project in C"))

        predicates = rules.predicates

        def match() -> list[list[int]]:
            return [[i for i, predicate in enumerate(predicates) if predicate(event)] for event in events]

        matched = [(event, found) for event, found in zip(events, match(), strict=True) if found]
        match_time = best(repeat, match)
        rows.append(("base-rule predicates", match_time, f"{len(matched):,} of {len(lines):,} lines match"))

        get_time = rules.time
        parse_time = best(repeat, lambda: [get_time(event) for event, _ in matched])
        rows.append(("time parse", parse_time, "cached per second for Okta's form"))
        timed = [(event, found, get_time(event)) for event, found in matched]

        # the plan's rule bits of each event (one plan: the push rule's), as Scan.event makes them
        masks = [sum({bit for index in found for _, bit in rules.links[index]}) for _, found, _ in timed]
        primaries = [plan.primary_rule[mask] for mask in masks]

        def keys() -> None:
            for (event, _, time_us), mask, primary in zip(timed, masks, primaries, strict=True):
                plan.group_keys[primary](event)
                _ = time_us // plan.span_us
                plan.uuid(event)
                if plan.collapse is not None:
                    (mask, time_us // plan.collapse_us, *plan.collapse_keys[primary](event))

        key_time = best(repeat, keys)
        rows.append(("window, group and collapse keys", key_time, "generated extractors (fields.py)"))

        def update() -> dict:
            store: dict = {}
            for (event, _, time_us), mask in zip(timed, masks, strict=True):
                plan.add(store, event, mask, time_us)
            return store

        add_time = best(repeat, update)
        rows.append(("state update", add_time - key_time, "AggregatePlan.add less its keys"))

        def scan_events() -> Scan:
            scan = Scan(rules, InputReport([source]), lambda alert: None)
            for event, line in zip(events, lines_decoded, strict=True):
                scan.event(event, False, source, 0, line)
            return scan

        event_time = best(repeat, scan_events)
        # a residue of two measurements: near zero means the glue costs about what the isolated loops'
        # own overhead does
        glue = event_time - match_time - parse_time - add_time
        rows.append(
            (
                "per-event glue of Scan.event",
                glue,
                f"Scan.event whole: {event_time / len(lines) * 1e6:.2f} µs/line",
            )
        )

        stores = [update() for _ in range(repeat)]
        evaluate_time = min(
            best(1, lambda store=store: plan.complete(store, lambda plan, window: True, False))
            for store in stores
        )
        groups = sum(len(groups) for groups in update().values())
        alerts = plan.complete(update(), lambda plan, window: True, False)
        rows.append(
            ("evaluation at window completion", evaluate_time, f"{len(alerts):,} alerts of {groups:,} groups")
        )

        def output() -> None:
            sink = JsonLinesSink(io.BytesIO())
            for alert in alerts:
                sink.write(alert)

        rows.append(("alert output (JSON lines)", best(repeat, output), ""))
    line_count = len(lines)
    for held in (chunks, lines, lines_decoded, decoded, events, matched, timed, stores):
        held.clear()  # the memory back before the whole runs

    # the whole process's path for comparison, with the collector paused (as now) and on (as before)
    def whole_run() -> None:
        Engine(pack, EngineOptions(prefilter=False, workers=1)).run([source], lambda alert: None)

    paused = best(repeat, whole_run)
    with_collector = runner.collector_paused
    runner.collector_paused = nullcontext
    try:
        collecting = best(repeat, whole_run)
    finally:
        runner.collector_paused = with_collector
    os.environ["SIGMA_OKTA_NATIVE"] = "0"  # native_projection.py's switch
    try:
        pure = best(repeat, whole_run)
    finally:
        del os.environ["SIGMA_OKTA_NATIVE"]
    rows.append(("  (whole run, one process)", paused, "Engine.run, with the native kernel where built"))
    rows.append(("  (whole run, pure Python)", pure, "Engine.run, SIGMA_OKTA_NATIVE=0"))
    rows.append(("  (cyclic GC on, in the first)", collecting - paused, "what pausing it saves"))
    return rows, line_count, groups


def table(rows: list[tuple[str, float, str]], lines: int) -> str:
    counted = sum(seconds for name, seconds, _ in rows if not name.startswith("  "))
    out = ["| stage | µs/line | share | note |", "|---|---:|---:|---|"]
    for name, seconds, note in rows:
        share = "" if name.startswith("  ") else f"{seconds / counted:.0%}"
        out.append(f"| {name.strip()} | {seconds / lines * 1e6:.2f} | {share} | {note} |")
    out.append(f"| **total (Python path)** | **{counted / lines * 1e6:.2f}** | 100% | |")
    return "\n".join(out)


def machine(path: Path, lines: int, groups: int) -> str:
    cpu = cpu_model()
    return (
        f"{datetime.now(UTC):%Y-%m-%d}, {cpu}, nproc {os.cpu_count()}, Python {platform.python_version()}; "
        f"{path.name}: {path.stat().st_size / 1e6:,.0f} MB, {lines:,} lines, {groups:,} (window, group) states"
    )


if __name__ == "__main__":
    sys.exit(main())
