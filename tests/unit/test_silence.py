import pytest

from shared.config import Timeouts
from shared.errors import UpstreamTimeout
from shared.silence import KEEPALIVE, SilenceTimer

T = Timeouts(first_byte=10, idle=4, keepalive=3)


def test_keepalives_until_first_byte_deadline():
    timer = SilenceTimer(T, now=0)
    assert timer.wait(0) == 3
    assert timer.silence(3) == KEEPALIVE == b": keep-alive\n\n"
    assert timer.wait(9) == 1
    with pytest.raises(UpstreamTimeout, match="first_byte"):
        timer.silence(10)


def test_idle_limit_after_data():
    timer = SilenceTimer(T, now=0)
    timer.data(5)
    assert timer.wait(5) == 3 and timer.silence(8) == KEEPALIVE
    assert timer.wait(8) == 1
    with pytest.raises(UpstreamTimeout, match="idle"):
        timer.silence(9)
