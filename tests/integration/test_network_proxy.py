"""Proxies against SeaweedFS: a real forward proxy (absolute-URI and CONNECT) on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from netkit import make_driver, round_trip
from netproxy import ForwardProxy
from servers import S3Endpoint, free_ports
from tlsfront import Pki, TlsFront, make_pki

from libstore.types import LibstoreError, TransportError

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy() as running:
        yield running


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _targets(proxy: ForwardProxy) -> list[str]:
    return [entry.target for entry in proxy.log]


def test_plain_http_goes_through_the_proxy(
    seaweedfs: S3Endpoint, proxy: ForwardProxy, bucket_name: str, tmp_path: Path
) -> None:
    driver = make_driver(seaweedfs, proxies={"http": proxy.url})
    round_trip(driver, bucket_name, tmp_path, large=True)
    methods = {entry.method for entry in proxy.log}
    assert {"PUT", "GET", "HEAD", "DELETE", "POST"} <= methods
    base = f"http://127.0.0.1:{seaweedfs.port}/{bucket_name}"
    assert all(target.startswith(base) for target in _targets(proxy))
    assert all(entry.status < 400 or entry.method == "HEAD" for entry in proxy.log)
    assert any("uploadId=" in target for target in _targets(proxy))  # multipart went through


def test_proxy_authentication(
    seaweedfs: S3Endpoint, bucket_name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    password = "pr0xy-Pa55word"
    with ForwardProxy(username="libstore", password=password) as proxy:
        anonymous = make_driver(seaweedfs, proxies={"http": proxy.url})
        with pytest.raises(LibstoreError) as info:
            anonymous.create_container(bucket_name)
        assert info.value.http_status == 407
        assert [entry.status for entry in proxy.log] == [407]

        caplog.set_level(logging.DEBUG, logger="libstore")
        url = f"http://libstore:{password}@127.0.0.1:{proxy.port}"
        driver = make_driver(seaweedfs, proxies={"http": url})
        assert password not in repr(driver.options)
        round_trip(driver, bucket_name, tmp_path)
        assert all(entry.authorized for entry in proxy.log[1:])
        assert len(proxy.log) > 5
    assert password not in caplog.text


def test_no_proxy_reaches_the_server_directly(
    seaweedfs: S3Endpoint, proxy: ForwardProxy, bucket_name: str, tmp_path: Path
) -> None:
    for exclusion in ("127.0.0.1", f"127.0.0.1:{seaweedfs.port}", "127.0.0.0/8", "*"):
        driver = make_driver(seaweedfs, proxies={"http": proxy.url}, no_proxy=exclusion)
        round_trip(driver, f"{bucket_name}-{len(exclusion)}", tmp_path)
    other_port = make_driver(seaweedfs, proxies={"http": proxy.url}, no_proxy="127.0.0.1:1")
    round_trip(other_port, bucket_name, tmp_path)
    buckets = {entry.target.split("/")[3].split("?")[0] for entry in proxy.log}
    assert buckets == {bucket_name}  # only the driver whose exclusion did not match


def test_environment_proxies_are_read_when_the_driver_is_built(
    seaweedfs: S3Endpoint,
    proxy: ForwardProxy,
    bucket_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    through_proxy = make_driver(seaweedfs)
    assert through_proxy._http.network.proxy_source == "environment"
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    direct = make_driver(seaweedfs)
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.delenv("NO_PROXY")

    round_trip(direct, bucket_name, tmp_path)
    assert proxy.log == []
    round_trip(through_proxy, bucket_name, tmp_path)  # the variable is gone: still proxied
    assert len(proxy.log) > 5
    ignoring = make_driver(seaweedfs, trust_env=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # would fail if it were read
    count = len(proxy.log)
    round_trip(ignoring, bucket_name, tmp_path)
    assert len(proxy.log) == count


def test_https_goes_through_a_connect_tunnel(
    seaweedfs: S3Endpoint, proxy: ForwardProxy, pki: Pki, bucket_name: str, tmp_path: Path
) -> None:
    with TlsFront("127.0.0.1", seaweedfs.port, pki.server_cert, pki.server_key) as front:
        driver = make_driver(
            seaweedfs,
            port=front.port,
            secure=True,
            proxies={"https": proxy.url},
            ca_bundle=pki.ca_cert,
        )
        round_trip(driver, bucket_name, tmp_path, large=True)
        assert front.handshakes >= 1
    assert {entry.method for entry in proxy.log} == {"CONNECT"}
    assert {entry.target for entry in proxy.log} == {f"127.0.0.1:{front.port}"}
    # Connections are pooled: far fewer tunnels than requests.
    assert proxy.tunnels_opened <= 8


def test_an_unreachable_proxy_is_a_transport_error(seaweedfs: S3Endpoint, bucket_name: str) -> None:
    (dead,) = free_ports(1)
    driver = make_driver(seaweedfs, proxies={"http": f"http://127.0.0.1:{dead}"})
    with pytest.raises(TransportError, match="proxy") as info:
        driver.create_container(bucket_name)
    assert not isinstance(info.value, requests.RequestException)
