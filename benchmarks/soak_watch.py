"""Soak benchmark of `sigma-okta watch`: a few million generated events through a followed file.

Generates a multi-day dataset (so that hourly and daily windows close as it streams), appends it to a
followed file in blocks while `watch --follow` (with --state and --output) consumes it, samples the
watch's resident memory, and reports throughput, peak RSS and whether RSS stays flat once windows start
closing. Then measures the bytes per open session (a (window, group) correlation state) in process,
with tracemalloc, with every window kept open.

    .venv/bin/python benchmarks/soak_watch.py            # SOAK_SIZE=7GB (about 3 million events), SOAK_HOURS=168: a few minutes
    SOAK_SIZE=20GB SOAK_HOURS=336 .venv/bin/python benchmarks/soak_watch.py

Not part of `make test` (benchmarks/ is outside pytest's testpaths). SOAK_DIR keeps the dataset between
runs (default: a folder under /tmp).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from machine_info import cpu_model  # benchmarks/ is the script's folder, on sys.path

SIZE = os.environ.get("SOAK_SIZE", "7GB")
HOURS = int(os.environ.get("SOAK_HOURS", "168"))
FOLDER = Path(os.environ.get("SOAK_DIR", Path(tempfile.gettempdir()) / "sigma-okta-soak"))
BLOCK = 8 << 20
LATENESS = "5m"


def dataset() -> Path:
    from sigma.backends.okta.generator import GeneratorConfig, write_dataset

    path = FOLDER / f"events-{SIZE}-{HOURS}h.jsonl"
    if not path.exists():
        FOLDER.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        summary = write_dataset(GeneratorConfig(seed=3, duration=f"{HOURS}h", target_bytes=SIZE), path)
        print(
            f"generated {summary.events:,} events ({summary.bytes / 1e6:,.0f} MB) in {time.perf_counter() - began:.0f} s"
        )
    return path


def rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def checkpointed(state: Path) -> tuple[int, int | None]:
    """The followed file's offset and the newest event time in the last checkpoint."""
    try:
        with sqlite3.connect(state, timeout=1) as db:
            meta = dict(db.execute("SELECT key, value FROM meta"))
    except sqlite3.Error:
        return 0, None
    if "position" not in meta:
        return 0, None
    return json.loads(meta["position"])["offset"], json.loads(meta["newest_event_us"])


def soak(events: Path) -> dict:
    work = Path(tempfile.mkdtemp(prefix="soak-", dir=FOLDER))
    followed, state, output = work / "okta.jsonl", work / "state.db", work / "alerts.ndjson"
    followed.touch()
    size = events.stat().st_size
    command = [
        sys.executable, "-m", "sigma.backends.okta.cli", "watch", "--follow", str(followed),
        "--state", str(state), "--output", str(output), "--allowed-lateness", LATENESS,
        "--checkpoint-interval", "2", "--status-interval", "5",
    ]  # fmt: skip
    log = open(work / "watch.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)

    def feed() -> None:  # the writer: appends as fast as the disk takes it
        with open(events, "rb") as source, open(followed, "ab") as target:
            while block := source.read(BLOCK):
                cut = block.rfind(b"\n") + 1
                rest = block[cut:]
                target.write(block[:cut])
                target.flush()
                if rest:
                    source.seek(-len(rest), os.SEEK_CUR)

    writer = threading.Thread(target=feed)
    began = time.perf_counter()
    writer.start()
    samples = []  # (seconds, rss, offset, newest event time)
    while True:
        time.sleep(0.5)
        offset, newest = checkpointed(state)
        samples.append((time.perf_counter() - began, rss_of(process.pid), offset, newest))
        if offset >= size:
            break
        if process.poll() is not None:
            raise SystemExit(f"watch ended early: {(work / 'watch.log').read_text()[-2000:]}")
    seconds = time.perf_counter() - began
    peak = int(Path(f"/proc/{process.pid}/status").read_text().split("VmHWM:")[1].split()[0]) * 1024
    writer.join()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=60)
    log.close()
    with open(events, "rb") as stream:
        lines = sum(block.count(b"\n") for block in iter(lambda: stream.read(BLOCK), b""))
    alerts = output.read_bytes().count(b"\n")
    watch_log = (work / "watch.log").read_text().splitlines()[-3:]
    shutil.rmtree(work)  # the followed copy is as large as the dataset
    return {
        "events": lines,
        "bytes": size,
        "seconds": seconds,
        "samples": samples,
        "peak_rss": peak,
        "alerts": alerts,
        "exit": code,
        "log": watch_log,
    }


def flatness(samples: list[tuple]) -> list[tuple[int, float]]:
    """RSS at each tenth of the input read (MB)."""
    size = max(offset for _, _, offset, _ in samples) or 1
    shown, next_share = [], 0.1
    for _, rss, offset, _ in samples:
        if offset / size >= next_share:
            shown.append((round(next_share * 100), rss / 1e6))
            next_share += 0.1
    return shown


def bytes_per_session(
    events: Path, lines_wanted: int = 400_000
) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """Memory held by the open correlation states, with every window kept open: (sessions, bytes, per
    rule (sessions, bytes)), measured with tracemalloc by clearing each rule's store."""
    import copy
    import gc
    import tracemalloc

    from sigma.backends.okta.engine.input_report import InputReport
    from sigma.backends.okta.engine.runner import CompiledRules, EngineOptions, Scan
    from sigma.backends.okta.engine.sources import Chunk, Source
    from sigma.pipelines.okta.loader import load_bundled
    from sigma.pipelines.okta.risk_stream import split_stages

    pack = split_stages(load_bundled())[0]
    rules = CompiledRules(copy.deepcopy(pack), EngineOptions(allowed_lateness=None, workers=1))
    source = Source("soak", None, False)
    scan = Scan(rules, InputReport([source]), lambda alert: None)
    tracemalloc.start()
    with open(events, "rb") as stream:
        offset = 0
        for _ in range(lines_wanted // 2000):
            block = b"".join(stream.readline() for _ in range(2000))
            if not block:
                break
            scan.chunk(Chunk(block, offset), source)
            offset += len(block)
    gc.collect()
    per_rule = {}
    total_sessions = total_bytes = 0
    for plan, store in zip(rules.plans, scan.stores, strict=True):
        sessions = sum(len(groups) for groups in store.values())
        before = tracemalloc.get_traced_memory()[0]
        store.clear()
        gc.collect()
        freed = before - tracemalloc.get_traced_memory()[0]
        per_rule[plan.rule.title] = (sessions, freed)
        total_sessions += sessions
        total_bytes += freed
    tracemalloc.stop()
    return total_sessions, total_bytes, per_rule


def machine() -> str:
    model = cpu_model()
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main() -> None:
    events = dataset()
    result = soak(events)
    rate = result["events"] / result["seconds"]
    print(f"machine: {machine()}")
    print(
        f"watch --follow: {result['events']:,} events, {result['bytes'] / 1e6:,.0f} MB in {result['seconds']:.1f} s "
        f"= {rate:,.0f} events/s ({result['bytes'] / 1e6 / result['seconds']:.1f} MB/s), {result['alerts']:,} alerts, "
        f"peak RSS {result['peak_rss'] / 1e6:.0f} MB, exit {result['exit']}"
    )
    tenths = flatness(result["samples"])
    print("RSS by share of the input read: " + ", ".join(f"{share}%: {mb:.0f} MB" for share, mb in tenths))
    later = [mb for share, mb in tenths if share >= 30]
    if later:
        growth = (max(later) - min(later)) / min(later)
        print(f"from 30% on, RSS varies by {growth:.1%} ({'flat' if growth < 0.15 else 'NOT flat'})")
    sessions, held, per_rule = bytes_per_session(events)
    print(
        f"open sessions after 400,000 events, no window closed: {sessions:,}, {held / 1e6:.1f} MB, "
        f"{held / max(sessions, 1):,.0f} bytes per session"
    )
    for title, (count, freed) in sorted(per_rule.items(), key=lambda item: -item[1][1]):
        if count:
            print(f"  {count:>8,} sessions  {freed / count:>8,.0f} bytes each  {title}")
    for line in result["log"]:
        print(f"  watch: {line}")


if __name__ == "__main__":
    main()
