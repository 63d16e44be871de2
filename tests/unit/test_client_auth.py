import pytest

from shared.client_auth import presented_key, verify_client_key
from shared.errors import Unauthorized

KEYS = ("sk-one", "sk-two")


@pytest.mark.parametrize(
    "headers",
    [{"authorization": "Bearer sk-one"}, {"authorization": "bearer  sk-two "}, {"x-api-key": "sk-two"}],
)
def test_exact_keys_pass(headers):
    verify_client_key(headers, KEYS, allow_unauthenticated=False)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer "},
        {"authorization": "Basic sk-one"},
        {"authorization": "Bearer sk-one-and-more"},  # the old proxies' substring match admitted this
        {"authorization": "Bearer xsk-one"},
        {"x-api-key": "sk-on"},
    ],
)
def test_anything_else_is_refused(headers):
    with pytest.raises(Unauthorized):
        verify_client_key(headers, KEYS, allow_unauthenticated=False)


def test_open_mode_only_with_no_keys():
    verify_client_key({}, (), allow_unauthenticated=True)
    with pytest.raises(Unauthorized):
        verify_client_key({}, KEYS, allow_unauthenticated=True)


def test_x_api_key_wins_over_authorization():
    assert presented_key({"x-api-key": "a", "authorization": "Bearer b"}) == "a"
