"""The done criterion of `watch`: killed with SIGKILL at many (seeded) random points while it consumes a
followed file or the (fake) Okta API, restarted each time with the same --state and --output, it
delivers exactly the alerts of one `sigma-okta run` over the same events: none lost, none duplicated.
Also: SIGTERM and SIGINT stop it cleanly (exit 0, a last checkpoint)."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest

from sigma.pipelines.okta.loader import load_bundled
from sigma.pipelines.okta.risk_stream import split_stages

LATENESS = "5m"
CLI = [sys.executable, "-m", "sigma.backends.okta.cli"]
FAKE_OKTA = Path(__file__).with_name("fake_okta.py")
SEEDS = [int(seed) for seed in os.environ.get("WATCH_KILL_SEEDS", "11").split(",")]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[list[bytes], list[dict]]:
    """A few thousand generated events (every rule family), a last event days later that closes every
    window (and fires nothing), and the alerts of `run` over them, without the risk-stream rules
    (which watch does not evaluate)."""
    folder = tmp_path_factory.mktemp("dataset")
    events = folder / "events.jsonl"
    subprocess.run(
        [*CLI, "generate", "-o", str(events), "--seed", "5", "--sessions", "1", "--background", "2500"],
        check=True,
        capture_output=True,
    )
    lines = events.read_bytes().splitlines()
    last_push = orjson.loads(next(line for line in reversed(lines) if b"send_factor_verify_push" in line))
    last_push.update(uuid="ffffffff-0000-4000-8000-000000000001", published="2026-03-14T00:00:00.000Z")
    last_push["authenticationContext"]["externalSessionId"] = "closing-session"
    lines.append(orjson.dumps(last_push))
    events.write_bytes(b"\n".join(lines) + b"\n")
    ran = subprocess.run(
        [*CLI, "run", "-q", "--events", str(events), "--allowed-lateness", LATENESS],
        check=True,
        capture_output=True,
    )
    risk_rules = split_stages(load_bundled())[1]
    risk_ids = {str(rule.id) for rule in [*risk_rules.collection.rules, *risk_rules.aggregates]}
    expected = [
        alert for alert in map(orjson.loads, ran.stdout.splitlines()) if alert["rule_id"] not in risk_ids
    ]
    rules_firing = {alert["rule_id"] for alert in expected}
    assert len(rules_firing) >= 15 and "8085b79b-9b85-4e67-ad63-351c9e9a5e9a" in rules_firing
    return lines, expected


def by_id(alerts: list[dict]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for alert in alerts:
        assert alert["alert_id"] not in found, f"delivered twice: {alert['rule_title']} {alert['alert_id']}"
        found[alert["alert_id"]] = alert
    return found


def delivered(output: Path) -> list[dict]:
    if not output.exists():
        return []
    # a torn last line (a kill in mid-write) is not delivered: the next start drops it
    return [orjson.loads(line) for line in output.read_bytes().split(b"\n")[:-1]]


class Watcher:
    """`sigma-okta watch` as a process, started again and again with the same state and output."""

    def __init__(self, folder: Path, source: list[str], checkpoint_interval: str = "0.2"):
        self.folder = folder
        self.checkpoint_interval = checkpoint_interval
        self.source = source
        self.output = folder / "alerts.ndjson"
        self.state = folder / "state.db"
        self.log = open(folder / "watch.log", "ab")  # noqa: SIM115 - closed by stop()
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        command = [
            *CLI,
            "watch",
            *self.source,
            "--state",
            str(self.state),
            "--output",
            str(self.output),
            "--allowed-lateness",
            LATENESS,
            "--checkpoint-interval",
            self.checkpoint_interval,
            "--status-interval",
            "0",
        ]
        self.started_before = self._started_lines()
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self.log)
        self.starts += 1

    def _started_lines(self) -> int:
        log = self.folder / "watch.log"
        return log.read_text().count("watch: watching") if log.exists() else 0

    def wait_started(self, timeout: float = 20) -> None:
        """Until this start has said it is watching (its signal handlers are in place)."""
        deadline = time.monotonic() + timeout
        while self._started_lines() <= self.started_before and time.monotonic() < deadline:
            assert self.process.poll() is None, (self.folder / "watch.log").read_text()
            time.sleep(0.05)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, signum=signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=20)
        self.log.close()
        return code

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(delivered(self.output)) < count:
            assert self.process.poll() is None, (self.folder / "watch.log").read_text()
            time.sleep(0.1)


def kill_and_restart(watcher: Watcher, feed, pieces: list[list[bytes]], rng: random.Random) -> int:
    """Feed the pieces one by one, killing (SIGKILL) and restarting the watch at random moments."""
    kills = 0
    watcher.start()
    for piece in pieces:
        feed(piece)
        if rng.random() < 0.2:  # killed while starting (reading its state, the output file)
            time.sleep(rng.uniform(0.0, 0.3))
        else:  # killed while reading, delivering or checkpointing (a checkpoint every 0.2 s)
            watcher.wait_started()
            time.sleep(rng.uniform(0.0, 0.4))
        if rng.random() < 0.7:
            watcher.kill()
            kills += 1
            watcher.start()
    return kills


def pieces_of(lines: list[bytes], rng: random.Random, count: int) -> list[list[bytes]]:
    cuts = sorted(rng.sample(range(1, len(lines)), count - 1))
    return [lines[start:end] for start, end in zip([0, *cuts], [*cuts, len(lines)], strict=True)]


def assert_exactly_once(watcher: Watcher, expected: list[dict]) -> None:
    watcher.wait_for(len(expected), timeout=30)
    watcher.wait_started()
    assert watcher.stop() == 0, (watcher.folder / "watch.log").read_text()
    got = by_id(delivered(watcher.output))
    want = by_id(expected)
    missing = [want[key]["rule_title"] for key in want.keys() - got.keys()]
    extra = [got[key]["rule_title"] for key in got.keys() - want.keys()]
    assert not missing and not extra, f"missing {missing}, unexpected {extra}"
    assert got == want  # the same content too
    # some kill fell between delivering alerts and checkpointing them: the restart skipped those
    log = (watcher.folder / "watch.log").read_text()
    assert re.search(r"\(([1-9][\d,]*) alerts delivered beyond the checkpoint\)", log), log
    # one more start changes nothing: every alert is known as delivered
    size = watcher.output.stat().st_size
    watcher.log = open(watcher.folder / "watch.log", "ab")  # noqa: SIM115
    watcher.start()
    watcher.wait_started()
    time.sleep(1.0)
    assert watcher.stop() == 0
    assert watcher.output.stat().st_size == size


@pytest.mark.parametrize("seed", SEEDS)
def test_killed_at_random_points_a_followed_file_gives_each_alert_of_run_once(tmp_path, dataset, seed):
    lines, expected = dataset
    rng = random.Random(seed)
    followed = tmp_path / "okta.jsonl"
    followed.touch()
    watcher = Watcher(tmp_path, ["--follow", str(followed)])

    def append(piece: list[bytes]) -> None:
        with open(followed, "ab") as stream:
            stream.write(b"\n".join(piece) + b"\n")

    kills = kill_and_restart(watcher, append, pieces_of(lines, rng, 14), rng)
    assert kills >= 6
    assert_exactly_once(watcher, expected)


@pytest.fixture
def fake_okta(tmp_path):
    process = subprocess.Popen(
        [sys.executable, str(FAKE_OKTA), "--page-size", "150", "--rate-limit", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    url = process.stdout.readline().decode().strip()
    yield url
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)


@pytest.mark.parametrize("seed", SEEDS)
def test_killed_at_random_points_the_okta_api_gives_each_alert_of_run_once(
    tmp_path, dataset, fake_okta, seed, monkeypatch
):
    lines, expected = dataset
    rng = random.Random(seed + 1)
    monkeypatch.setenv("OKTA_API_TOKEN", "test-token")
    watcher = Watcher(
        tmp_path,
        ["--okta-org", fake_okta, "--okta-since", "2026-01-01T00:00:00Z", "--okta-poll-interval", "0.2"],
    )

    def append(piece: list[bytes]) -> None:
        body = b"[" + b",".join(piece) + b"]"
        request = urllib.request.Request(f"{fake_okta}/_fake/append", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    kills = kill_and_restart(watcher, append, pieces_of(lines, rng, 12), rng)
    assert kills >= 5
    assert_exactly_once(watcher, expected)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_checkpoints_and_exits_0(tmp_path, dataset, signum):
    lines, _ = dataset
    followed = tmp_path / "okta.jsonl"
    followed.write_bytes(b"\n".join(lines[:500]) + b"\n")
    # no checkpoint but the one at shutdown
    watcher = Watcher(tmp_path, ["--follow", str(followed)], checkpoint_interval="1h")
    watcher.start()
    deadline = time.monotonic() + 20
    while not delivered(watcher.output) and time.monotonic() < deadline:
        time.sleep(0.05)
    watcher.wait_started()
    assert watcher.stop(signum) == 0
    log = (tmp_path / "watch.log").read_text()
    assert "alerts delivered" in log and ", 1 checkpoints" in log
    offset = checkpointed_offset(watcher.state)
    assert offset > 0 and followed.read_bytes()[offset - 1 : offset] == b"\n"  # after a whole batch
    # a restart goes on from there, to the end
    watcher.log = open(tmp_path / "watch.log", "ab")  # noqa: SIM115
    watcher.start()
    deadline = time.monotonic() + 20
    while checkpointed_offset(watcher.state) < followed.stat().st_size and time.monotonic() < deadline:
        watcher.wait_started()
        watcher.process.send_signal(signum)
        assert watcher.process.wait(timeout=20) == 0
        watcher.start()
    watcher.wait_started()
    assert watcher.stop(signum) == 0
    assert checkpointed_offset(watcher.state) == followed.stat().st_size
    assert (tmp_path / "watch.log").read_text().count("resumed from") >= 1


def checkpointed_offset(state: Path) -> int:
    with sqlite3.connect(state) as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
    return json.loads(meta["position"])["offset"]


def test_stdin_to_its_end_gives_the_alerts_of_run(tmp_path, dataset):
    """`watch --follow -` reads stdin to its end, then completes every window as `run` does at the end
    of its input; alerts go to stdout."""
    lines, expected = dataset
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    with open(events, "rb") as stdin:
        done = subprocess.run(
            [*CLI, "watch", "--follow", "-", "--allowed-lateness", LATENESS, "--status-interval", "0"],
            stdin=stdin,
            capture_output=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr.decode()
    assert by_id([orjson.loads(line) for line in done.stdout.splitlines()]) == by_id(expected)
