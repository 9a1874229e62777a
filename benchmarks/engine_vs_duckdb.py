"""End-to-end: the engine versus DuckDB on the same generated Okta System Log files, in one run.

Two datasets are generated once into ``bench-data/`` (deterministic seeds): a realistic mix in which
~2 % of ~2.3 KB events are pushes or push responses (about 2 GB), and a stream of only push and
push-response events (about 1 GB). For each, the engine (``sigma-okta run`` with the bundled rule) and
DuckDB (``duckdb_push_mismatch.sql``: a typed ``read_json`` projection and the same aggregation) are
timed as whole processes, alternating, and the medians compared. The machine is shared and noisy: read
the ratio, not the seconds. Both must report the generator's expected number of alerts.

    python benchmarks/engine_vs_duckdb.py [--rounds 3] [--mix-size 2GB] [--push-size 1GB]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine_info import cpu_model  # benchmarks/ is the script's folder, on sys.path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SQL = HERE / "duckdb_push_mismatch.sql"
BIN = Path(sys.executable).parent
PUSH_RULE = "okta_verify_push_source_response_mismatch"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mix-size", default="2GB")
    parser.add_argument("--push-size", default="1GB")
    parser.add_argument("--data", type=Path, default=ROOT / "bench-data")
    parser.add_argument("--duckdb-only", metavar="FILE", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.duckdb_only:
        print(run_duckdb(arguments.duckdb_only))
        return 0

    arguments.data.mkdir(exist_ok=True)
    datasets = [
        ("realistic mix (2% push)", ensure(arguments.data, "mix", arguments.mix_size, seed=11)),
        (
            "push and responses only",
            ensure(arguments.data, "push", arguments.push_size, seed=12, only_push=True),
        ),
    ]
    print(machine())
    print(f"{arguments.rounds} rounds each, whole-process wall time, median\n")
    header = f"{'dataset':26} {'size':>8} {'events':>9} | {'engine':>7} {'GB/s':>5} | {'duckdb':>7} {'GB/s':>5} | {'ratio':>5}"
    print(header)
    print("-" * len(header))
    for title, (path, summary) in datasets:
        engine_times, duck_times = [], []
        for _ in range(arguments.rounds):
            engine_times.append(
                # the push rule only: the DuckDB side runs its SQL alone, and the pack has more rules
                timed(
                    [str(BIN / "sigma-okta"), "run", "--rule", PUSH_RULE, "--events", str(path), "-q"],
                    summary,
                    "engine",
                )
            )
            duck_times.append(
                timed([sys.executable, __file__, "--duckdb-only", str(path)], summary, "duckdb")
            )
        size = path.stat().st_size
        engine, duck = statistics.median(engine_times), statistics.median(duck_times)
        print(
            f"{title:26} {size / 1e9:6.2f}GB {summary['events']:9d} | {engine:6.2f}s {size / engine / 1e9:5.2f} | "
            f"{duck:6.2f}s {size / duck / 1e9:5.2f} | {duck / engine:4.2f}x"
        )
        print(
            f"{'':26} events/s: engine {summary['events'] / engine:,.0f}, duckdb {summary['events'] / duck:,.0f}"
        )
    print("\nratio = engine throughput / DuckDB throughput (> 1: the engine is faster)")
    return 0


def ensure(folder: Path, name: str, size: str, *, seed: int, only_push: bool = False) -> tuple[Path, dict]:
    """The dataset file and its summary, generated when missing (or of another size)."""
    path = folder / f"{name}-{size}.jsonl"
    truth = folder / f"{name}-{size}.truth.json"
    if not path.exists() or not truth.exists():
        command = [
            str(BIN / "sigma-okta"),
            "generate",
            "--seed",
            str(seed),
            "--size",
            size,
            "--output",
            str(path),
            "--truth",
            str(truth),
        ]
        if only_push:
            command.append("--only-push")
        print(f"generating {path} ...", file=sys.stderr)
        subprocess.run(command, check=True)
    ground_truth = json.loads(truth.read_text())
    events = sum(1 for _ in path.open("rb"))
    return path, {"events": events, "expected_alerts": len(ground_truth["expected_alerts"])}


def timed(command: list[str], summary: dict, who: str) -> float:
    """Wall time of one whole process, which must report the expected number of alerts."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    found = len(result.stdout.splitlines()) if who == "engine" else int(result.stdout.strip())
    if found != summary["expected_alerts"]:
        raise SystemExit(f"{who} found {found} alerts, expected {summary['expected_alerts']}")
    return elapsed


def run_duckdb(path: str) -> int:
    import duckdb

    query = SQL.read_text().replace("{path}", path.replace("'", "''"))
    return len(duckdb.connect().execute(query).fetchall())


def machine() -> str:
    import duckdb

    cpu = cpu_model()
    return (
        f"machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, DuckDB {duckdb.__version__}"
    )


if __name__ == "__main__":
    sys.exit(main())
