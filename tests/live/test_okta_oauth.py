"""OAuth 2.0 client credentials with a private-key JWT against the fake org's token endpoint: a token
obtained, sent as Bearer, renewed before it expires and when the API refuses it; refusals explained."""

from __future__ import annotations

import ssl

import orjson
import pytest

pytest.importorskip("jwt")  # the oauth extra
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from live.fake_okta import FakeOkta
from live.test_okta_api_source import FakeClock, _events, _self_signed_certificate
from sigma.backends.okta.live.okta_api import OktaLogSource, authorization_from_environment
from sigma.backends.okta.live.okta_oauth import OAuthClientCredentials
from sigma.backends.okta.live.source import LiveSourceError

CLIENT = "0oa1servicetest"


def _key_pair(kind: str = "rsa") -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[bytes, bytes]:
    return _key_pair("rsa")


def _source(okta: FakeOkta, clock: FakeClock, app: OAuthClientCredentials) -> OktaLogSource:
    source = OktaLogSource(okta.url, app, clock=clock, sleep=clock.sleep, jitter=lambda: 1.0)
    source.open(None)
    return source


def test_a_token_is_obtained_sent_as_bearer_and_renewed_before_it_expires(rsa_keys):
    private, public = rsa_keys
    clock = FakeClock()
    with FakeOkta(_events(0, 2), oauth_clients={CLIENT: public}, token_lifetime=120, clock=clock) as okta:
        app = OAuthClientCredentials(CLIENT, private, key_id="kid-1", clock=clock)
        source = _source(okta, clock, app)
        assert len(source.poll(1.0).lines) == 2
        clock.now += 30  # 90 s left: the token is kept
        source.poll(1.0)
        clock.now += 40  # 50 s left, under the minute of margin: renewed
        okta.append(_events(2, 1))
        assert len(source.poll(1.0).lines) == 1
        source.close()
    logs = [request.authorization for request in okta.requests if request.path == "/api/v1/logs"]
    assert logs == ["Bearer at-1", "Bearer at-1", "Bearer at-2"]
    claims = okta.assertions[0]
    assert claims["iss"] == claims["sub"] == CLIENT and claims["kid"] == "kid-1"
    assert claims["aud"] == f"{okta.url}/oauth2/v1/token" and claims["exp"] - claims["iat"] == 300
    assert okta.assertions[0]["jti"] != okta.assertions[1]["jti"]


def test_a_revoked_token_is_replaced_once_then_a_refusal_stops(rsa_keys):
    private, public = rsa_keys
    clock = FakeClock()
    with FakeOkta(_events(0, 1), oauth_clients={CLIENT: public}, clock=clock) as okta:
        source = _source(okta, clock, OAuthClientCredentials(CLIENT, private, clock=clock))
        source.poll(1.0)
        okta.revoke("at-1")
        assert source.poll(1.0).notes == ["401 for the access token: getting a new one"]
        okta.append(_events(1, 1))
        assert [orjson.loads(line)["uuid"] for line in source.poll(1.0).lines] == ["e1"]
        okta.fail_next(401, times=2)
        assert source.poll(1.0).notes == ["401 for the access token: getting a new one"]
        with pytest.raises(LiveSourceError, match=r"401 .*Okta refused the OAuth app 0oa1servicetest"):
            source.poll(1.0)


def test_a_key_the_app_does_not_have_is_refused_with_what_to_check(rsa_keys):
    _, public = rsa_keys
    other_private, _ = _key_pair("ec")  # an EC key signs with ES256, verified (and refused) as such
    clock = FakeClock()
    with FakeOkta(oauth_clients={CLIENT: public}, clock=clock) as okta:
        source = _source(okta, clock, OAuthClientCredentials(CLIENT, other_private, clock=clock))
        with pytest.raises(LiveSourceError, match=r"answered 401 invalid_client: .* public key matches"):
            source.poll(1.0)


def test_an_app_requiring_dpop_is_refused_with_the_setting_to_change(rsa_keys):
    private, public = rsa_keys
    clock = FakeClock()
    with FakeOkta(oauth_clients={CLIENT: public}, require_dpop=True, clock=clock) as okta:
        source = _source(okta, clock, OAuthClientCredentials(CLIENT, private, clock=clock))
        with pytest.raises(LiveSourceError, match=r"invalid_dpop_proof.*turn off 'Require Demonstrating"):
            source.poll(1.0)


def test_a_token_endpoint_that_fails_is_retried_like_the_api(rsa_keys):
    private, _ = rsa_keys
    clock = FakeClock()
    with FakeOkta(clock=clock) as okta:
        app = OAuthClientCredentials(CLIENT, private, clock=clock, token_url=f"{okta.url}/nowhere")
        source = _source(okta, clock, app)
    batch = source.poll(1.0)  # the server is gone: a connection error, retried with backoff
    assert batch.lines == [] and "token endpoint" in batch.notes[0] and "retry 1" in batch.notes[0]


def test_the_app_and_its_key_come_from_the_environment(tmp_path, rsa_keys):
    private, _ = rsa_keys
    key_file = tmp_path / "okta.pem"
    key_file.write_bytes(private)
    environ = {"OKTA_CLIENT_ID": CLIENT, "OKTA_PRIVATE_KEY_FILE": str(key_file), "OKTA_KEY_ID": "k9"}
    app = authorization_from_environment(environ=environ)
    assert isinstance(app, OAuthClientCredentials) and app.client_id == CLIENT
    with pytest.raises(LiveSourceError, match=r"\$OKTA_PRIVATE_KEY_FILE must name its PEM private key"):
        authorization_from_environment(environ={"OKTA_CLIENT_ID": CLIENT})
    with pytest.raises(LiveSourceError, match="not an unencrypted PEM key"):
        OAuthClientCredentials(CLIENT, b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")


def test_an_untrusted_token_endpoint_certificate_stops_with_the_ca_hint(tmp_path, rsa_keys):
    private, public = rsa_keys
    certificate, key = _self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    clock = FakeClock()
    with FakeOkta(oauth_clients={CLIENT: public}, tls=context, clock=clock) as okta:
        source = _source(okta, clock, OAuthClientCredentials(CLIENT, private, clock=clock))
        with pytest.raises(LiveSourceError, match=r"TLS certificate of https://.*/oauth2/v1/token is not"):
            source.poll(1.0)
