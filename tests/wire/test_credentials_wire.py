"""Exact requests of the credential providers: IMDSv2, container credentials, STS.

Every endpoint is mocked with ``responses``; nothing leaves the process. The
instance metadata tests use a loopback endpoint (the default one is only checked
through the mock), and a guard fails any real connection to a link-local address.
"""

from __future__ import annotations

import json
import os
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses
import urllib3.util.connection

from libstore.auth import (
    Credentials,
    calculate_signature,
    canonical_request,
    derive_signing_key,
    string_to_sign,
)
from libstore.credentials import (
    AssumeRoleProvider,
    ContainerProvider,
    CredentialsError,
    InstanceMetadataProvider,
    ProfileProvider,
    RefreshingCredentials,
    StaticProvider,
    WebIdentityProvider,
    default_chain,
)

IMDS = "http://127.0.0.1:1338"
TOKEN_URL = f"{IMDS}/latest/api/token"
ROLE_URL = f"{IMDS}/latest/meta-data/iam/security-credentials/"
EXPIRES = "2030-01-01T00:00:00Z"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    real = urllib3.util.connection.create_connection

    def guarded(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        if address[0].startswith(("169.254.", "fd00:ec2")):
            raise AssertionError(f"a test tried to reach {address[0]}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", guarded)


def imds_credentials(key: str = "ASIAIMDS") -> str:
    return json.dumps(
        {
            "Code": "Success",
            "LastUpdated": "2026-01-01T00:00:00Z",
            "Type": "AWS-HMAC",
            "AccessKeyId": key,
            "SecretAccessKey": "imds-secret",
            "Token": "imds-token",
            "Expiration": EXPIRES,
        }
    )


def sts_reply(action: str, key: str = "ASIASTS", expires: str = EXPIRES) -> str:
    return (
        f'<{action}Response xmlns="{STS_NS}"><{action}Result><Credentials>'
        f"<AccessKeyId>{key}</AccessKeyId><SecretAccessKey>sts-secret</SecretAccessKey>"
        f"<SessionToken>sts-token</SessionToken><Expiration>{expires}</Expiration>"
        f"</Credentials><AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn>"
        f"<AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser></{action}Result>"
        f"<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></{action}Response>"
    )


def sts_error(code: str, message: str = "denied") -> str:
    return (
        f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>req-2</RequestId></ErrorResponse>"
    )


def form(request: requests.PreparedRequest) -> dict[str, str]:
    body = request.body
    assert isinstance(body, bytes)
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


def check_sts_signature(
    request: requests.PreparedRequest, access_key: str, secret: str, region: str
) -> None:
    """Recompute the generic-rules SigV4 signature of an STS call as it went on the wire."""
    authorization = request.headers["Authorization"]
    assert isinstance(authorization, str)
    credential = authorization.split("Credential=")[1].split(",")[0]
    akid, date, scope_region, service, _ = credential.split("/")
    assert (akid, scope_region, service) == (access_key, region, "sts")
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    url = request.url
    assert url is not None
    parts = urlsplit(url)
    headers = [
        (name, parts.netloc if name == "host" else str(request.headers[name])) for name in signed
    ]
    body = request.body
    assert isinstance(body, bytes)
    import hashlib

    creq = canonical_request(
        "POST", parts.path, parts.query, headers, hashlib.sha256(body).hexdigest(), s3=False
    )
    when = datetime.strptime(str(request.headers["X-Amz-Date"]), "%Y%m%dT%H%M%SZ").replace(
        tzinfo=UTC
    )
    sts = string_to_sign(creq, when, region, "sts")
    expected = calculate_signature(derive_signing_key(secret, date, region, "sts"), sts)
    assert authorization.endswith(f"Signature={expected}")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


# --------------------------------------------------------------------------
# IMDSv2
# --------------------------------------------------------------------------


def test_imdsv2_token_flow(mock: responses.RequestsMock) -> None:
    mock.add(responses.PUT, TOKEN_URL, body="TOKEN-1")
    mock.add(responses.GET, ROLE_URL, body="reader-role\n")
    mock.add(responses.GET, ROLE_URL + "reader-role", body=imds_credentials())
    mock.add(responses.GET, ROLE_URL, body="reader-role")
    mock.add(responses.GET, ROLE_URL + "reader-role", body=imds_credentials("ASIAIMDS2"))
    provider = InstanceMetadataProvider(endpoint=IMDS)

    creds = provider()
    assert creds == Credentials(
        "ASIAIMDS", "imds-secret", "imds-token", expires_at=datetime(2030, 1, 1, tzinfo=UTC)
    )
    put = mock.calls[0].request
    assert put.method == "PUT"
    assert put.headers["X-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    for call in mock.calls[1:3]:
        assert call.request.headers["X-aws-ec2-metadata-token"] == "TOKEN-1"
        assert "Authorization" not in call.request.headers
    # the session token is reused: the second fetch sends no PUT
    assert provider().access_key == "ASIAIMDS2"  # type: ignore[union-attr]
    assert [c.request.method for c in mock.calls] == ["PUT", "GET", "GET", "GET", "GET"]


def test_imds_default_endpoint_is_the_link_local_address(mock: responses.RequestsMock) -> None:
    mock.add(responses.PUT, "http://169.254.169.254/latest/api/token", body="T")
    mock.add(
        responses.GET,
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        body="r",
    )
    mock.add(
        responses.GET,
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/r",
        body=imds_credentials(),
    )
    assert InstanceMetadataProvider()() is not None  # mocked: nothing leaves the process


def test_imds_expired_session_token_is_renewed_once(mock: responses.RequestsMock) -> None:
    mock.add(responses.PUT, TOKEN_URL, body="OLD")
    mock.add(responses.GET, ROLE_URL, status=401)
    mock.add(responses.PUT, TOKEN_URL, body="NEW")
    mock.add(responses.GET, ROLE_URL, body="r")
    mock.add(responses.GET, ROLE_URL + "r", body=imds_credentials())
    assert InstanceMetadataProvider(endpoint=IMDS)() is not None
    assert mock.calls[3].request.headers["X-aws-ec2-metadata-token"] == "NEW"


@pytest.mark.parametrize("status", [404, 405])
def test_imds_v1_fallback_only_when_asked(mock: responses.RequestsMock, status: int) -> None:
    mock.add(responses.PUT, TOKEN_URL, status=status)
    assert InstanceMetadataProvider(endpoint=IMDS)() is None  # no GET without a token
    assert len(mock.calls) == 1

    mock.add(responses.PUT, TOKEN_URL, status=status)
    mock.add(responses.GET, ROLE_URL, body="r")
    mock.add(responses.GET, ROLE_URL + "r", body=imds_credentials())
    assert InstanceMetadataProvider(endpoint=IMDS, allow_v1_fallback=True)() is not None
    for call in mock.calls[2:]:
        assert "X-aws-ec2-metadata-token" not in call.request.headers


def test_imds_v1_can_be_disabled_by_the_environment(
    mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_V1_DISABLED", "true")
    mock.add(responses.PUT, TOKEN_URL, status=405)
    assert InstanceMetadataProvider(endpoint=IMDS, allow_v1_fallback=True)() is None


def test_imds_token_timeout_falls_back_to_v1_when_allowed(mock: responses.RequestsMock) -> None:
    mock.add(responses.PUT, TOKEN_URL, body=requests.exceptions.ReadTimeout("hop limit"))
    mock.add(responses.GET, ROLE_URL, body="r")
    mock.add(responses.GET, ROLE_URL + "r", body=imds_credentials())
    assert InstanceMetadataProvider(endpoint=IMDS, allow_v1_fallback=True)() is not None
    mock.add(responses.PUT, TOKEN_URL, body=requests.exceptions.ReadTimeout("hop limit"))
    assert InstanceMetadataProvider(endpoint=IMDS)() is None


def test_imds_switched_off_or_absent(mock: responses.RequestsMock) -> None:
    mock.add(responses.PUT, TOKEN_URL, status=403)
    assert InstanceMetadataProvider(endpoint=IMDS, allow_v1_fallback=True)() is None
    mock.add(responses.PUT, TOKEN_URL, body=requests.exceptions.ConnectionError("refused"))
    assert InstanceMetadataProvider(endpoint=IMDS)() is None
    assert len(mock.calls) == 2


def test_imds_without_an_instance_profile(mock: responses.RequestsMock) -> None:
    mock.add(responses.PUT, TOKEN_URL, body="T")
    mock.add(responses.GET, ROLE_URL, status=404)
    assert InstanceMetadataProvider(endpoint=IMDS)() is None


def test_imds_failures_after_the_token_are_errors(mock: responses.RequestsMock) -> None:
    mock.add(responses.PUT, TOKEN_URL, body="T")
    mock.add(responses.GET, ROLE_URL, body="r")
    mock.add(
        responses.GET,
        ROLE_URL + "r",
        body=json.dumps({"Code": "AssumeRoleUnauthorizedAccess", "Message": "no"}),
    )
    with pytest.raises(CredentialsError, match="AssumeRoleUnauthorizedAccess"):
        InstanceMetadataProvider(endpoint=IMDS)()


# --------------------------------------------------------------------------
# Container credentials (ECS, EKS Pod Identity)
# --------------------------------------------------------------------------


def container_reply(key: str = "ASIAECS") -> str:
    return json.dumps(
        {
            "AccessKeyId": key,
            "SecretAccessKey": "ecs-secret",
            "Token": "ecs-token",
            "Expiration": EXPIRES,
            "RoleArn": "arn:aws:iam::1:role/task",
        }
    )


def test_ecs_relative_uri(mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc")
    mock.add(responses.GET, "http://169.254.170.2/v2/credentials/abc", body=container_reply())
    creds = ContainerProvider()()
    assert creds is not None and creds.token == "ecs-token"
    assert "Authorization" not in mock.calls[0].request.headers


def test_eks_pod_identity_full_uri_with_token_file(
    mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token = write(tmp_path / "eks-token", "pod-token-1\n")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:2020/creds")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored-when-a-file-is-set")
    mock.add(responses.GET, "http://127.0.0.1:2020/creds", body=container_reply("ASIA1"))
    mock.add(responses.GET, "http://127.0.0.1:2020/creds", body=container_reply("ASIA2"))
    provider = ContainerProvider()
    assert provider().access_key == "ASIA1"  # type: ignore[union-attr]
    token.write_text("pod-token-2")  # rotated: read again at the next fetch
    assert provider().access_key == "ASIA2"  # type: ignore[union-attr]
    assert [c.request.headers["Authorization"] for c in mock.calls] == [
        "pod-token-1",
        "pod-token-2",
    ]


def test_container_token_from_the_environment(
    mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "https://creds.example/role")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic abc")
    mock.add(responses.GET, "https://creds.example/role", body=container_reply())
    assert ContainerProvider()() is not None
    assert mock.calls[0].request.headers["Authorization"] == "Basic abc"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ({"status": 403, "body": json.dumps({"code": "Denied", "message": "no"})}, "Denied"),
        ({"status": 200, "body": "<html>"}, "did not answer with JSON"),
        ({"status": 200, "body": json.dumps({"AccessKeyId": "A"})}, "no secret"),
    ],
)
def test_container_endpoint_failures(
    mock: responses.RequestsMock, reply: dict[str, Any], message: str
) -> None:
    mock.add(responses.GET, "http://127.0.0.1:2020/creds", **reply)
    with pytest.raises(CredentialsError, match=message):
        ContainerProvider(full_uri="http://127.0.0.1:2020/creds", attempts=1)()


def test_container_endpoint_5xx_is_retried(mock: responses.RequestsMock) -> None:
    mock.add(responses.GET, "http://127.0.0.1:2020/creds", status=503)
    mock.add(responses.GET, "http://127.0.0.1:2020/creds", body=container_reply())
    assert ContainerProvider(full_uri="http://127.0.0.1:2020/creds")() is not None


# --------------------------------------------------------------------------
# STS AssumeRole from profiles
# --------------------------------------------------------------------------


@pytest.fixture
def aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "aws-config"
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    return config


def test_assume_role_with_source_profile(mock: responses.RequestsMock, aws_config: Path) -> None:
    write(
        aws_config,
        """
        [profile base]
        aws_access_key_id = AKIDBASE
        aws_secret_access_key = base-secret

        [profile app]
        role_arn = arn:aws:iam::123456789012:role/app
        source_profile = base
        role_session_name = nightly-backup
        external_id = ext-42
        duration_seconds = 900
        region = eu-west-1
        """,
    )
    mock.add(responses.POST, "https://sts.eu-west-1.amazonaws.com/", body=sts_reply("AssumeRole"))
    creds = ProfileProvider("app")()
    assert creds == Credentials(
        "ASIASTS", "sts-secret", "sts-token", expires_at=datetime(2030, 1, 1, tzinfo=UTC)
    )
    request = mock.calls[0].request
    assert form(request) == {
        "Action": "AssumeRole",
        "Version": "2011-06-15",
        "RoleArn": "arn:aws:iam::123456789012:role/app",
        "RoleSessionName": "nightly-backup",
        "ExternalId": "ext-42",
        "DurationSeconds": "900",
    }
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    check_sts_signature(request, "AKIDBASE", "base-secret", "eu-west-1")


def test_chained_roles_and_custom_sts_endpoint(
    mock: responses.RequestsMock, aws_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:4566")
    write(
        aws_config,
        """
        [profile base]
        aws_access_key_id = AKIDBASE
        aws_secret_access_key = base-secret

        [profile first]
        role_arn = arn:aws:iam::1:role/first
        source_profile = base

        [profile second]
        role_arn = arn:aws:iam::2:role/second
        source_profile = first
        """,
    )
    mock.add(responses.POST, "http://127.0.0.1:4566/", body=sts_reply("AssumeRole", "ASIAONE"))
    mock.add(responses.POST, "http://127.0.0.1:4566/", body=sts_reply("AssumeRole", "ASIATWO"))
    assert ProfileProvider("second")().access_key == "ASIATWO"  # type: ignore[union-attr]
    first, second = (call.request for call in mock.calls)
    assert form(first)["RoleArn"] == "arn:aws:iam::1:role/first"
    assert form(first)["RoleSessionName"].startswith("libstore-session-")
    check_sts_signature(first, "AKIDBASE", "base-secret", "us-east-1")
    assert form(second)["RoleArn"] == "arn:aws:iam::2:role/second"
    check_sts_signature(second, "ASIAONE", "sts-secret", "us-east-1")
    assert second.headers["X-Amz-Security-Token"] == "sts-token"


def test_self_sourced_role_and_credential_source(
    mock: responses.RequestsMock, aws_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        aws_config,
        """
        [profile self]
        aws_access_key_id = AKIDSELF
        aws_secret_access_key = self-secret
        role_arn = arn:aws:iam::1:role/self
        source_profile = self

        [profile env]
        role_arn = arn:aws:iam::1:role/env
        credential_source = Environment
        """,
    )
    mock.add(responses.POST, "https://sts.amazonaws.com/", body=sts_reply("AssumeRole"))
    ProfileProvider("self")()
    check_sts_signature(mock.calls[0].request, "AKIDSELF", "self-secret", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    mock.add(responses.POST, "https://sts.amazonaws.com/", body=sts_reply("AssumeRole"))
    ProfileProvider("env")()
    check_sts_signature(mock.calls[1].request, "AKIDENV", "env-secret", "us-east-1")


def test_sts_errors_are_credentials_errors(mock: responses.RequestsMock) -> None:
    mock.add(
        responses.POST,
        "https://sts.amazonaws.com/",
        status=403,
        body=sts_error("AccessDenied", "not allowed to assume"),
    )
    provider = AssumeRoleProvider(
        StaticProvider(Credentials("AKID", "s")), "arn:aws:iam::1:role/x", attempts=1
    )
    with pytest.raises(CredentialsError) as info:
        provider()
    assert info.value.code == "AccessDenied"
    assert "not allowed to assume" in str(info.value)
    assert info.value.http_status == 403


def test_sts_throttling_is_retried(mock: responses.RequestsMock) -> None:
    mock.add(responses.POST, "https://sts.amazonaws.com/", status=400, body=sts_error("Throttling"))
    mock.add(responses.POST, "https://sts.amazonaws.com/", body=sts_reply("AssumeRole"))
    provider = AssumeRoleProvider(StaticProvider(Credentials("AKID", "s")), "arn:aws:iam::1:role/x")
    assert provider() is not None


def test_sts_reply_without_credentials(mock: responses.RequestsMock) -> None:
    mock.add(responses.POST, "https://sts.amazonaws.com/", body="<AssumeRoleResponse/>")
    provider = AssumeRoleProvider(StaticProvider(Credentials("AKID", "s")), "arn:aws:iam::1:role/x")
    with pytest.raises(CredentialsError, match="holds no credentials"):
        provider()


def test_assumed_role_credentials_refresh_through_sts(mock: responses.RequestsMock) -> None:
    now = [datetime.now(UTC)]
    expires = (now[0] + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    mock.add(
        responses.POST, "https://sts.amazonaws.com/", body=sts_reply("AssumeRole", "ASIA1", expires)
    )
    mock.add(responses.POST, "https://sts.amazonaws.com/", body=sts_reply("AssumeRole", "ASIA2"))
    source = RefreshingCredentials(
        AssumeRoleProvider(StaticProvider(Credentials("AKID", "s")), "arn:aws:iam::1:role/x"),
        clock=lambda: now[0],
    )
    assert source().access_key == "ASIA1"
    assert source().access_key == "ASIA1"  # cached
    now[0] += timedelta(minutes=52)  # 8 minutes left: a new AssumeRole call
    assert source().access_key == "ASIA2"
    assert len(mock.calls) == 2


# --------------------------------------------------------------------------
# Web identity
# --------------------------------------------------------------------------


def test_web_identity_from_the_environment(
    mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token = write(tmp_path / "oidc", "eyJ.token.1\n")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/irsa")
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "pod-7")
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")
    url = "https://sts.ap-southeast-2.amazonaws.com/"
    mock.add(responses.POST, url, body=sts_reply("AssumeRoleWithWebIdentity"))
    mock.add(responses.POST, url, body=sts_reply("AssumeRoleWithWebIdentity", "ASIA2"))
    creds = default_chain()()
    assert creds.access_key == "ASIASTS"
    request = mock.calls[0].request
    assert "Authorization" not in request.headers  # the call is not signed
    assert form(request) == {
        "Action": "AssumeRoleWithWebIdentity",
        "Version": "2011-06-15",
        "RoleArn": "arn:aws:iam::1:role/irsa",
        "RoleSessionName": "pod-7",
        "WebIdentityToken": "eyJ.token.1",
    }
    token.write_text("eyJ.token.2")  # the kubelet rotated it
    WebIdentityProvider()()
    assert form(mock.calls[1].request)["WebIdentityToken"] == "eyJ.token.2"


def test_web_identity_profile_and_idp_retry(
    mock: responses.RequestsMock, aws_config: Path, tmp_path: Path
) -> None:
    token = write(tmp_path / "oidc", "tok")
    write(
        aws_config,
        f"""
        [default]
        role_arn = arn:aws:iam::1:role/web
        web_identity_token_file = {token}
        """,
    )
    mock.add(
        responses.POST,
        "https://sts.amazonaws.com/",
        status=400,
        body=sts_error("IDPCommunicationError", "try again"),
    )
    mock.add(
        responses.POST, "https://sts.amazonaws.com/", body=sts_reply("AssumeRoleWithWebIdentity")
    )
    assert ProfileProvider()() is not None
    assert len(mock.calls) == 2


def test_web_identity_invalid_token_is_an_error(
    mock: responses.RequestsMock, tmp_path: Path
) -> None:
    token = write(tmp_path / "oidc", "bad")
    mock.add(
        responses.POST,
        "https://sts.amazonaws.com/",
        status=400,
        body=sts_error("InvalidIdentityToken", "expired"),
    )
    with pytest.raises(CredentialsError, match="InvalidIdentityToken"):
        WebIdentityProvider("arn:aws:iam::1:role/x", token)()


# --------------------------------------------------------------------------
# The whole chain, in order
# --------------------------------------------------------------------------


def test_chain_falls_through_to_container_then_imds(
    mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    mock.add(responses.PUT, TOKEN_URL, body="T")
    mock.add(responses.GET, ROLE_URL, body="r")
    mock.add(responses.GET, ROLE_URL + "r", body=imds_credentials())
    assert default_chain(imds_endpoint=IMDS)().access_key == "ASIAIMDS"

    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:2020/creds")
    mock.add(responses.GET, "http://127.0.0.1:2020/creds", body=container_reply())
    assert default_chain(imds_endpoint=IMDS)().access_key == "ASIAECS"
    assert len(mock.calls) == 4  # the container endpoint answered: IMDS was not asked
