"""The Okta System Log API source against the fake Okta server: pages, polling once caught up, rate
limits, server errors, resuming, refusals. Time is a fake clock shared by the server and the source, so
waits are recorded instead of slept."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest

from live.fake_okta import FakeOkta
from sigma.backends.okta.live.okta_api import (
    OktaLogSource,
    StaticAuthorization,
    authorization_from_environment,
)
from sigma.backends.okta.live.source import LiveSourceError

START = 1_795_996_800.0  # 2026-11-30T00:00:00Z, a whole minute (rate windows start on it)
AUTH = StaticAuthorization("SSWS test-token", "the API token in $OKTA_API_TOKEN")


class FakeClock:
    """Epoch seconds that move only when the code under test sleeps."""

    def __init__(self, now: float = START) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _events(first: int, count: int, published: str = "2026-11-30T00:00:00.000Z") -> list[dict]:
    return [
        {"uuid": f"e{index}", "published": published, "eventType": "user.session.start", "n": index}
        for index in range(first, first + count)
    ]


def _source(okta: FakeOkta, clock: FakeClock, **options) -> OktaLogSource:
    settings = {"poll_interval": 5.0, "jitter": lambda: 1.0, "clock": clock, "sleep": clock.sleep}
    return OktaLogSource(okta.url, options.pop("authorization", AUTH), **(settings | options))


def _drain(source: OktaLogSource, polls: int = 50) -> tuple[list[dict], list]:
    """Events of polls until one comes back empty without a note (caught up), and every batch."""
    events, batches = [], []
    for _ in range(polls):
        batch = source.poll(60.0)
        batches.append(batch)
        events += [orjson.loads(line) for line in batch.lines]
        if not batch.lines and not batch.notes:
            return events, batches
    raise AssertionError("the source never caught up")


def test_first_request_is_a_polling_query_then_next_links_page_through_in_order():
    clock = FakeClock()
    events = _events(0, 5)
    with FakeOkta(events, page_size=2, clock=clock) as okta:
        source = _source(okta, clock, start_span=600.0)
        source.open(None)
        got, batches = _drain(source)
        source.close()
    assert got == events
    assert [len(batch.lines) for batch in batches] == [2, 2, 1, 0]
    first = okta.requests[0]
    assert first.query == {"since": "2026-11-29T23:50:00.000Z", "limit": "1000", "sortOrder": "ASCENDING"}
    assert first.authorization == "SSWS test-token"
    assert all("after" in request.query for request in okta.requests[1:])
    # a batch's position is the next link Okta gave with its page
    assert batches[0].position["next"].endswith(okta.requests[1].query["after"])


def test_each_event_is_one_line_as_okta_sent_it():
    clock = FakeClock()
    event = {"uuid": "x", "published": "2026-11-30T00:00:00.000Z", "target": [{"id": "a"}], "n": 1.5}
    with FakeOkta([event], clock=clock) as okta:
        source = _source(okta, clock)
        source.open(None)
        batch = source.poll(1.0)
        source.close()
    assert batch.lines == [orjson.dumps(event)]
    assert batch.size > len(batch.lines[0])


def test_caught_up_the_next_link_is_polled_after_the_interval_and_late_events_come_once():
    clock = FakeClock()
    with FakeOkta(_events(0, 3), page_size=10, clock=clock) as okta:
        source = _source(okta, clock, poll_interval=5.0)
        source.open(None)
        assert len(source.poll(60.0).lines) == 3
        empty = source.poll(60.0)
        assert empty.lines == [] and clock.sleeps == []
        # nothing is asked before the interval: a short poll waits and returns empty, without a request
        requests = len(okta.requests)
        assert source.poll(2.0).lines == []
        assert len(okta.requests) == requests and clock.sleeps == [2.0]
        # an event Okta stored late, with an older `published`, is served after the others, once
        late = _events(3, 2, published="2026-11-01T00:00:00.000Z")
        okta.append(late)
        batch = source.poll(60.0)
        assert clock.sleeps == [2.0, 3.0]
        assert [orjson.loads(line) for line in batch.lines] == late
        rest, _ = _drain(source)
        source.close()
    assert rest == []


def test_remaining_zero_pauses_until_the_reset_without_a_429():
    clock = FakeClock()
    with FakeOkta(_events(0, 6), page_size=2, rate_limit=2, rate_window=60.0, clock=clock) as okta:
        source = _source(okta, clock)
        source.open(None)
        assert len(source.poll(60.0).lines) == 2
        second = source.poll(60.0)
        assert len(second.lines) == 2
        assert any("rate limit reached: pausing 60s" in note for note in second.notes)
        third = source.poll(60.0)
        source.close()
    assert len(third.lines) == 2
    assert clock.sleeps == [60.0]
    assert [request.status for request in okta.requests] == [200, 200, 200]


def test_a_429_waits_for_the_reset_then_goes_on():
    clock = FakeClock()
    events = _events(0, 4)
    with FakeOkta(events, page_size=2, clock=clock) as okta:
        source = _source(okta, clock)
        source.open(None)
        first = source.poll(60.0)
        okta.fail_next(429, reset_in=7)
        refused = source.poll(60.0)
        assert refused.lines == [] and refused.position == first.position
        assert refused.notes == ["429 Too Many Requests: waiting 7s for the reset"]
        rest, _ = _drain(source)
        source.close()
    assert clock.sleeps[0] == 7.0
    assert [orjson.loads(line) for line in first.lines] + rest == events


def test_a_429_without_a_reset_backs_off():
    clock = FakeClock()
    with FakeOkta(_events(0, 1), clock=clock) as okta:
        source = _source(okta, clock)
        source.open(None)
        okta.fail_next(429, reset_in=-30)  # a reset already past: our clock is ahead of Okta's
        assert source.poll(60.0).notes == ["429 Too Many Requests: retry 1 in 1.0s"]
        assert len(source.poll(60.0).lines) == 1
        source.close()
    assert clock.sleeps == [1.0]


def test_server_errors_mid_stream_back_off_and_lose_or_repeat_nothing():
    clock = FakeClock()
    events = _events(0, 7)
    with FakeOkta(events, page_size=2, clock=clock) as okta:
        source = _source(okta, clock, max_backoff=3.0)
        source.open(None)
        got = [orjson.loads(line) for line in source.poll(60.0).lines]
        okta.fail_next(500, times=3)
        okta.fail_next(503)
        rest, batches = _drain(source)
        source.close()
    assert got + rest == events
    assert [batch.notes for batch in batches[:4]] == [
        ["500 Internal Server Error (E0000009): retry 1 in 1.0s"],
        ["500 Internal Server Error (E0000009): retry 2 in 2.0s"],
        ["500 Internal Server Error (E0000009): retry 3 in 3.0s"],
        ["503 Service is temporarily unavailable (E0000010): retry 4 in 3.0s"],
    ]
    assert clock.sleeps == [1.0, 2.0, 3.0, 3.0]  # capped at max_backoff; jitter pinned to its top


def test_the_backoff_is_jittered_below_its_ceiling():
    clock = FakeClock()
    with FakeOkta(_events(0, 1), clock=clock) as okta:
        source = _source(okta, clock, jitter=lambda: 0.25)
        source.open(None)
        okta.fail_next(500, times=3)
        notes = [source.poll(60.0).notes[0] for _ in range(3)]
        source.close()
    assert [note.rsplit(" in ", 1)[1] for note in notes] == ["0.2s", "0.5s", "1.0s"]


def test_a_refused_connection_is_retried_and_keeps_the_position():
    clock = FakeClock()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: nothing listens there
    source = OktaLogSource(f"http://127.0.0.1:{port}", AUTH, clock=clock, sleep=clock.sleep)
    source.open(None)
    first = source.poll(1.0)
    second = source.poll(1.0)
    source.close()
    assert first.lines == [] and "ConnectionRefusedError" in first.notes[0]
    assert second.position == first.position


def test_a_kept_alive_connection_the_server_closed_is_reopened_without_a_retry():
    clock = FakeClock()
    events = _events(0, 5)
    with FakeOkta(events, page_size=2, drop_connections=True, clock=clock) as okta:
        source = _source(okta, clock)
        source.open(None)
        got, batches = _drain(source)
        source.close()
    assert got == events
    assert [batch.notes for batch in batches] == [[], [], [], []] and clock.sleeps == []


def test_deep_elements_and_non_objects_in_a_page_become_lines_the_engine_can_count():
    clock = FakeClock()
    deep: object = "leaf"
    for _ in range(300):  # orjson reads it but does not write it
        deep = [deep]
    with FakeOkta(clock=clock) as okta:
        source = _source(okta, clock)
        source.open(None)
        okta.append([{"uuid": "d", "deep": deep}, 7])
        batch = source.poll(1.0)
        source.close()
    assert json.loads(batch.lines[0]) == {"uuid": "d", "deep": deep} and batch.lines[1] == b"7"


def test_a_page_that_is_not_a_json_array_is_retried_then_refused():
    clock = FakeClock()
    events = _events(0, 2)
    with FakeOkta(events, clock=clock) as okta:
        source = _source(okta, clock, max_bad_pages=3)
        source.open(None)
        okta.fail_next(200, times=2, body=b"<html>Sign in to the proxy</html>")
        assert source.poll(60.0).notes[0].startswith("a page that is not a JSON array ('<html>Sign in")
        assert source.poll(60.0).lines == []
        got, _ = _drain(source)
        assert got == events
        okta.fail_next(200, times=3, body=b'{"not": "a list"}')
        source.poll(60.0)
        source.poll(60.0)
        with pytest.raises(LiveSourceError, match=r'3 answers in a row were not a JSON array .*\{"not"'):
            source.poll(60.0)
        source.close()


def test_resuming_from_a_position_repeats_and_loses_nothing():
    clock = FakeClock()
    events = _events(0, 9)
    with FakeOkta(events[:7], page_size=3, clock=clock) as okta:
        first = _source(okta, clock)
        first.open(None)
        batch = first.poll(60.0)
        got = [orjson.loads(line) for line in batch.lines]
        first.close()  # stopped after one batch; two more events arrive while it is down
        okta.append(events[7:])
        second = _source(okta, clock)
        second.open(orjson.loads(orjson.dumps(batch.position)))  # as the checkpoint stores it
        rest, batches = _drain(second)
        second.close()
    assert got + rest == events
    assert batches[0].notes[0].startswith("resuming at http://127.0.0.1:")


def test_a_position_of_another_source_or_org_is_refused():
    clock = FakeClock()
    with FakeOkta(clock=clock) as okta:
        source = _source(okta, clock)
        with pytest.raises(LiveSourceError, match=r"not one of the Okta API .*path='/var/log/x'"):
            source.open({"source": "file", "path": "/var/log/x", "offset": 3})
        with pytest.raises(LiveSourceError, match=r"position is for https://other\.okta\.com"):
            source.open({"source": "okta", "org": "https://other.okta.com", "next": "https://other"})
        foreign = {"source": "okta", "org": okta.url, "next": "https://evil.example/api/v1/logs"}
        with pytest.raises(LiveSourceError, match=r"refusing to follow https://evil\.example"):
            source.open(foreign)


def test_bad_credentials_stop_with_what_to_fix():
    clock = FakeClock()
    with FakeOkta(_events(0, 1), forbidden=["read-nothing"], clock=clock) as okta:
        wrong = _source(okta, clock, authorization=StaticAuthorization("SSWS nope", "the token in $T"))
        wrong.open(None)
        with pytest.raises(LiveSourceError, match=r"401 Invalid token provided \(E0000011\): Okta refused "):
            wrong.poll(1.0)
        weak = StaticAuthorization("Bearer read-nothing", "the access token in $A")
        forbidden = _source(okta, clock, authorization=weak)
        forbidden.open(None)
        with pytest.raises(LiveSourceError, match=r"403 .*the access token in \$A .*okta\.logs\.read"):
            forbidden.poll(1.0)


def test_credentials_come_from_the_environment():
    both = {"OKTA_API_TOKEN": "abc", "OKTA_ACCESS_TOKEN": "xyz"}
    assert authorization_from_environment(environ=both)() == "SSWS abc"
    assert authorization_from_environment(environ={"OKTA_ACCESS_TOKEN": "xyz"})() == "Bearer xyz"
    assert authorization_from_environment("MINE", environ={"MINE": " t \n"})() == "SSWS t"
    with pytest.raises(LiveSourceError, match=r"\$OKTA_API_TOKEN .*\$OKTA_ACCESS_TOKEN .*okta\.logs\.read"):
        authorization_from_environment(environ={})


def test_a_bearer_access_token_reads_the_log():
    clock = FakeClock()
    with FakeOkta(_events(0, 1), tokens=["access"], clock=clock) as okta:
        source = _source(okta, clock, authorization=StaticAuthorization("Bearer access", "test"))
        source.open(None)
        assert len(source.poll(1.0).lines) == 1
        source.close()


@pytest.mark.parametrize(
    "url",
    ["http://org.okta.com", "https://org.okta.com/api/v1/logs", "org.okta.com", "https://"],
)
def test_an_org_url_that_is_not_a_base_https_url_is_refused(url):
    with pytest.raises(LiveSourceError, match="--okta-org"):
        OktaLogSource(url, AUTH)


def test_a_since_and_a_filter_are_sent_on_the_first_request():
    clock = FakeClock()
    with FakeOkta(clock=clock) as okta:
        source = _source(okta, clock, since="2026-11-29T00:00:00Z", query_filter='eventType sw "user."')
        source.open(None)
        source.poll(1.0)
        source.close()
    assert okta.requests[0].query["since"] == "2026-11-29T00:00:00Z"
    assert okta.requests[0].query["filter"] == 'eventType sw "user."'


def test_the_fake_runs_as_a_process_with_http_controls(tmp_path):
    events = _events(0, 3)
    events_file = tmp_path / "events.json"
    events_file.write_bytes(orjson.dumps(events))
    script = Path(__file__).with_name("fake_okta.py")
    server = subprocess.Popen(
        [sys.executable, str(script), str(events_file), "--page-size", "2"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        clock = FakeClock(time.time())
        source = OktaLogSource(url, AUTH, clock=clock, sleep=clock.sleep, jitter=lambda: 1.0)
        source.open(None)
        got = [orjson.loads(line) for line in source.poll(1.0).lines]
        _post(f"{url}/_fake/fail", {"status": 500, "times": 1})
        assert source.poll(1.0).notes[0].startswith("500 Internal Server Error")
        _post(f"{url}/_fake/append", _events(3, 1))
        rest, _ = _drain(source)
        source.close()
        with urllib.request.urlopen(f"{url}/_fake/requests") as answer:
            statuses = [request["status"] for request in orjson.loads(answer.read())]
    finally:
        server.terminate()
        assert server.wait(timeout=10) == 0
    assert got + rest == _events(0, 4)
    assert statuses == [200, 500, 200, 200]  # e0-e1, the failure, e2-e3, caught up


def _post(url: str, payload: object) -> None:
    request = urllib.request.Request(url, data=orjson.dumps(payload), method="POST")
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 204


def test_the_fake_serves_bounded_queries_by_published_and_ends_them():
    clock = FakeClock()
    events = [
        {"uuid": uuid, "published": f"2026-11-29T0{hour}:00:00.000Z"}
        for uuid, hour in [("c", 3), ("a", 1), ("d", 4), ("b", 2)]
    ]
    with FakeOkta(events, clock=clock) as okta:
        base = f"{okta.url}/api/v1/logs?since=2026-11-29T02:00:00Z&until=2026-11-29T05:00:00Z&limit=2"
        pages, url = [], base + "&sortOrder=DESCENDING"
        while url:
            status, headers, page = _get(url)
            assert status == 200 and headers["X-Rate-Limit-Remaining"]
            pages.append([event["uuid"] for event in page])
            url = next((link for link, rel in _links(headers) if rel == "next"), None)
        assert pages == [["d", "c"], ["b"]]  # [since, until) by published, then no next link
        assert _get(base + "&after=bm9wZQ")[0] == 400
        assert _get(base.replace("limit=2", "limit=many"))[0] == 400
        assert _get(f"{okta.url}/api/v1/users")[0] == 404


def _get(url: str) -> tuple[int, dict[str, list[str]], object]:
    request = urllib.request.Request(url, headers={"Authorization": "SSWS test-token"})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, _headers(answer.headers), orjson.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, _headers(error.headers), orjson.loads(error.read())


def _headers(message) -> dict[str, list[str]]:
    return {name: message.get_all(name) for name in message}


def _links(headers: dict[str, list[str]]) -> list[tuple[str, str]]:
    found = []
    for value in headers.get("Link", []):
        target, _, rel = value.partition(">; rel=")
        found.append((target.lstrip("<"), rel.strip('"')))
    return found


def test_https_verifies_the_certificate_and_trusts_a_ca_given_in_ssl_cert_file(tmp_path, monkeypatch):
    pytest.importorskip("cryptography")
    certificate, key = _self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    clock = FakeClock()
    with FakeOkta(_events(0, 1), tls=context, clock=clock) as okta:
        assert okta.url.startswith("https://127.0.0.1:")
        untrusted = _source(okta, clock)
        untrusted.open(None)
        with pytest.raises(LiveSourceError, match=r"TLS certificate of 127\.0\.0\.1:\d+ is not trusted"):
            untrusted.poll(1.0)
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate))  # what the error message suggests
        trusted = _source(okta, clock)
        trusted.open(None)
        assert len(trusted.poll(1.0).lines) == 1
        trusted.close()


def _self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake okta")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    certificate_path, key_path = folder / "cert.pem", folder / "key.pem"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return certificate_path, key_path
