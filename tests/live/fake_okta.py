"""A local stand-in for Okta's System Log API (`GET /api/v1/logs`), for the live-source and watch tests.

It behaves as Okta documents, as far as a reader of the log can tell:

- a *polling query* (``since`` and no ``until``, ``sortOrder=ASCENDING``) serves events in the order
  the server stored them (``since`` is compared with that storage time, as Okta compares it with its
  persistence time), ``limit`` (at most 1000, default 100; at most ``page_size``) per page, and
  always a ``Link: <...>; rel="next"`` header whose opaque ``after`` cursor continues after the page,
  also on an empty page once caught up. An event appended later is served after the others even when
  its ``published`` is older;
- a *bounded query* (``until`` given, or ``sortOrder=DESCENDING``) serves the events whose
  ``published`` is in ``[since, until)``, sorted by it, and has no next link after its last page;
- ``X-Rate-Limit-Limit``, ``-Remaining`` and ``-Reset`` (epoch seconds) on every answer, from a fixed
  window of ``rate_limit`` requests per ``rate_window`` seconds (a request beyond it gets a 429);
- 401 ``E0000011`` for an unknown token, 403 ``E0000006`` for a token in ``forbidden``, 400
  ``E0000001`` for a bad parameter or cursor, and the failures a test asks for with :meth:`fail_next`;
- an org authorization server (``POST /oauth2/v1/token``) for the apps in ``oauth_clients`` (client id
  to PEM public key): the client-credentials grant with a private-key JWT, verified as Okta does
  (signature, ``aud`` = the token URL, ``iss`` = ``sub`` = the client id, times, scope
  ``okta.logs.read``), issuing ``Bearer`` tokens that expire after ``token_lifetime`` (:meth:`revoke`
  ends one early). It needs PyJWT[crypto]; the rest of the server only the standard library.

Options: ``page_size``, ``tokens`` (accepted; default ``test-token``), ``forbidden``, ``rate_limit`` /
``rate_window``, ``clock`` (shared with the source under test, so resets and token expiry follow it),
``oauth_clients`` / ``token_lifetime`` / ``require_dpop``, ``drop_connections`` (close each kept-alive
connection silently after its answer) and ``tls`` (an ``ssl.SSLContext``: serve HTTPS).

In a test::

    with FakeOkta(events, page_size=2, clock=clock) as okta:
        source = OktaLogSource(okta.url, StaticAuthorization("SSWS test-token", "test"), ...)
        okta.append([late_event])
        okta.fail_next(500)
        okta.requests  # RecordedRequest per request, in order

As a process (the watch tests restart `watch` against one server)::

    python tests/live/fake_okta.py EVENTS.json [--page-size N] [--token T] [--rate-limit N]

prints ``http://127.0.0.1:PORT`` on its first stdout line and serves until SIGTERM or SIGINT. EVENTS is
a JSON array or NDJSON. The same controls as the API are HTTP endpoints, unauthenticated:
``POST /_fake/append`` (a JSON array of events), ``POST /_fake/fail`` (``{"status": 500, "times": 1}``),
``GET /_fake/requests`` (the request log as JSON).

Only the standard library is used (PyJWT for the token endpoint), so the script runs with any
Python 3.11.
"""

from __future__ import annotations

import argparse
import base64
import json
import signal
import ssl
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULT_TOKEN = "test-token"
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
_ERRORS = {
    400: ("E0000001", "Api validation failed: {}"),
    401: ("E0000011", "Invalid token provided"),
    403: ("E0000006", "You do not have permission to perform the requested action"),
    404: ("E0000007", "Not found: Resource not found: {} (Url)"),
    429: ("E0000047", "API call exceeded rate limit due to too many requests."),
    500: ("E0000009", "Internal Server Error"),
    503: ("E0000010", "Service is temporarily unavailable"),
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it: ``query`` holds the last value of each parameter."""

    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    status: int
    events: int  # how many events the answer carried


@dataclass
class _Failure:
    status: int
    times: int
    body: bytes | None
    reset_in: float | None


class FakeOkta:
    """The fake org: start it (or use it as a context manager), read :attr:`url`, feed it events."""

    def __init__(
        self,
        events: Iterable[dict[str, Any]] = (),
        *,
        page_size: int = DEFAULT_LIMIT,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        forbidden: Iterable[str] = (),
        rate_limit: int = 1000,
        rate_window: float = 60.0,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        oauth_clients: dict[str, bytes] | None = None,
        token_lifetime: float = 3600.0,
        require_dpop: bool = False,
        drop_connections: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.page_size = page_size
        self.oauth_clients = dict(oauth_clients or {})  # client id -> PEM public key
        self.token_lifetime = token_lifetime
        self.require_dpop = require_dpop
        # close every connection after its answer without saying so (as a front end closes idle
        # kept-alive connections): the client finds out when it sends the next request
        self.drop_connections = drop_connections
        self.assertions: list[dict[str, Any]] = []  # verified client-assertion claims, with their kid
        self._access_tokens: dict[str, float] = {}  # issued access token -> expiry
        self.tokens = set(tokens)
        self.forbidden = set(forbidden)
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.clock = clock
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stored: list[tuple[float, dict[str, Any]]] = []  # (storage time, event), storage order
        self._failures: list[_Failure] = []
        self._window = -1
        self._window_count = 0
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._scheme = "http"
        if tls is not None:  # HTTPS with the test's certificate, as Okta is only reached over TLS
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread: threading.Thread | None = None
        self.append(events)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host}:{port}"

    # -- controls ---------------------------------------------------------------------------------

    def append(self, events: Iterable[dict[str, Any]]) -> None:
        """Store events now (their storage time is the clock's now): later polls serve them."""
        with self._lock:
            now = self.clock()
            # copies, so a test's later changes do not reach the server; a non-object is kept (Okta
            # never sends one, but a reader must count it rather than fail)
            self._stored.extend((now, dict(event) if isinstance(event, dict) else event) for event in events)

    def fail_next(
        self, status: int, times: int = 1, *, body: bytes | None = None, reset_in: float | None = None
    ) -> None:
        """Answer the next ``times`` log requests with ``status`` (an Okta error body unless ``body``).
        A 429 says ``X-Rate-Limit-Remaining: 0`` and a reset ``reset_in`` seconds away (default: the
        end of the rate window). ``status=200`` with a ``body`` serves that body as the page."""
        with self._lock:
            self._failures.append(_Failure(status, times, body, reset_in))

    @property
    def stored(self) -> list[dict[str, Any]]:
        with self._lock:
            return [event for _, event in self._stored]

    # -- lifetime ---------------------------------------------------------------------------------

    def start(self) -> FakeOkta:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="fake-okta", daemon=True
        )  # a short poll: stop() returns at once
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> FakeOkta:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- answering --------------------------------------------------------------------------------

    def answer_logs(
        self, query: dict[str, str], authorization: str | None
    ) -> tuple[int, dict[str, list[str]], bytes, int]:
        """(status, headers, body, events served) for ``GET /api/v1/logs?query``."""
        with self._lock:
            headers, exhausted = self._count_request()
            if not self._authorized(authorization):
                return (401, headers, _error(401), 0)
            if self._token(authorization) in self.forbidden:
                return (403, headers, _error(403), 0)
            failure = self._take_failure()
            if failure is not None:
                if failure.status == 429:
                    headers["X-Rate-Limit-Remaining"] = ["0"]
                    if failure.reset_in is not None:
                        headers["X-Rate-Limit-Reset"] = [str(int(self.clock() + failure.reset_in))]
                return (failure.status, headers, failure.body or _error(failure.status), 0)
            if exhausted:
                return (429, headers, _error(429), 0)
            try:
                page, next_after = self._page(query)
            except ValueError as error:
                return (400, headers, _error(400, str(error)), 0)
            headers["Link"] = [f'<{self._link(query, query.get("after"))}>; rel="self"']
            if next_after is not None:
                headers["Link"].append(f'<{self._link(query, next_after)}>; rel="next"')
            return (200, headers, json.dumps(page).encode(), len(page))

    def _count_request(self) -> tuple[dict[str, list[str]], bool]:
        window = int(self.clock() // self.rate_window)
        if window != self._window:
            self._window, self._window_count = window, 0
        self._window_count += 1
        remaining = max(0, self.rate_limit - self._window_count)
        reset = int((window + 1) * self.rate_window)
        headers = {
            "X-Rate-Limit-Limit": [str(self.rate_limit)],
            "X-Rate-Limit-Remaining": [str(remaining)],
            "X-Rate-Limit-Reset": [str(reset)],
        }
        return headers, self._window_count > self.rate_limit

    def _take_failure(self) -> _Failure | None:
        if not self._failures:
            return None
        failure = self._failures[0]
        failure.times -= 1
        if failure.times <= 0:
            self._failures.pop(0)
        return failure

    def revoke(self, token: str) -> None:
        """An issued access token stops working (the API answers 401 for it)."""
        with self._lock:
            self._access_tokens[token] = float("-inf")

    def answer_token(self, form: dict[str, str]) -> tuple[int, bytes]:
        """``POST /oauth2/v1/token``: client credentials with a private-key JWT, as Okta checks them."""
        import jwt  # PyJWT[crypto], the oauth extra: only the OAuth tests need it

        def refusal(status: int, error: str, description: str) -> tuple[int, bytes]:
            return status, json.dumps({"error": error, "error_description": description}).encode()

        if self.require_dpop:
            return refusal(400, "invalid_dpop_proof", "The DPoP proof JWT header is missing.")
        if form.get("grant_type") != "client_credentials":
            return refusal(400, "unsupported_grant_type", "The grant type is not supported.")
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return refusal(401, "invalid_client", "No client credentials found.")
        assertion = form.get("client_assertion", "")
        try:
            client_id = jwt.decode(assertion, options={"verify_signature": False})["iss"]
            claims = jwt.decode(
                assertion,
                self.oauth_clients[client_id],
                algorithms=["RS256", "ES256", "ES384", "ES512"],
                audience=f"{self.url}/oauth2/v1/token",
                issuer=client_id,
                # times are checked below against this server's clock (PyJWT's is the real one)
                options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"], "verify_exp": False},
            )
        except (jwt.PyJWTError, KeyError):
            return refusal(401, "invalid_client", "The client_assertion signature is invalid.")
        if not claims["iat"] - 60 <= self.clock() < claims["exp"]:
            return refusal(401, "invalid_client", "The client_assertion token is expired.")
        if claims["sub"] != client_id:
            return refusal(401, "invalid_client", "The client_assertion sub must be the client id.")
        if "okta.logs.read" not in form.get("scope", "").split():
            return refusal(400, "invalid_scope", "The requested scope is invalid.")
        with self._lock:
            token = f"at-{len(self._access_tokens) + 1}"
            self._access_tokens[token] = self.clock() + self.token_lifetime
            kid = jwt.get_unverified_header(assertion).get("kid")
            self.assertions.append({**claims, "kid": kid})
        body = {"token_type": "Bearer", "expires_in": int(self.token_lifetime), "access_token": token}
        return 200, json.dumps(body | {"scope": "okta.logs.read"}).encode()

    @staticmethod
    def _token(authorization: str | None) -> str | None:
        scheme, _, token = (authorization or "").partition(" ")
        return token.strip() if scheme in ("SSWS", "Bearer") else None

    def _authorized(self, authorization: str | None) -> bool:
        token = self._token(authorization)
        if token in self._access_tokens:  # issued by the token endpoint: valid until it expires
            return authorization.startswith("Bearer ") and self.clock() < self._access_tokens[token]
        return token is not None and (token in self.tokens or token in self.forbidden)

    def _page(self, query: dict[str, str]) -> tuple[list[dict[str, Any]], str | None]:
        """The page's events and the cursor after them (None after a bounded query's last page)."""
        limit = _int_parameter(query, "limit", DEFAULT_LIMIT)
        size = max(1, min(limit, MAX_LIMIT, self.page_size))
        order = query.get("sortOrder", "ASCENDING")
        if order not in ("ASCENDING", "DESCENDING"):
            raise ValueError("sortOrder (ASCENDING or DESCENDING)")
        since = _time_parameter(query, "since")
        until = _time_parameter(query, "until")
        polling = until is None and order == "ASCENDING"
        if "after" in query:
            kind, start = _read_cursor(query["after"])
            if kind != ("poll" if polling else "bounded"):
                raise ValueError("after (a cursor of another query)")
        else:
            start = 0
        if polling:
            if "after" not in query:
                start = next(
                    (i for i, (stored, _) in enumerate(self._stored) if since is None or stored >= since),
                    len(self._stored),
                )
            page = [event for _, event in self._stored[start : start + size]]
            return page, _cursor("poll", start + len(page))
        low = since if since is not None else self.clock() - 7 * 86400  # Okta's default: a week back
        high = until if until is not None else self.clock()
        chosen = [e for _, e in self._stored if low <= _published(e) < high]
        chosen.sort(key=_published, reverse=order == "DESCENDING")
        page = chosen[start : start + size]
        end = start + len(page)
        return page, _cursor("bounded", end) if end < len(chosen) else None

    def _link(self, query: dict[str, str], after: str | None) -> str:
        parameters = {key: value for key, value in query.items() if key != "after"}
        if after is not None:
            parameters["after"] = after
        return f"{self.url}/api/v1/logs?{urllib.parse.urlencode(parameters)}"

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


def _handler_for(okta: FakeOkta) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Okta's front end
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
            authorization = self.headers.get("Authorization")
            if parts.path == "/_fake/requests":
                self._send(200, {}, json.dumps([asdict(r) for r in okta.requests]).encode())
                return
            if parts.path != "/api/v1/logs":
                status, headers, body, served = 404, {}, _error(404, parts.path), 0
            else:
                status, headers, body, served = okta.answer_logs(query, authorization)
            okta.record(RecordedRequest("GET", parts.path, query, authorization, status, served))
            self._send(status, headers, body)
            if okta.drop_connections:
                self.close_connection = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path == "/oauth2/v1/token":
                status, body = okta.answer_token(dict(urllib.parse.parse_qsl(raw.decode())))
                okta.record(RecordedRequest("POST", self.path, {}, None, status, 0))
                self._send(status, {}, body)
                return
            payload = json.loads(raw or b"null")
            if self.path == "/_fake/append" and isinstance(payload, list):
                okta.append(payload)
            elif self.path == "/_fake/fail" and isinstance(payload, dict):
                okta.fail_next(int(payload["status"]), int(payload.get("times", 1)))
            else:
                self._send(404, {}, _error(404, self.path))
                return
            self._send(204, {}, b"")

        def _send(self, status: int, headers: dict[str, list[str]], body: bytes) -> None:
            self.send_response(status)
            for name, values in headers.items():
                for value in values:
                    self.send_header(name, value)
            if body or status != 204:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests read okta.requests instead

    return Handler


def _error(status: int, detail: str = "") -> bytes:
    code, summary = _ERRORS.get(status, (f"E{status:07d}", "Error"))
    return json.dumps(
        {
            "errorCode": code,
            "errorSummary": summary.format(detail),
            "errorLink": code,
            "errorId": f"oae{status}fake",
            "errorCauses": [],
        }
    ).encode()


def _int_parameter(query: dict[str, str], name: str, default: int) -> int:
    try:
        return int(query[name]) if name in query else default
    except ValueError:
        raise ValueError(name) from None


def _time_parameter(query: dict[str, str], name: str) -> float | None:
    if name not in query:
        return None
    try:
        return datetime.fromisoformat(query[name].replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ValueError(f"{name} (an ISO 8601 time)") from None


def _published(event: dict[str, Any]) -> float:
    if not isinstance(event, dict):
        return 0.0
    try:
        return datetime.fromisoformat(str(event.get("published")).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _cursor(kind: str, index: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{index}".encode()).decode().rstrip("=")


def _read_cursor(after: str) -> tuple[str, int]:
    try:
        kind, _, index = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)).decode().partition(":")
        return kind, int(index)
    except ValueError:
        raise ValueError("after (not a cursor this server gave)") from None


def _read_events(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A fake Okta System Log API on 127.0.0.1")
    parser.add_argument("events", type=Path, nargs="?", help="a JSON array or NDJSON of events")
    parser.add_argument("--page-size", type=int, default=DEFAULT_LIMIT)
    parser.add_argument("--token", action="append", help=f"an accepted token (default {DEFAULT_TOKEN})")
    parser.add_argument("--rate-limit", type=int, default=1000, help="requests per minute")
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args(argv)
    events = _read_events(options.events) if options.events else []
    okta = FakeOkta(
        events,
        page_size=options.page_size,
        tokens=options.token or [DEFAULT_TOKEN],
        rate_limit=options.rate_limit,
        port=options.port,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    okta.start()
    print(okta.url, flush=True)
    stop.wait()
    okta.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
