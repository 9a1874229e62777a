"""The Okta System Log API as a live source: `GET /api/v1/logs`, then its `next` links, forever.

The first request is a *polling query*: ``since`` (a start time), ``limit`` and ``sortOrder=ASCENDING``,
no ``until``. Every response carries a ``Link: <...>; rel="next"`` header, also when the page is empty
because the reader has caught up; its opaque ``after`` cursor is Okta's position in the log's
persistence order, so an event that Okta stores late (with an older ``published``) is still served
once, after the others. The source's position is that next URL: a restart fetches it and gets exactly
the events after the last page it handed over.

- One HTTP request per :meth:`OktaLogSource.poll` at most; a page is one batch, an element one line
  (``orjson.dumps`` of the element as Okta sent it). After a non-empty page the next one is fetched on
  the next poll; after an empty one (caught up) the next link is fetched again ``poll_interval`` later.
- Rate limits: when ``X-Rate-Limit-Remaining`` is 0 the next request waits for ``X-Rate-Limit-Reset``
  (UTC epoch seconds); a 429 waits for the reset too (backoff when the header is absent or already
  past). A wait is capped at ``max_backoff``: a reset further away means our clock is off.
- 5xx answers, connection errors, timeouts and a 200 whose body is not a JSON array are retried with
  capped exponential backoff and full jitter, without moving the position; a note says so. After
  ``max_bad_pages`` bodies in a row that are not a JSON array the source gives up (LiveSourceError):
  something between us and Okta (a proxy, a captive portal) answers instead of Okta.
- 401, 403 and other 4xx raise :class:`LiveSourceError` with Okta's ``errorSummary`` and what to fix;
  so does a TLS certificate that does not verify (a proxy inspecting TLS: retrying would not help).
- A next link to another origin than the org is refused: the token is never sent elsewhere.

Time and sleep are injectable (``clock``, ``sleep``, ``jitter``) so tests run without waiting.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import ssl
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from sigma.backends.okta.live.source import LiveBatch, LiveSourceError, Position

SOURCE_KIND = "okta"
LOGS_PATH = "/api/v1/logs"
DEFAULT_TOKEN_ENV = "OKTA_API_TOKEN"
DEFAULT_ACCESS_TOKEN_ENV = "OKTA_ACCESS_TOKEN"
DEFAULT_LIMIT = 1000  # Okta's maximum page size
DEFAULT_START_SPAN = 3600.0  # a new watch starts an hour back
DEFAULT_POLL_INTERVAL = 10.0
DEFAULT_MAX_BACKOFF = 60.0
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_MAX_BAD_PAGES = 5
_BACKOFF_BASE = 1.0
_USER_AGENT = "sigma-okta-watch/0.1"
_NEXT_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


# -- authorization -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaticAuthorization:
    """An ``Authorization`` header value that does not change: ``SSWS <API token>`` or ``Bearer <access
    token>``; ``origin`` says where it came from, for error messages (never the token itself)."""

    header: str
    origin: str

    def __call__(self) -> str:
        return self.header


def authorization_from_environment(
    token_env: str = DEFAULT_TOKEN_ENV,
    access_token_env: str = DEFAULT_ACCESS_TOKEN_ENV,
    environ: dict[str, str] | None = None,
) -> Callable[[], str]:
    """The first credential the environment holds, in this order: an SSWS API token in ``$token_env``;
    an OAuth 2.0 access token in ``$access_token_env`` (sent as ``Bearer``, never renewed); an OAuth app
    in ``$OKTA_CLIENT_ID`` with its private key in ``$OKTA_PRIVATE_KEY_FILE`` (tokens obtained and
    renewed by the client-credentials flow, :mod:`.okta_oauth`). Raises LiveSourceError naming them
    when none is set."""
    environ = os.environ if environ is None else environ
    if token := environ.get(token_env, "").strip():
        return StaticAuthorization(f"SSWS {token}", f"the API token in ${token_env}")
    if token := environ.get(access_token_env, "").strip():
        return StaticAuthorization(f"Bearer {token}", f"the access token in ${access_token_env}")
    from sigma.backends.okta.live.okta_oauth import (
        DEFAULT_CLIENT_ID_ENV,
        DEFAULT_PRIVATE_KEY_ENV,
        oauth_from_environment,
    )

    if (app := oauth_from_environment(environ)) is not None:
        return app
    raise LiveSourceError(
        f"no Okta credentials: set ${token_env} to an API token (Security > API > Tokens, created by an "
        f"admin who can read the System Log), ${access_token_env} to an OAuth 2.0 access token with "
        f"the scope okta.logs.read, or ${DEFAULT_CLIENT_ID_ENV} and ${DEFAULT_PRIVATE_KEY_ENV} to an "
        "OAuth API Services app granted okta.logs.read and its private key (README)"
    )


# -- the source --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


class OktaLogSource:
    """Okta's System Log, read from ``org_url`` (``https://ORG.okta.com``) as an endless live source.

    ``since`` (ISO 8601) is where a new watch starts; without it, ``start_span`` seconds before now.
    ``query_filter`` is passed as Okta's ``filter`` expression (e.g. ``eventType sw "user."``).
    """

    def __init__(
        self,
        org_url: str,
        authorization: Callable[[], str],
        *,
        since: str | None = None,
        start_span: float = DEFAULT_START_SPAN,
        limit: int = DEFAULT_LIMIT,
        query_filter: str | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        max_bad_pages: int = DEFAULT_MAX_BAD_PAGES,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.org_url = _checked_org_url(org_url)
        self.name = f"{SOURCE_KIND}:{self.org_url}"
        self._origin = urllib.parse.urlsplit(self.org_url)
        self._authorization = authorization
        if getattr(authorization, "token_url", "") is None:  # an OAuth app: the org's token endpoint
            authorization.token_url = f"{self.org_url}/oauth2/v1/token"  # type: ignore[attr-defined]
        self._reauthorized = False  # a refused access token was renewed once already
        self._since = since
        self._start_span = start_span
        self._limit = max(1, min(limit, DEFAULT_LIMIT))
        self._filter = query_filter
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._request_timeout = request_timeout
        self._max_bad_pages = max_bad_pages
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._connection: http.client.HTTPConnection | None = None
        self._next_url: str | None = None
        self._not_before = 0.0  # clock time before which no request is made
        self._failures = 0  # consecutive failed requests, for the backoff
        self._bad_pages = 0  # consecutive 200s whose body is not a JSON array
        self._pending_notes: list[str] = []

    # -- LiveSource -----------------------------------------------------------------------------

    def open(self, position: Position | None) -> None:
        if position is None:
            self._next_url = self._first_url()
            return
        if position.get("source") != SOURCE_KIND or not isinstance(position.get("next"), str):
            raise LiveSourceError(
                f"the saved position is not one of the Okta API ({_describe(position)}); "
                "use another --state file for this source"
            )
        if position.get("org") != self.org_url:
            raise LiveSourceError(
                f"the saved position is for {position.get('org')}; use another --state file"
            )
        self._next_url = self._same_origin(position["next"])
        self._pending_notes.append(f"resuming at {self._next_url}")

    def poll(self, timeout: float) -> LiveBatch:
        if self._next_url is None:
            raise LiveSourceError("poll() before open()")
        wait = self._not_before - self._clock()
        if wait > 0:
            self._sleep(min(wait, max(timeout, 0.0)))
            if self._clock() < self._not_before:
                return self._batch([], 0)
        return self._fetch_page()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- pages ----------------------------------------------------------------------------------

    def _first_url(self) -> str:
        since = self._since or _iso_time(self._clock() - self._start_span)
        query = {"since": since, "limit": str(self._limit), "sortOrder": "ASCENDING"}
        if self._filter:
            query["filter"] = self._filter
        return f"{self.org_url}{LOGS_PATH}?{urllib.parse.urlencode(query)}"

    def _fetch_page(self) -> LiveBatch:
        assert self._next_url is not None
        try:
            response = self._get(self._next_url)
        except ssl.SSLCertVerificationError as error:
            self.close()
            raise LiveSourceError(
                f"the TLS certificate of {self._origin.netloc} is not trusted ({error.verify_message}): "
                "behind a proxy that inspects TLS, add its CA to the system's (or SSL_CERT_FILE)"
            ) from None
        except (OSError, http.client.HTTPException) as error:
            self.close()  # the connection is in an unknown state: the next request opens another
            return self._retry_later(f"{type(error).__name__}: {error}")
        now = self._clock()
        if response.status == 429:
            reset = _reset_time(response.headers)
            if reset is None or reset <= now:  # no reset, or one already past (a skewed clock)
                return self._retry_later("429 Too Many Requests")
            self._failures += 1
            wait = min(reset - now, self._max_backoff)
            self._not_before = now + wait
            return self._batch([], 0, f"429 Too Many Requests: waiting {wait:.0f}s for the reset")
        if response.status >= 500:
            return self._retry_later(f"{response.status} {_summary(response.body)}")
        if response.status == 401 and hasattr(self._authorization, "invalidate") and not self._reauthorized:
            self._authorization.invalidate()  # revoked or expired early: one new token, at once
            self._reauthorized = True
            self._not_before = now
            return self._batch([], 0, "401 for the access token: getting a new one")
        if response.status != 200:
            raise LiveSourceError(self._refusal(response))
        events = _decode_page(response.body)
        if events is None:
            return self._bad_page(response.body)
        next_url = _next_link(response.headers)
        if next_url is None:
            if events:
                raise LiveSourceError(
                    f'a page of {len(events)} events came without a Link rel="next" header: '
                    "cannot tell where the log goes on (is the org URL Okta's?)"
                )
            next_url = self._next_url  # nothing handed over: asking again repeats nothing
        self._next_url = self._same_origin(next_url)
        self._failures = self._bad_pages = 0
        self._reauthorized = False
        self._not_before = now if events else now + self._poll_interval
        self._respect_rate_limit(response.headers, now)
        return self._batch(events, len(response.body))

    def _get(self, url: str) -> _Response:
        parts = urllib.parse.urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {
            "Accept": "application/json",
            "Authorization": self._authorization(),
            "User-Agent": _USER_AGENT,
        }
        reused = self._connection is not None
        try:
            return self._request(parts, target, headers)
        except _STALE_CONNECTION:
            if not reused:
                raise
        # A kept-alive connection the server closed while we waited between polls: a GET is safe to
        # send again at once on a new connection (not a failure, no backoff).
        self.close()
        return self._request(parts, target, headers)

    def _request(self, parts: urllib.parse.SplitResult, target: str, headers: dict[str, str]) -> _Response:
        if self._connection is None:
            connection_type = (
                http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            )
            self._connection = connection_type(parts.netloc, timeout=self._request_timeout)
        self._connection.request("GET", target, headers=headers)
        answer = self._connection.getresponse()
        body = answer.read()
        if answer.will_close:
            self.close()
        return _Response(answer.status, answer.headers, body)

    def _respect_rate_limit(self, headers: http.client.HTTPMessage, now: float) -> None:
        remaining = headers.get("X-Rate-Limit-Remaining")
        reset = _reset_time(headers)
        if remaining is not None and remaining.strip() == "0" and reset is not None and reset > now:
            wait = min(reset - now, self._max_backoff)  # a reset further away is a skewed clock
            self._not_before = max(self._not_before, now + wait)
            self._pending_notes.append(f"rate limit reached: pausing {wait:.0f}s until its reset")

    def _retry_later(self, why: str) -> LiveBatch:
        """Back off (capped, exponential, full jitter) and say why; the position does not move."""
        self._failures += 1
        ceiling = min(self._max_backoff, _BACKOFF_BASE * 2 ** min(self._failures - 1, 30))
        delay = ceiling * self._jitter()
        self._not_before = self._clock() + delay
        return self._batch([], 0, f"{why}: retry {self._failures} in {delay:.1f}s")

    def _bad_page(self, body: bytes) -> LiveBatch:
        self._bad_pages += 1
        excerpt = body[:80].decode("utf-8", "replace")
        if self._bad_pages >= self._max_bad_pages:
            raise LiveSourceError(
                f"{self._bad_pages} answers in a row were not a JSON array of events "
                f"(starting {excerpt!r}): is {self.org_url} an Okta org, without a proxy answering for it?"
            )
        return self._retry_later(f"a page that is not a JSON array ({excerpt!r})")

    def _refusal(self, response: _Response) -> str:
        summary = _summary(response.body)
        origin = getattr(self._authorization, "origin", "the credentials")
        if response.status == 401:
            return f"401 {summary}: Okta refused {origin} (wrong, expired or revoked, or for another org)"
        if response.status == 403:
            return (
                f"403 {summary}: {origin} may not read the System Log (an API token needs "
                "an admin with read access to the System Log; an OAuth access token needs the scope "
                "okta.logs.read granted to the app)"
            )
        if response.status == 404:
            return f"404 {summary}: no System Log API at this URL: is the org URL right?"
        return f"{response.status} {summary} for {self._next_url}"

    def _same_origin(self, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        if (parts.scheme, parts.netloc) != (self._origin.scheme, self._origin.netloc):
            raise LiveSourceError(
                f"refusing to follow {url}: it is not on the org's origin (the token would be sent there)"
            )
        return url

    def _batch(self, lines: list[bytes], size: int, note: str | None = None) -> LiveBatch:
        assert self._next_url is not None
        notes, self._pending_notes = self._pending_notes, []
        if note:
            notes.append(note)
        position = {"source": SOURCE_KIND, "org": self.org_url, "next": self._next_url}
        return LiveBatch(lines, position, size, notes)


# -- helpers -----------------------------------------------------------------------------------------


def _checked_org_url(org_url: str) -> str:
    parts = urllib.parse.urlsplit(org_url.strip().rstrip("/"))
    local = parts.hostname in _LOCAL_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise LiveSourceError(
            f"--okta-org {org_url!r}: expected https://ORG.okta.com (plain http only for a local test server)"
        )
    if not parts.netloc or parts.path or parts.query:
        raise LiveSourceError(f"--okta-org {org_url!r}: expected the org's base URL, https://ORG.okta.com")
    return f"{parts.scheme}://{parts.netloc}"


def _iso_time(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _decode_page(body: bytes) -> list[bytes] | None:
    """Each element of a JSON-array page as one line, or None when the body is not a JSON array."""
    try:
        events = orjson.loads(body)  # as `run` reads a page (documents.py): the same values
    except orjson.JSONDecodeError:
        return None
    if not isinstance(events, list):
        return None
    return [_event_line(event) for event in events]


def _event_line(event: object) -> bytes:
    try:
        return orjson.dumps(event)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes (254), though it reads 1,024
        pass
    try:
        return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    except RecursionError:  # deeper than Python can re-encode: a line the engine counts, not a crash
        return b'"an element of an Okta page nested too deep to re-encode"'


def _next_link(headers: http.client.HTTPMessage) -> str | None:
    """The rel="next" target among the Link headers (Okta sends one header per link)."""
    for value in headers.get_all("Link") or []:
        for match in _NEXT_LINK.finditer(value):
            return match.group(1)
    return None


def _reset_time(headers: http.client.HTTPMessage) -> float | None:
    value = headers.get("X-Rate-Limit-Reset")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _summary(body: bytes) -> str:
    """Okta's ``errorSummary`` (with its code), or the body's start."""
    try:
        error = orjson.loads(body)
    except orjson.JSONDecodeError:
        error = None
    if isinstance(error, dict) and "errorSummary" in error:
        code = f" ({error['errorCode']})" if error.get("errorCode") else ""
        return f"{error['errorSummary']}{code}"
    return repr(body[:120].decode("utf-8", "replace"))


def _describe(position: Position) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in sorted(position.items())) or "empty"


__all__ = [
    "DEFAULT_ACCESS_TOKEN_ENV",
    "DEFAULT_TOKEN_ENV",
    "OktaLogSource",
    "StaticAuthorization",
    "authorization_from_environment",
]
