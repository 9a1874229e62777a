"""Sinks: the output file as its own ledger, and a webhook that fails, recovers, or dead-letters."""

from __future__ import annotations

import http.server
import threading

import orjson
import pytest

from sigma.backends.okta.live.sinks import FileSink, SinkError, WebhookSink


def payload(alert_id: str, window_end: str | None = None) -> bytes:
    alert = {"alert_id": alert_id, "rule_title": "t"}
    if window_end is not None:
        alert["window"] = {"start": "2026-03-10T13:00:00.000Z", "end": window_end}
    return orjson.dumps(alert)


class TestFileSink:
    def test_alerts_are_appended_one_per_line_and_synced_at_a_checkpoint(self, tmp_path):
        path = tmp_path / "out" / "alerts.ndjson"
        sink = FileSink(path)
        assert sink.open(None) == {}
        sink.deliver("a", payload("a"))
        assert path.read_bytes() == payload("a") + b"\n"  # written through: a kill loses nothing
        sink.deliver("b", payload("b"))
        assert sink.sync() == {"offset": path.stat().st_size}
        sink.close()

    def test_reopening_reads_the_ids_written_since_the_ledger_offset(self, tmp_path):
        path = tmp_path / "alerts.ndjson"
        sink = FileSink(path)
        sink.open(None)
        sink.deliver("a", payload("a"))
        ledger = sink.sync()
        sink.deliver("b", payload("b"))
        sink.deliver("c", payload("c", "2026-03-10T14:00:00.000Z"))
        sink.close()
        again = FileSink(path)
        # with the end of a correlation alert's window (epoch µs), None for a match alert
        assert again.open(ledger) == {"b": None, "c": 1773151200_000000}
        again.close()
        assert FileSink(path).open(None).keys() == {"a", "b", "c"}

    def test_a_torn_last_line_is_dropped_with_a_warning(self, tmp_path):
        path = tmp_path / "alerts.ndjson"
        path.write_bytes(payload("a") + b"\n" + payload("b")[:9])
        warnings = []
        sink = FileSink(path, warn=warnings.append)
        assert sink.open(None) == {"a": None}
        assert path.read_bytes() == payload("a") + b"\n"
        assert "torn last line" in warnings[0]
        sink.deliver("b", payload("b"))
        sink.close()
        assert path.read_bytes().splitlines() == [payload("a"), payload("b")]

    def test_a_file_cut_shorter_than_the_ledger_is_read_whole(self, tmp_path):
        path = tmp_path / "alerts.ndjson"
        path.write_bytes(payload("a") + b"\n")
        warnings = []
        assert FileSink(path, warn=warnings.append).open({"offset": 10_000}) == {"a": None}
        assert "shorter than at the last checkpoint" in warnings[0]

    def test_a_file_that_cannot_be_written_is_named(self, tmp_path):
        (tmp_path / "folder").mkdir()
        with pytest.raises(SinkError, match="folder"):
            FileSink(tmp_path / "folder").open(None)


class Receiver(http.server.BaseHTTPRequestHandler):
    """Answers with the next status of ``server.script`` (then 200), recording what it received."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        status = server.script.pop(0) if server.script else 200
        server.received.append((status, self.headers["Idempotency-Key"], self.headers.get("X-Token"), body))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.script, server.received = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def webhook(server, tmp_path, **options) -> tuple[WebhookSink, list[float]]:
    sleeps: list[float] = []
    sink = WebhookSink(
        f"http://127.0.0.1:{server.server_address[1]}/alerts",
        tmp_path / "dead.ndjson",
        sleep=sleeps.append,
        **options,
    )
    sink.open(None)
    return sink, sleeps


class TestWebhookSink:
    def test_a_failing_webhook_is_retried_with_capped_backoff_until_it_recovers(self, receiver, tmp_path):
        receiver.script = [503, 500, 429, 502]
        sink, sleeps = webhook(
            receiver, tmp_path, retries=5, backoff=1.0, max_backoff=3.0, headers={"X-Token": "k"}
        )
        sink.deliver("id-1", payload("id-1"))
        assert [status for status, *_ in receiver.received] == [503, 500, 429, 502, 200]
        assert sleeps == [1.0, 2.0, 3.0, 3.0]  # doubling, capped
        assert {key for _, key, _, _ in receiver.received} == {"id-1"}  # the idempotency key: the alert id
        assert all(token == "k" for _, _, token, _ in receiver.received)
        assert orjson.loads(receiver.received[-1][3]) == {"alert_id": "id-1", "rule_title": "t"}
        assert (tmp_path / "dead.ndjson").read_bytes() == b""
        sink.close()

    def test_exhausted_retries_put_the_alert_in_the_dead_letter_file(self, receiver, tmp_path):
        receiver.script = [503] * 10
        warnings = []
        sink, sleeps = webhook(receiver, tmp_path, retries=2, backoff=0.5)
        sink.warn = warnings.append
        sink.deliver("id-2", payload("id-2"))
        assert len(receiver.received) == 3 and sleeps == [0.5, 1.0]
        (record,) = [orjson.loads(line) for line in (tmp_path / "dead.ndjson").read_bytes().splitlines()]
        assert record == {
            "alert_id": "id-2",
            "error": "HTTP 503",
            "attempts": 3,
            "alert": {"alert_id": "id-2", "rule_title": "t"},
        }
        assert "dead-lettered" in warnings[0]
        assert sink.sync() == {"dead_lettered": 1}
        # the webhook recovered: the next alert goes through
        receiver.script = []
        sink.deliver("id-3", payload("id-3"))
        assert receiver.received[-1][:2] == (200, "id-3")
        sink.close()

    def test_a_request_the_receiver_refuses_is_not_retried(self, receiver, tmp_path):
        receiver.script = [400]
        sink, sleeps = webhook(receiver, tmp_path)
        sink.deliver("id-4", payload("id-4"))
        assert len(receiver.received) == 1 and sleeps == []
        assert orjson.loads((tmp_path / "dead.ndjson").read_bytes())["error"] == "HTTP 400"

    def test_an_unreachable_webhook_dead_letters_after_its_retries(self, tmp_path):
        import socket

        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        sleeps = []
        sink = WebhookSink(
            f"http://127.0.0.1:{port}/", tmp_path / "dead.ndjson", retries=1, sleep=sleeps.append
        )
        sink.open(None)
        sink.deliver("id-5", payload("id-5"))
        record = orjson.loads((tmp_path / "dead.ndjson").read_bytes())
        assert record["attempts"] == 2 and "Connection" in record["error"]

    def test_only_http_urls(self, tmp_path):
        with pytest.raises(SinkError, match="not an http"):
            WebhookSink("ftp://example.com/", tmp_path / "dead.ndjson")
