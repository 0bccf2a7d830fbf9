"""resolve_network: environment read once, NO_PROXY matching, CA bundle precedence, TLS loading."""

from __future__ import annotations

import logging
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from tlsfront import Pki, make_pki  # noqa: E402

from libstore.http.network import bypasses_proxy, resolve_network  # noqa: E402
from libstore.http.options import ClientOptions  # noqa: E402
from libstore.types import InvalidArgumentError  # noqa: E402


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


class CountingEnv(dict[str, str]):
    """An environment mapping that counts lookups."""

    lookups = 0

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.lookups += 1
        return super().get(key, default)  # type: ignore[call-overload]

    def __getitem__(self, key: str) -> str:
        self.lookups += 1
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.lookups += 1
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self.lookups += 1
        return super().__iter__()


# -- proxies -----------------------------------------------------------------------------------


def test_environment_proxies_are_read_once_and_cached_per_host() -> None:
    env = CountingEnv(HTTPS_PROXY="http://proxy:3128", http_proxy="proxy:8080", NO_PROXY="internal")
    settings = resolve_network(ClientOptions(), env)
    after_resolve = env.lookups
    assert settings.proxy_source == "environment"
    assert settings.proxies == {"https": "http://proxy:3128", "http": "http://proxy:8080"}
    for _ in range(100):
        assert settings.proxies_for("https://s3.example.com/b/k?x=1") == {
            "https": "http://proxy:3128"
        }
        assert settings.proxies_for("http://a.internal:9000/b") == {}
    env["HTTPS_PROXY"] = "http://changed:1"
    assert settings.proxies_for("https://s3.example.com/b") == {"https": "http://proxy:3128"}
    assert env.lookups == after_resolve  # nothing read after construction


def test_lower_case_wins_and_httpoxy_is_ignored() -> None:
    env = {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:2"}
    assert resolve_network(ClientOptions(), env).proxies == {"http": "http://lower:2"}
    cgi = {"HTTP_PROXY": "http://attacker:1", "REQUEST_METHOD": "GET"}
    assert resolve_network(ClientOptions(), cgi).proxies == {}


def test_all_proxy_applies_to_every_scheme() -> None:
    settings = resolve_network(ClientOptions(), {"ALL_PROXY": "http://all:3128"})
    assert settings.proxies_for("https://h/") == {"https": "http://all:3128"}
    assert settings.proxies_for("http://h/") == {"http": "http://all:3128"}


def test_explicit_proxies_replace_the_environment() -> None:
    env = {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "*"}
    settings = resolve_network(ClientOptions(proxies={"http": "http://mine:2"}), env)
    assert settings.proxy_source == "argument"
    assert settings.proxies == {"http": "http://mine:2"}
    assert settings.proxies_for("https://h/") == {}
    assert settings.proxies_for("http://h/") == {}  # NO_PROXY=* from the environment
    explicit = resolve_network(ClientOptions(proxies={"http": "http://mine:2"}, no_proxy=()), env)
    assert explicit.proxies_for("http://h/") == {"http": "http://mine:2"}
    assert resolve_network(ClientOptions(proxies={}), env).proxies == {}


def test_trust_env_false_ignores_the_environment(pki: Pki) -> None:
    env = {"HTTPS_PROXY": "http://env:1", "AWS_CA_BUNDLE": str(pki.other_ca_cert)}
    settings = resolve_network(ClientOptions(trust_env=False), env)
    assert settings.proxies == {} and settings.ca_source == "default"


def test_invalid_environment_proxy_is_a_clear_error() -> None:
    with pytest.raises(InvalidArgumentError, match="invalid proxy in the environment"):
        resolve_network(ClientOptions(), {"HTTPS_PROXY": "ftp://nope"})


def test_socks_without_pysocks_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "socks" else real(name, *a)
    )
    with pytest.raises(InvalidArgumentError, match="PySocks"):
        resolve_network(ClientOptions(proxies={"all": "socks5h://p:1080"}), {})


@pytest.mark.parametrize(
    ("host", "port", "entries", "expected"),
    [
        ("example.com", 443, ("example.com",), True),
        ("s3.example.com", 443, ("example.com",), True),
        ("s3.example.com", 443, (".example.com",), True),
        ("s3.example.com", 443, ("*.example.com",), True),
        ("badexample.com", 443, ("example.com",), False),
        ("example.com.", 443, ("example.com",), True),
        ("EXAMPLE.com", 443, ("example.com",), True),
        ("anything", 80, ("*",), True),
        ("10.1.2.3", 80, ("10.0.0.0/8",), True),
        ("11.1.2.3", 80, ("10.0.0.0/8",), False),
        ("127.0.0.1", 9000, ("127.0.0.1",), True),
        ("127.0.0.1", 9000, ("127.0.0.1:9000",), True),
        ("127.0.0.1", 9001, ("127.0.0.1:9000",), False),
        ("localhost", 9000, ("localhost:9000",), True),
        ("::1", 443, ("[::1]",), True),
        ("::1", 443, ("[::1]:443",), True),
        ("::1", 443, ("::1",), True),
        ("fd00::5", 443, ("fd00::/8",), True),
        ("example.org", 443, ("example.com", "10.0.0.0/8"), False),
        ("10.0.0.1", 443, ("example.com",), False),
    ],
)
def test_no_proxy_matching(host: str, port: int, entries: tuple[str, ...], expected: bool) -> None:
    assert bypasses_proxy(host, port, entries) is expected


def test_proxy_cache_is_bounded() -> None:
    settings = resolve_network(ClientOptions(proxies={"https": "http://p:1"}), {})
    for i in range(600):
        settings.proxies_for(f"https://bucket{i}.s3.example.com/k")
    assert len(settings._cache) <= 256


# -- TLS -----------------------------------------------------------------------------------------


def test_ca_bundle_precedence(pki: Pki) -> None:
    env = {
        "AWS_CA_BUNDLE": str(pki.ca_cert),
        "REQUESTS_CA_BUNDLE": str(pki.other_ca_cert),
        "SSL_CERT_FILE": str(pki.other_ca_cert),
    }
    assert resolve_network(ClientOptions(), env).ca_source == "AWS_CA_BUNDLE"
    del env["AWS_CA_BUNDLE"]
    assert resolve_network(ClientOptions(), env).ca_source == "REQUESTS_CA_BUNDLE"
    del env["REQUESTS_CA_BUNDLE"]
    settings = resolve_network(ClientOptions(), env)
    assert (settings.ca_source, settings.ca_bundle) == ("SSL_CERT_FILE", str(pki.other_ca_cert))
    explicit = resolve_network(ClientOptions(ca_bundle=pki.ca_cert), env)
    assert (explicit.ca_source, explicit.ca_bundle) == ("argument", str(pki.ca_cert))
    assert resolve_network(ClientOptions(), {}).ca_source == "default"


def test_context_trusts_exactly_the_bundle(pki: Pki) -> None:
    context = resolve_network(ClientOptions(ca_bundle=pki.ca_cert), {}).ssl_context
    subjects = [dict(x[0] for x in c["subject"]) for c in context.get_ca_certs()]
    assert [s["commonName"] for s in subjects] == ["libstore test CA"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_ca_directory_is_accepted(pki: Pki, tmp_path: Path) -> None:
    settings = resolve_network(ClientOptions(ca_bundle=tmp_path), {})
    assert settings.ca_bundle == str(tmp_path)


def test_missing_or_bad_ca_bundle_fails_at_construction(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        resolve_network(ClientOptions(ca_bundle=tmp_path / "missing.pem"), {})
    with pytest.raises(InvalidArgumentError, match="from AWS_CA_BUNDLE"):
        resolve_network(ClientOptions(), {"AWS_CA_BUNDLE": str(tmp_path / "missing.pem")})
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(InvalidArgumentError, match="cannot load"):
        resolve_network(ClientOptions(ca_bundle=garbage), {})


def test_client_certificate_is_loaded_once_and_checked(pki: Pki) -> None:
    resolve_network(ClientOptions(client_cert=pki.client_cert, client_key=pki.client_key), {})
    resolve_network(ClientOptions(client_cert=pki.combined_client), {})
    resolve_network(
        ClientOptions(
            client_cert=pki.client_cert,
            client_key=pki.client_key_encrypted,
            client_key_password=pki.client_key_password,
        ),
        {},
    )
    with pytest.raises(InvalidArgumentError, match="cannot load the client certificate") as info:
        resolve_network(
            ClientOptions(
                client_cert=pki.client_cert,
                client_key=pki.client_key_encrypted,
                client_key_password="wrong-password-123",
            ),
            {},
        )
    assert "wrong-password-123" not in str(info.value)
    with pytest.raises(InvalidArgumentError, match="cannot load the client certificate"):
        resolve_network(ClientOptions(client_cert=pki.client_cert, client_key=pki.server_key), {})
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        resolve_network(ClientOptions(client_cert=pki.client_cert.with_name("nope.pem")), {})


def test_verify_false_disables_checks_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="libstore.http"):
        settings = resolve_network(ClientOptions(verify=False), {"AWS_CA_BUNDLE": "/nope"})
    assert not settings.verify
    assert settings.ssl_context.verify_mode == ssl.CERT_NONE
    assert not settings.ssl_context.check_hostname
    assert any("DISABLED" in r.getMessage() for r in caplog.records)
