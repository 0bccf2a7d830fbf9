"""ClientOptions: validation, immutability, repr without secrets, shortcuts and call_options."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from libstore.http.events import EventHooks
from libstore.http.options import (
    ClientOptions,
    call_options,
    current_call_options,
    driver_options,
)
from libstore.http.retry import RetryPolicy
from libstore.http.session import HttpConfig
from libstore.types import InvalidArgumentError


def test_defaults_are_documented_values() -> None:
    options = ClientOptions()
    assert options.proxies is None and options.no_proxy is None
    assert options.trust_env and options.verify and options.keep_alive
    assert not options.tcp_keepalive
    assert (options.connect_timeout, options.read_timeout, options.deadline) == (10.0, 60.0, None)
    assert options.pool_maxsize == 16
    assert options.retry == RetryPolicy()
    assert options.hooks is None
    assert repr(options) == "ClientOptions()"


def test_is_immutable_and_hashable() -> None:
    options = ClientOptions(proxies={"https": "http://p:3128"}, no_proxy="a,b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.verify = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        options.proxies["http"] = "x"  # type: ignore[index]
    assert hash(options) == hash(ClientOptions(proxies={"https": "http://p:3128"}, no_proxy="a,b"))
    assert options == ClientOptions(proxies={"HTTPS": "p:3128"}, no_proxy=["A", " b "])


def test_normalises_proxies_and_no_proxy() -> None:
    options = ClientOptions(
        proxies={"HTTP": "proxy.corp:3128", "all": "https://u:pw@p2:8443"},
        no_proxy=" .Internal.Example , 10.0.0.0/8,,localhost:9000 ",
    )
    assert dict(options.proxies or {}) == {
        "http": "http://proxy.corp:3128",
        "all": "https://u:pw@p2:8443",
    }
    assert options.no_proxy == (".internal.example", "10.0.0.0/8", "localhost:9000")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"proxies": {"ftp": "http://p"}}, "unknown proxies key"),
        ({"proxies": {"https": "ftp://p"}}, "unsupported scheme"),
        ({"proxies": {"https": "http://"}}, "no valid host"),
        ({"proxies": ["http://p"]}, "mapping"),
        ({"no_proxy": 5}, "no_proxy"),
        ({"no_proxy": ["a b"]}, "invalid no_proxy entry"),
        ({"verify": "yes"}, "verify must be True or False"),
        ({"verify": False, "ca_bundle": "/x.pem"}, "contradicts ca_bundle"),
        ({"client_key": "/k.pem"}, "client_key needs client_cert"),
        ({"client_key_password": "pw"}, "needs client_cert"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"read_timeout": float("nan")}, "read_timeout"),
        ({"read_timeout": True}, "read_timeout"),
        ({"deadline": -1}, "deadline"),
        ({"pool_maxsize": 0}, "pool_maxsize"),
        ({"pool_maxsize": 2.0}, "pool_maxsize"),
        ({"user_agent_suffix": "app\r\nX-Evil: 1"}, "user_agent_suffix"),
        ({"user_agent_suffix": ""}, "user_agent_suffix"),
        ({"retry": 3}, "retry must be a RetryPolicy"),
        ({"hooks": [print]}, "hooks must be an EventHooks"),
        ({"ca_bundle": ""}, "ca_bundle must be a file path"),
    ],
)
def test_invalid_or_conflicting_values_fail_at_construction(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        ClientOptions(**kwargs)  # type: ignore[arg-type]


def test_unknown_option_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(TypeError, match="conect_timeout"):
        ClientOptions(conect_timeout=3)  # type: ignore[call-arg]
    with pytest.raises(InvalidArgumentError, match="did you mean 'connect_timeout'"):
        ClientOptions().new(conect_timeout=3)
    with pytest.raises(InvalidArgumentError, match="did you mean 'no_proxy'"):
        ClientOptions.from_mapping({"noproxy": "x"})


def test_new_and_from_mapping_validate() -> None:
    base = ClientOptions(read_timeout=5)
    changed = base.new(connect_timeout=2)
    assert (changed.connect_timeout, changed.read_timeout) == (2.0, 5.0)
    assert base.connect_timeout == 10.0
    with pytest.raises(InvalidArgumentError):
        base.new(pool_maxsize=-1)
    loaded = ClientOptions.from_mapping({"retry": {"max_attempts": 2}, "deadline": 30})
    assert loaded.retry.max_attempts == 2 and loaded.deadline == 30.0
    with pytest.raises(InvalidArgumentError, match="invalid retry policy"):
        ClientOptions.from_mapping({"retry": {"attempts": 2}})


def test_paths_accept_pathlike(tmp_path: Path) -> None:
    options = ClientOptions(ca_bundle=tmp_path / "ca.pem", client_cert=tmp_path / "c.pem")
    assert options.ca_bundle == str(tmp_path / "ca.pem")
    assert options.client_cert == str(tmp_path / "c.pem")


def test_repr_hides_proxy_passwords_and_key_password() -> None:
    options = ClientOptions(
        proxies={"https": "http://alice:s3cr3tpw@proxy:3128"},
        client_cert="/c.pem",
        client_key="/k.pem",
        client_key_password="keypassword!",
    )
    text = repr(options) + str(options)
    assert "s3cr3tpw" not in text and "keypassword!" not in text
    assert "alice:<redacted>@proxy:3128" in text
    assert "client_key_password=<hidden>" in text


# -- driver shortcuts -----------------------------------------------------------------------


def test_driver_options_builds_from_shortcuts_and_always_has_hooks() -> None:
    options = driver_options(
        None, connect_timeout=3, read_timeout=7, max_attempts=2, verify="/ca.pem",
        proxies={"http": "http://p:1"},
    )  # fmt: skip
    assert (options.connect_timeout, options.read_timeout) == (3.0, 7.0)
    assert options.retry.max_attempts == 2
    assert options.ca_bundle == "/ca.pem" and options.verify
    assert isinstance(options.hooks, EventHooks)
    assert driver_options(None, verify=False).verify is False
    assert driver_options(None).hooks is not driver_options(None).hooks


def test_driver_options_keeps_shared_hooks() -> None:
    hooks = EventHooks()
    given = ClientOptions(hooks=hooks, read_timeout=3)
    assert driver_options(given) is given


@pytest.mark.parametrize(
    "shortcuts",
    [
        {"connect_timeout": 3},
        {"verify": False},
        {"retry_policy": RetryPolicy()},
        {"http_config": HttpConfig()},
    ],
)
def test_options_and_shortcuts_conflict(shortcuts: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError, match="cannot be combined"):
        driver_options(ClientOptions(), **shortcuts)


def test_max_attempts_conflicts_with_retry_policy() -> None:
    with pytest.raises(InvalidArgumentError, match="max_attempts cannot be combined"):
        driver_options(None, max_attempts=2, retry_policy=RetryPolicy())


def test_http_config_conflicts_with_its_shortcuts_and_converts() -> None:
    with pytest.raises(InvalidArgumentError, match="http_config cannot be combined"):
        driver_options(None, http_config=HttpConfig(), read_timeout=3)
    converted = driver_options(
        None,
        http_config=HttpConfig(read_timeout=9, verify="/ca", pool_maxsize=4, user_agent="app/1"),
    )
    assert converted.read_timeout == 9.0 and converted.ca_bundle == "/ca"
    assert converted.pool_maxsize == 4 and converted.user_agent_suffix == "app/1"


def test_driver_options_rejects_wrong_types() -> None:
    with pytest.raises(InvalidArgumentError, match="must be a ClientOptions"):
        driver_options({"verify": False})  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="invalid max_attempts"):
        driver_options(None, max_attempts=0)
    with pytest.raises(InvalidArgumentError, match="connect_timeout"):
        driver_options(None, connect_timeout=-1)


# -- call_options ---------------------------------------------------------------------------


def test_call_options_nest_and_reset() -> None:
    assert current_call_options() is None
    fast = RetryPolicy(max_attempts=1)
    with call_options(retry=fast, read_timeout=5):
        outer = current_call_options()
        assert outer is not None and outer.retry is fast and outer.read_timeout == 5.0
        assert outer.deadline_at is None
        with call_options(deadline=100, connect_timeout=1):
            inner = current_call_options()
            assert inner is not None
            assert inner.retry is fast and inner.read_timeout == 5.0
            assert inner.connect_timeout == 1.0
            assert inner.deadline_at is not None
            assert 99 < inner.deadline_at - time.monotonic() <= 100
            with call_options(deadline=1000):
                innermost = current_call_options()
                assert innermost is not None
                assert innermost.deadline_at == inner.deadline_at  # deadlines only shrink
        assert current_call_options() is outer
    assert current_call_options() is None


def test_call_options_validate() -> None:
    with pytest.raises(InvalidArgumentError), call_options(deadline=0):
        pass
    with pytest.raises(InvalidArgumentError), call_options(retry=5):  # type: ignore[arg-type]
        pass
    assert current_call_options() is None
