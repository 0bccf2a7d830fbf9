"""from_url / from_config against real servers: scoped to a bucket and a prefix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from servers import S3Endpoint

import libstore
from libstore.drivers.s3 import S3StorageDriver
from libstore.scoped import ScopedDriver
from libstore.types import AccessDeniedError

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no real ~/.aws
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def plain(endpoint: S3Endpoint) -> S3StorageDriver:
    return S3StorageDriver(
        endpoint.access_key, endpoint.secret_key, secure=False, host="127.0.0.1",
        port=endpoint.port,
    )  # fmt: skip


def cleanup(driver: S3StorageDriver, bucket: str) -> None:
    container = driver.get_container(bucket)
    for obj in list(driver.iterate_container_objects(container)):
        driver.delete_object(obj)
    driver.delete_container(container)


def test_from_url_scopes_every_operation(
    s3_server: S3Endpoint, bucket_name: str, tmp_path: Path
) -> None:
    raw = plain(s3_server)
    store = libstore.from_url(
        f"http://127.0.0.1:{s3_server.port}/{bucket_name}/tenants/42",
        key=s3_server.access_key,
        secret=s3_server.secret_key,
        auto_create_bucket=True,
        environ={},
    )
    assert isinstance(store, ScopedDriver)
    try:
        source = tmp_path / "report.csv"
        source.write_bytes(b"a,b\n1,2\n")
        store.upload_object(source, store.container, "reports/report.csv")  # creates the bucket
        raw.upload_object_via_stream(iter([b"secret"]), raw.get_container(bucket_name), "other")
        assert store.list_names() == ["reports/report.csv"]
        assert [o.name for o in raw.iterate_container_objects(raw.get_container(bucket_name))] == [
            "other",
            "tenants/42/reports/report.csv",
        ]
        obj = store.get_object(bucket_name, "reports/report.csv")
        target = tmp_path / "back.csv"
        assert obj.download(str(target))
        assert target.read_bytes() == b"a,b\n1,2\n"
        url = store.presign("GET", "reports/report.csv").url
        assert f"/{bucket_name}/tenants/42/reports/report.csv?" in url
        assert store.delete_object(obj)
        assert store.list_names() == []
    finally:
        cleanup(raw, bucket_name)


def test_from_config_toml_with_environment_substitution(
    seaweedfs: S3Endpoint, bucket_name: str, tmp_path: Path
) -> None:
    config = tmp_path / "libstore.toml"
    config.write_text(
        textwrap.dedent(
            """
            [storage]
            url = "s3://${env.BUCKET}/app"
            endpoint_url = "http://127.0.0.1:${env.S3_PORT}"
            region = "${env.REGION:=us-east-1}"
            access_key_id = "${env.ACCESS}"
            secret_access_key = "${env.SECRET}"
            auto_create_bucket = true
            """
        )
    )
    env = {
        "BUCKET": bucket_name,
        "S3_PORT": str(seaweedfs.port),
        "ACCESS": seaweedfs.access_key,
        "SECRET": seaweedfs.secret_key,
    }
    store = libstore.from_config(config, section="storage", environ=env)
    try:
        store.upload_object_via_stream(iter([b"configured"]), store.container, "x.txt")
        assert plain(seaweedfs).get_object(bucket_name, "app/x.txt").size == len(b"configured")
    finally:
        cleanup(plain(seaweedfs), bucket_name)


def test_anonymous_requests_are_refused_by_a_signing_server(
    seaweedfs: S3Endpoint, bucket_name: str
) -> None:
    raw = plain(seaweedfs)
    raw.create_container(bucket_name)
    try:
        store = libstore.from_url(
            f"http://127.0.0.1:{seaweedfs.port}/{bucket_name}", anonymous=True, environ={}
        )
        with pytest.raises(AccessDeniedError):
            store.list_names()
    finally:
        raw.delete_container(raw.get_container(bucket_name))
