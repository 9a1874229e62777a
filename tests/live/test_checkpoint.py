"""The SQLite checkpoint: a round trip, one transaction, pruned ids, versions and rule fingerprints."""

from __future__ import annotations

import copy
import sqlite3
import stat

import pytest
from okta_builders import push_pack

from sigma.backends.okta.live.checkpoint import (
    STATE_VERSION,
    Checkpoint,
    StateError,
    StateFile,
    WindowState,
    fingerprint,
    rule_key,
)


def sample() -> Checkpoint:
    return Checkpoint(
        source_name="file:/var/log/okta.jsonl",
        position={"inode": 12, "offset": 3456},
        max_time_us=1_000_000,
        watermark_us=700_000,
        newest_event_us=1_000_000,
        windows={"rule-1": WindowState("Rule one", "f" * 32, b"\x80\x05N.")},
        ledgers={"file:/tmp/a.ndjson": {"offset": 99}},
        counters={"events_decoded": 5},
    )


def test_a_checkpoint_round_trips(tmp_path):
    state = StateFile(tmp_path / "state.db")
    assert state.load() is None
    state.save(sample())
    state.close()
    loaded = StateFile(tmp_path / "state.db").load()
    assert loaded == sample()
    assert stat.S_IMODE((tmp_path / "state.db").stat().st_mode) == 0o600


def test_delivered_ids_are_committed_at_once_and_replaced_by_the_next_checkpoint(tmp_path):
    state = StateFile(tmp_path / "state.db")
    state.save(sample())
    state.record_delivered("webhook:x", "id-1", 3_600_000_000)
    state.record_delivered("webhook:x", "id-2", None)
    # another connection (a restarted process) sees them without any further commit
    assert StateFile(tmp_path / "state.db").load().delivered == {
        "webhook:x": {"id-1": 3_600_000_000, "id-2": None}
    }
    kept = sample()
    kept.delivered = {"file:/a": {"id-9": None}}  # delivered beyond it, not given again yet
    state.save(kept)
    assert StateFile(tmp_path / "state.db").load().delivered == {"file:/a": {"id-9": None}}
    state.save(sample())
    assert StateFile(tmp_path / "state.db").load().delivered == {}


def test_a_failed_save_leaves_the_previous_checkpoint(tmp_path):
    state = StateFile(tmp_path / "state.db")
    state.save(sample())
    broken = sample()
    broken.position = {"offset": 1}
    broken.windows = {"a": WindowState("A", "x", b""), "b": None}  # the second row cannot be written
    with pytest.raises(AttributeError):
        state.save(broken)
    assert StateFile(tmp_path / "state.db").load() == sample()


def test_another_format_version_is_refused(tmp_path):
    state = StateFile(tmp_path / "state.db")
    state.save(sample())
    state.db.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", (str(STATE_VERSION + 1),))
    state.close()
    with pytest.raises(StateError, match=f"state format {STATE_VERSION + 1}"):
        StateFile(tmp_path / "state.db")


def test_a_file_that_is_not_a_state_is_refused(tmp_path):
    path = tmp_path / "state.db"
    path.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(StateError, match="not a watch state file"):
        StateFile(path)


def test_the_fingerprint_follows_the_definition_not_the_documentation(tmp_path):
    correlation = push_pack().aggregates[0]
    assert rule_key(correlation) == "8085b79b-9b85-4e67-ad63-351c9e9a5e9a"
    same = fingerprint(correlation)
    assert fingerprint(copy.deepcopy(correlation)) == same
    documented = copy.deepcopy(correlation)
    documented.description = "another description"
    assert fingerprint(documented) == same
    longer = copy.deepcopy(correlation)
    longer.timespan.seconds *= 2
    assert fingerprint(longer) != same
    # a change of a base rule it correlates changes it too (and moving the files does not)
    assert fingerprint(pack_from_copies(tmp_path / "moved").aggregates[0]) == same
    changed = pack_from_copies(tmp_path / "changed", "eventType: system.push.send_factor_verify_push_v2")
    assert fingerprint(changed.aggregates[0]) != same
    # and so do the engine's time and event id fields
    assert fingerprint(correlation, ("published", "uuid")) != fingerprint(correlation, ("when", "uuid"))


def pack_from_copies(folder, push_detection: str | None = None):
    """The seed rule's files copied to ``folder``, the push rule's eventType replaced if asked."""
    from okta_builders import PUSH_RULE_FILES

    from sigma.pipelines.okta.loader import load_rules

    folder.mkdir()
    for path in PUSH_RULE_FILES:
        text = path.read_text()
        if push_detection and path.stem == "okta_verify_push_sent":
            text = text.replace("eventType: system.push.send_factor_verify_push", push_detection)
        (folder / path.name).write_text(text)
    return load_rules([folder / path.name for path in PUSH_RULE_FILES])


def test_sqlite_holds_one_row_per_rule(tmp_path):
    state = StateFile(tmp_path / "state.db")
    state.save(sample())
    state.save(sample())
    rows = sqlite3.connect(tmp_path / "state.db").execute("SELECT rule, title FROM windows").fetchall()
    assert rows == [("rule-1", "Rule one")]
