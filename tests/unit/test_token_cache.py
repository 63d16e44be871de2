from base64 import b64decode

import orjson
import pytest

from shared.config import ServiceKey, SubAccount
from shared.errors import TokenFetchError
from shared.token_cache import TokenCache, form_encode

SUB = SubAccount("acct", "rg", ServiceKey("cid", "csecret", "https://auth.example"), {"m": ("https://d",)})


def answer(token="tok", expires_in=3600):
    return orjson.dumps({"access_token": token, "expires_in": expires_in})


def test_fetch_request_is_client_credentials_with_basic_auth():
    req = TokenCache(SUB).fetch_request()
    assert req.method == "POST"
    assert req.url == "https://auth.example/oauth/token?grant_type=client_credentials"
    assert req.body is None
    scheme, value = req.headers["Authorization"].split()
    assert scheme == "Basic" and b64decode(value) == b"cid:csecret"


def test_token_cached_until_expiry_minus_margin():
    cache = TokenCache(SUB)
    assert cache.current(0) is None
    assert cache.accept(200, answer(expires_in=3600), now=1000) == "tok"
    assert cache.current(1000 + 3600 - 301) == "tok"
    assert cache.current(1000 + 3600 - 300) is None


def test_short_lived_tokens_are_still_used():
    cache = TokenCache(SUB)
    cache.accept(200, answer(expires_in=60), now=0)
    assert cache.current(29) == "tok" and cache.current(30) is None


def test_default_lifetime_when_expires_in_missing():
    cache = TokenCache(SUB)
    cache.accept(200, orjson.dumps({"access_token": "t"}), now=0)
    assert cache.current(4 * 3600 - 301) == "t"


def test_invalidate_only_the_stale_token():
    cache = TokenCache(SUB)
    cache.accept(200, answer("new"), now=0)
    cache.invalidate("old")  # a peer already refreshed: keep the new token
    assert cache.current(1) == "new"
    cache.invalidate("new")
    assert cache.current(1) is None


@pytest.mark.parametrize(
    ("status", "body", "match"),
    [
        (401, b'{"error":"unauthorized","error_description":"Bad credentials"}', "answered 401: Bad credentials"),
        (200, b"not json", "unreadable"),
        (200, b'{"access_token": ""}', "empty access_token"),
    ],
)
def test_failures_name_the_sub_account(status, body, match):
    with pytest.raises(TokenFetchError, match=match) as info:
        TokenCache(SUB).accept(status, body, now=0)
    assert "acct" in info.value.message and "csecret" not in info.value.message
    assert info.value.status == 503


CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PRIVATE = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
X509_KEY = ServiceKey(
    "sb-x!b1|aicore!b540",
    None,
    "https://tenant.authentication.eu10.hana.ondemand.com",
    certificate=CERT,
    key=PRIVATE,
    certurl="https://tenant.authentication.cert.eu10.hana.ondemand.com",
)


def test_x509_fetch_request_is_the_documented_mtls_form_post():
    req = TokenCache(SubAccount("x", "rg", X509_KEY, {"m": ("https://d",)})).fetch_request()
    assert req.method == "POST"
    assert req.url == "https://tenant.authentication.cert.eu10.hana.ondemand.com/oauth/token"
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in req.headers
    assert req.body == b"grant_type=client_credentials&client_id=sb-x%21b1%7Caicore%21b540"
    assert req.client_cert is not None and (req.client_cert.certificate, req.client_cert.key) == (CERT, PRIVATE)
    assert "MII" not in repr(req)


def test_secret_key_requests_carry_no_client_certificate():
    assert TokenCache(SUB).fetch_request().client_cert is None


@pytest.mark.parametrize(
    ("value", "encoded"),
    [("abc-._*", "abc-._*"), ("a b", "a+b"), ("sb-x!b1|aicore!b540", "sb-x%21b1%7Caicore%21b540"), ("é", "%C3%A9")],
)
def test_form_encode(value, encoded):
    assert form_encode(value) == encoded
