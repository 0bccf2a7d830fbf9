"""The credential chain end to end: real servers verify what the credentials sign.

* ``credential_process``, the environment, the shared files, an IMDSv2 and an ECS
  endpoint (small HTTP servers on 127.0.0.1) hand out SeaweedFS's identity, and
  SeaweedFS checks every signature made with it;
* STS ``AssumeRole`` (a profile with ``role_arn`` + ``source_profile``) and
  ``AssumeRoleWithWebIdentity`` are answered by moto's STS;
* expired credentials are refreshed and the request replayed: a fault proxy
  answers ``ExpiredToken`` once in front of SeaweedFS, which verifies the replay.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy, status
from servers import S3Endpoint

from libstore.auth import Credentials
from libstore.credentials import (
    ContainerProvider,
    InstanceMetadataProvider,
    default_chain,
)
from libstore.drivers.s3 import S3StorageDriver
from libstore.http.retry import RetryPolicy
from libstore.types import InvalidCredsError

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # the real 169.254.169.254: never


def driver_on(endpoint: S3Endpoint, port: int | None = None, **kwargs: Any) -> S3StorageDriver:
    return S3StorageDriver(
        secure=False,
        host="127.0.0.1",
        port=port or endpoint.port,
        region=endpoint.region,
        retry_policy=RetryPolicy(max_attempts=2, backoff_base=0.01),
        **kwargs,
    )


def bucket_names(driver: S3StorageDriver) -> list[str]:
    return [c.name for c in driver.iterate_containers()]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


# -- a metadata server on 127.0.0.1 ----------------------------------------------------------


class MetadataServer:
    """IMDSv2 and container-credential endpoints serving one identity."""

    def __init__(self, access_key: str, secret_key: str) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.tokens: set[str] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: bytes = b"") -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self) -> None:
                outer.requests.append(("PUT", self.path, dict(self.headers)))
                if self.path == "/latest/api/token" and self.headers.get(
                    "X-aws-ec2-metadata-token-ttl-seconds"
                ):
                    token = f"token-{len(outer.tokens)}"
                    outer.tokens.add(token)
                    self._send(200, token.encode())
                else:
                    self._send(400)

            def do_GET(self) -> None:
                outer.requests.append(("GET", self.path, dict(self.headers)))
                creds = json.dumps(
                    {
                        "Code": "Success",
                        "AccessKeyId": outer.access_key,
                        "SecretAccessKey": outer.secret_key,
                        "Expiration": (datetime.now(UTC) + timedelta(hours=6)).strftime(
                            "%Y-%m-%dT%H:%M:%SZ"
                        ),
                    }
                ).encode()
                if self.path.startswith("/latest/"):
                    if self.headers.get("X-aws-ec2-metadata-token") not in outer.tokens:
                        self._send(401)
                    elif self.path == "/latest/meta-data/iam/security-credentials/":
                        self._send(200, b"libstore-role")
                    elif self.path == "/latest/meta-data/iam/security-credentials/libstore-role":
                        self._send(200, creds)
                    else:
                        self._send(404)
                elif self.path == "/ecs/creds":
                    if self.headers.get("Authorization") != "pod-identity-token":
                        self._send(401)
                    else:
                        self._send(200, creds)
                else:
                    self._send(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> MetadataServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def metadata(seaweedfs: S3Endpoint) -> Iterator[MetadataServer]:
    with MetadataServer(seaweedfs.access_key, seaweedfs.secret_key) as server:
        yield server


def test_imdsv2_credentials_sign_for_seaweedfs(
    seaweedfs: S3Endpoint, metadata: MetadataServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", metadata.url)
    driver = driver_on(seaweedfs)  # no key: the default chain ends at IMDS
    bucket_names(driver)
    methods = [(method, path) for method, path, _ in metadata.requests]
    assert methods == [
        ("PUT", "/latest/api/token"),
        ("GET", "/latest/meta-data/iam/security-credentials/"),
        ("GET", "/latest/meta-data/iam/security-credentials/libstore-role"),
    ]
    assert driver.get_credentials().access_key == seaweedfs.access_key  # type: ignore[union-attr]
    explicit = driver_on(seaweedfs, credentials=InstanceMetadataProvider(endpoint=metadata.url))
    bucket_names(explicit)


def test_container_credentials_sign_for_seaweedfs(
    seaweedfs: S3Endpoint, metadata: MetadataServer, tmp_path: Path
) -> None:
    token = write(tmp_path / "eks-token", "pod-identity-token")
    provider = ContainerProvider(full_uri=f"{metadata.url}/ecs/creds", token_file=token)
    bucket_names(driver_on(seaweedfs, credentials=provider))
    assert metadata.requests[-1][2]["Authorization"] == "pod-identity-token"


def test_environment_and_shared_files_sign_for_seaweedfs(
    seaweedfs: S3Endpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs.secret_key)
    bucket_names(driver_on(seaweedfs))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    creds = write(
        tmp_path / "credentials",
        f"""
        [seaweed]
        aws_access_key_id = {seaweedfs.access_key}
        aws_secret_access_key = {seaweedfs.secret_key}
        """,
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_PROFILE", "seaweed")
    bucket_names(driver_on(seaweedfs))


def test_credential_process_signs_for_seaweedfs(
    seaweedfs: S3Endpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    script = write(
        tmp_path / "helper.py",
        f"""
        import json
        print(json.dumps({{"Version": 1, "AccessKeyId": {seaweedfs.access_key!r},
                           "SecretAccessKey": {seaweedfs.secret_key!r}}}))
        """,
    )
    config = write(
        tmp_path / "config", f"[profile proc]\ncredential_process = {sys.executable} {script}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    bucket_names(driver_on(seaweedfs, credentials=default_chain("proc")))


def test_wrong_credentials_from_a_provider_are_refused(seaweedfs: S3Endpoint) -> None:
    driver = driver_on(
        seaweedfs, credentials=lambda: Credentials(seaweedfs.access_key, "wrong-secret")
    )
    with pytest.raises(InvalidCredsError):
        bucket_names(driver)


# -- STS on moto --------------------------------------------------------------------------------


def test_assume_role_profile_through_moto_sts(
    moto_s3: S3Endpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bucket_name: str
) -> None:
    config = write(
        tmp_path / "config",
        f"""
        [profile base]
        aws_access_key_id = {moto_s3.access_key}
        aws_secret_access_key = {moto_s3.secret_key}

        [profile app]
        role_arn = arn:aws:iam::123456789012:role/libstore-app
        source_profile = base
        role_session_name = integration
        duration_seconds = 900
        """,
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{moto_s3.port}")
    driver = driver_on(moto_s3, credentials=default_chain("app"))
    driver.create_container(bucket_name)
    try:
        creds = driver.get_credentials()
        assert creds is not None
        assert creds.access_key.startswith("ASIA")  # temporary credentials from STS
        assert creds.token and creds.expires_at is not None
        assert creds.expires_at - datetime.now(UTC) <= timedelta(seconds=905)
        assert bucket_name in bucket_names(driver)
    finally:
        driver.delete_container(driver.get_container(bucket_name))


def test_web_identity_through_moto_sts(
    moto_s3: S3Endpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token = write(tmp_path / "oidc-token", "eyJhbGciOiJSUzI1NiJ9.e30.sig")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{moto_s3.port}")
    driver = driver_on(moto_s3)
    bucket_names(driver)
    creds = driver.get_credentials()
    assert creds is not None and creds.access_key.startswith("ASIA")


# -- refresh and replay, verified by SeaweedFS ------------------------------------------------


def test_expired_token_is_refreshed_and_the_replay_verified(seaweedfs: S3Endpoint) -> None:
    fetched: list[datetime] = []

    def provider() -> Credentials:
        fetched.append(datetime.now(UTC))
        return Credentials(
            seaweedfs.access_key,
            seaweedfs.secret_key,
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )

    with FaultProxy("127.0.0.1", seaweedfs.port) as proxy:
        proxy.add(status(400, error_code="ExpiredToken", message="The token has expired"))
        driver = driver_on(seaweedfs, port=proxy.port, credentials=provider)
        bucket_names(driver)
        log = proxy.log
    assert len(fetched) == 2
    assert [entry[2] for entry in log][:1] == ["status"]
    assert len(log) == 2  # the replay went through to SeaweedFS, which accepted it


def test_region_redirect_is_replayed_through_a_real_server(
    moto_s3: S3Endpoint, bucket_name: str
) -> None:
    driver = driver_on(moto_s3, key=moto_s3.access_key, secret=moto_s3.secret_key)
    driver.create_container(bucket_name)
    try:
        with FaultProxy("127.0.0.1", moto_s3.port) as proxy:
            proxy.add(
                status(
                    301,
                    error_code="PermanentRedirect",
                    headers={"x-amz-bucket-region": "eu-west-3"},
                    path=f"/{bucket_name}",
                )
            )
            via = driver_on(
                moto_s3, port=proxy.port, key=moto_s3.access_key, secret=moto_s3.secret_key
            )
            assert via.get_container(bucket_name).name == bucket_name
            assert via.bucket_region(bucket_name) == "eu-west-3"
            assert len(proxy.log) == 2
    finally:
        driver.delete_container(driver.get_container(bucket_name))


def test_no_aws_variables_leak_into_these_tests() -> None:
    assert not [name for name in os.environ if name.startswith("AWS_") and "METADATA" not in name]
