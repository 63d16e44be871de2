import threading
from collections import Counter

from shared.balancer import Balancer
from shared.config import parse_config

KEY = {"clientid": "c", "clientsecret": "s", "url": "https://a"}


def config():
    return parse_config(
        {
            "subAccounts": {
                "A": {
                    "service_key_json": KEY,
                    "deployment_models": {"m": ["https://a/1", "https://a/2"], "x": ["https://a/x"]},
                },
                "B": {"service_key_json": KEY, "deployment_models": {"m": ["https://b/1"]}},
            },
            "secret_authentication_tokens": ["k"],
        }
    )


def test_two_level_round_robin():
    b = Balancer(config())
    firsts = [b.candidates("m")[0].url for _ in range(4)]
    assert firsts == ["https://a/1", "https://b/1", "https://a/2", "https://b/1"]


def test_candidates_list_every_deployment_once_pick_first():
    b = Balancer(config())
    urls = [t.url for t in b.candidates("m")]
    assert urls[0] == "https://a/1" and sorted(urls) == ["https://a/1", "https://a/2", "https://b/1"]
    assert [t.sub_account.name for t in b.candidates("m")][0] == "B"


def test_unknown_model_has_no_candidates():
    assert Balancer(config()).candidates("nope") == []


def test_concurrent_picks_are_evenly_spread():
    b = Balancer(config())
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def worker():
        for _ in range(500):
            url = b.candidates("m")[0].url
            with lock:
                seen[url] += 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"https://b/1": 2000, "https://a/1": 1000, "https://a/2": 1000}
