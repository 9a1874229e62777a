"""OAuth 2.0 access tokens for the System Log API: the client-credentials flow with a private-key JWT.

Okta's recommended credential for a service (instead of an SSWS API token, which acts as the admin who
made it): an *API Services* app whose client authentication is *public key / private key*, granted the
scope ``okta.logs.read``. To get an access token, the app signs a short-lived JWT with its private key
(``iss`` = ``sub`` = the client id, ``aud`` = the token endpoint, ``iat``, ``exp`` five minutes later,
a unique ``jti``; ``kid`` when the key has an id) and posts it to the org authorization server's
token endpoint (``POST https://ORG.okta.com/oauth2/v1/token``, ``grant_type=client_credentials``,
``scope=okta.logs.read``, ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``).
The token (an hour, usually) is sent as ``Authorization: Bearer ...`` and renewed a minute before it
expires, or at once when the API answers 401.

Signing uses PyJWT with its ``crypto`` extra (``pip install 'sigma-okta[oauth]'``), imported only when
this credential is used. RSA keys sign with RS256, EC keys with ES256/384/512 by their curve (all accepted by Okta). DPoP
(proof of possession) is not implemented: an app that requires it is refused with that explanation.
"""

from __future__ import annotations

import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable

import orjson

from sigma.backends.okta.live.source import LiveSourceError

LOGS_SCOPE = "okta.logs.read"
TOKEN_PATH = "/oauth2/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_CLIENT_ID_ENV = "OKTA_CLIENT_ID"
DEFAULT_PRIVATE_KEY_ENV = "OKTA_PRIVATE_KEY_FILE"
DEFAULT_KEY_ID_ENV = "OKTA_KEY_ID"
_ASSERTION_LIFETIME = 300
_RENEW_BEFORE = 60.0  # seconds before expiry: a request in flight never carries an expired token
_TIMEOUT = 30.0


class TokenRequestFailed(OSError):
    """The token endpoint could not be reached or answered 5xx: retried like any connection error."""


class OAuthClientCredentials:
    """An ``Authorization`` header provider: ``Bearer`` tokens of ``client_id``, renewed as they expire.

    ``token_url`` defaults to the org authorization server of the source it is given to
    (:class:`~sigma.backends.okta.live.okta_api.OktaLogSource` sets it).
    """

    def __init__(
        self,
        client_id: str,
        private_key_pem: bytes,
        *,
        key_id: str | None = None,
        scope: str = LOGS_SCOPE,
        token_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self.origin = f"the OAuth app {client_id} (private-key JWT, scope {scope})"
        self.token_url = token_url
        self._key_id = key_id
        self._scope = scope
        self._clock = clock
        self._key, self._algorithm = _load_key(private_key_pem)
        self._token: str | None = None
        self._expires_at = 0.0

    def __call__(self) -> str:
        if self._token is None or self._clock() >= self._expires_at - _RENEW_BEFORE:
            self._renew()
        return f"Bearer {self._token}"

    def invalidate(self) -> None:
        """Forget the token (the API refused it): the next call gets another."""
        self._token = None

    def client_assertion(self) -> str:
        import jwt  # the oauth extra

        if self.token_url is None:
            raise LiveSourceError(f"{self.origin}: no token endpoint (the org URL is not known yet)")
        now = int(self._clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "iat": now,
            "exp": now + _ASSERTION_LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self._key_id} if self._key_id else None
        return jwt.encode(claims, self._key, algorithm=self._algorithm, headers=headers)

    def _renew(self) -> None:
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "scope": self._scope,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self.client_assertion(),
            }
        ).encode()
        assert self.token_url is not None
        request = urllib.request.Request(
            self.token_url,
            data=form,
            headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as answer:
                body = answer.read()
        except urllib.error.HTTPError as error:
            body = error.read()
            if error.code >= 500 or error.code == 429:
                raise TokenRequestFailed(f"token endpoint: {error.code} {_oauth_error(body)}") from None
            raise LiveSourceError(self._refusal(error.code, body)) from None
        except (urllib.error.URLError, OSError) as error:
            if isinstance(getattr(error, "reason", error), ssl.SSLCertVerificationError):
                raise LiveSourceError(
                    f"the TLS certificate of {self.token_url} is not trusted ({error}): behind a proxy "
                    "that inspects TLS, add its CA to the system's (or SSL_CERT_FILE)"
                ) from None
            raise TokenRequestFailed(f"token endpoint: {error}") from None
        try:
            answer_json = orjson.loads(body)
            token, lifetime = answer_json["access_token"], float(answer_json.get("expires_in", 3600))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise TokenRequestFailed(f"token endpoint: not a token answer ({body[:80]!r})") from None
        self._token, self._expires_at = token, self._clock() + lifetime

    def _refusal(self, status: int, body: bytes) -> str:
        reason = _oauth_error(body)
        hint = (
            "the app requires DPoP, which watch does not send: turn off 'Require Demonstrating Proof of "
            "Possession (DPoP) header in token requests' in the app's settings"
            if "dpop" in reason.lower()
            else f"check the client id, that the app's public key matches the private key, and that "
            f"the app is granted {self._scope} (Okta API Scopes)"
        )
        return f"{self.origin}: the token endpoint {self.token_url} answered {status} {reason}: {hint}"


def oauth_from_environment(
    environ: dict[str, str] | os._Environ[str],
    client_id_env: str = DEFAULT_CLIENT_ID_ENV,
    private_key_env: str = DEFAULT_PRIVATE_KEY_ENV,
    key_id_env: str = DEFAULT_KEY_ID_ENV,
) -> OAuthClientCredentials | None:
    """The credential of ``$OKTA_CLIENT_ID`` with the PEM key file ``$OKTA_PRIVATE_KEY_FILE`` (and
    ``$OKTA_KEY_ID``), or None when the client id is not set."""
    client_id = environ.get(client_id_env, "").strip()
    if not client_id:
        return None
    key_file = environ.get(private_key_env, "").strip()
    if not key_file:
        raise LiveSourceError(f"${client_id_env} is set: ${private_key_env} must name its PEM private key")
    try:
        with open(key_file, "rb") as stream:
            pem = stream.read()
    except OSError as error:
        raise LiveSourceError(f"${private_key_env}: cannot read {key_file} ({error.strerror})") from None
    return OAuthClientCredentials(client_id, pem, key_id=environ.get(key_id_env, "").strip() or None)


def _load_key(pem: bytes) -> tuple[object, str]:
    try:
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError:
        raise LiveSourceError(
            "OAuth with a private-key JWT needs PyJWT and cryptography: pip install 'sigma-okta[oauth]'"
        ) from None
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise LiveSourceError(f"the OAuth private key is not an unencrypted PEM key ({error})") from None
    if isinstance(key, rsa.RSAPrivateKey):
        return key, "RS256"
    curves = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in curves:
        return key, curves[key.curve.name]
    raise LiveSourceError("the OAuth private key must be an RSA key or an EC key on P-256, P-384 or P-521")


def _oauth_error(body: bytes) -> str:
    try:
        error = orjson.loads(body)
    except orjson.JSONDecodeError:
        return repr(body[:120].decode("utf-8", "replace"))
    if isinstance(error, dict) and "error" in error:
        return f"{error['error']}: {error.get('error_description', '')}".rstrip(": ")
    return repr(body[:120].decode("utf-8", "replace"))


__all__ = ["LOGS_SCOPE", "OAuthClientCredentials", "TokenRequestFailed", "oauth_from_environment"]
