"""The SSRF guard: only http(s) URLs whose host resolves to public addresses only."""
import socket

import pytest

from webhooks import delivery
from webhooks.delivery import TargetRefused, check_target


def resolving_to(*addresses):
    def fake(host, port, *args, **kwargs):
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    return fake


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.1.2.3:8080/x", "loopback"),
        ("http://localhost/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped IPv6
        ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
        ("http://10.0.0.1/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[fd00::1]/", "private"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://100.64.0.1/", "not a public address"),  # carrier-grade NAT
        ("http://2130706433/", "loopback"),  # 127.0.0.1 written as one number
    ],
)
def test_non_public_addresses_are_refused(url, reason, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(TargetRefused, match=reason):
        check_target(url)


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://example.com/", "Only http and https"),
        ("file:///etc/passwd", "Only http and https"),
        ("gopher://example.com/", "Only http and https"),
        ("http:///path-only", "no host"),
        ("http://user:pw@example.com/", "Credentials"),
        ("http://example.com:99999/", "malformed"),
    ],
)
def test_other_urls_are_refused(url, message, monkeypatch):
    monkeypatch.setattr(delivery.socket, "getaddrinfo", resolving_to("93.184.215.14"))
    with pytest.raises(TargetRefused, match=message):
        check_target(url)


def test_one_private_address_among_public_ones_is_enough_to_refuse(monkeypatch):
    monkeypatch.setattr(delivery.socket, "getaddrinfo", resolving_to("93.184.215.14", "10.1.2.3"))
    with pytest.raises(TargetRefused, match=r"10\.1\.2\.3, a private address"):
        check_target("https://hooks.example.com/x")


def test_a_public_host_is_accepted(monkeypatch):
    addresses = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    monkeypatch.setattr(delivery.socket, "getaddrinfo", resolving_to(*addresses))
    assert check_target("https://hooks.example.com/x") == addresses


def test_an_unresolvable_host_is_refused(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(delivery.socket, "getaddrinfo", fail)
    with pytest.raises(TargetRefused, match="could not be resolved"):
        check_target("https://nowhere.example/")


def test_private_targets_can_be_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    assert check_target("http://127.0.0.1:8080/") == ["127.0.0.1"]
    with pytest.raises(TargetRefused):  # the scheme rule still holds
        check_target("ftp://127.0.0.1/")
