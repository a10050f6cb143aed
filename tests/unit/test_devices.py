"""Naming a browser from its User-Agent and a place from its address class (no geolocation)."""

import pytest

from idp.accounts import devices


@pytest.mark.parametrize("user_agent,browser,system", [
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox", "Linux"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
     "Safari/537.36 Edg/126.0.0.0", "Edge", "Windows"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
     "Safari/537.36 OPR/111.0.0.0", "Opera", "Windows"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4 Mobile/15E148 Safari/604.1", "Safari", "iOS"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
     "Safari/605.1.15", "Safari", "macOS"),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 "
     "Chrome/121.0.0.0 Mobile Safari/537.36", "Samsung Internet", "Android"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "CriOS/126.0 Mobile/15E148 Safari/604.1", "Chrome", "iOS"),
    ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
     "Safari/537.36", "Chrome", "ChromeOS"),
    ("curl/8.5.0", "", ""),
    ("", "", ""),
])
def test_browser_and_system_from_the_user_agent(user_agent, browser, system):
    assert devices.browser_of(user_agent) == browser
    assert devices.system_of(user_agent) == system


@pytest.mark.parametrize("address,place", [
    ("127.0.0.1", devices.LOOPBACK), ("::1", devices.LOOPBACK),
    ("10.1.2.3", devices.PRIVATE), ("192.168.1.20", devices.PRIVATE), ("172.16.0.9", devices.PRIVATE),
    ("100.64.0.1", devices.PRIVATE), ("fd12:3456::1", devices.PRIVATE), ("fe80::1", devices.PRIVATE),
    ("::ffff:192.168.1.20", devices.PRIVATE),
    ("8.8.8.8", devices.PUBLIC), ("2001:4860:4860::8888", devices.PUBLIC),
    ("", devices.UNKNOWN), ("not an address", devices.UNKNOWN),
])
def test_place_from_the_address_class_only(address, place):
    assert devices.place_of(address) == place


def test_a_session_keeps_words_not_the_user_agent_or_the_address():
    kept = devices.describe("Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "10.0.0.5")
    assert kept == {"browser": "Firefox", "system": "Linux", "place": "private"}
