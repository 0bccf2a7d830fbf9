"""Run the public AWS Signature V4 test suites against libstore.auth.

The suites live outside the repository, in ``<repo>/../shared/sigv4-vectors``:

* ``aws-sig-v4-test-suite``: the classic suite (``NAME.req``, ``.creq``,
  ``.sts``, ``.authz``, ``.sreq`` per case, some cases nested one level down);
* ``aws-signing-test-suite-v4``: the newer suite (``context.json``,
  ``request.txt`` and header-signed and presigned expectations per case).

Every case is checked twice: once through the pure module-level steps with the
request's exact header lines (repeated names and folded values included), and
once through :class:`SigV4Signer`, whose dict-based API gets the equivalent
folded header values (repeated lines joined with ``,``, line folds replaced by
a space, as RFC 9110 allows a recipient to do). Both must reproduce the
canonical request, the string to sign and the signature exactly. All these
suites use the generic (non-S3) rules.

When the folder is missing the tests are skipped, or fail when ``CI`` is set.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from libstore.auth import (
    ALGORITHM,
    Credentials,
    SigV4Signer,
    amz_date,
    authorization_header,
    calculate_signature,
    canonical_headers,
    canonical_request,
    credential_scope,
    derive_signing_key,
    string_to_sign,
    uri_encode,
)

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "sigv4-vectors"
CLASSIC = VECTORS / "aws-sig-v4-test-suite"
SIGNING = VECTORS / "aws-signing-test-suite-v4"

# Published with the classic suite (see its README and SOURCE.txt).
CLASSIC_ACCESS_KEY = "AKIDEXAMPLE"
CLASSIC_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CLASSIC_REGION = "us-east-1"
CLASSIC_SERVICE = "service"
CLASSIC_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)

# Case counts of the pinned copies; fewer means files went missing.
MIN_CLASSIC_CASES = 34
MIN_SIGNING_CASES = 38

_FOLD = re.compile(r"\r?\n[ \t]+")


def _ci_is_set() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _require_vectors() -> None:
    if CLASSIC.is_dir() and SIGNING.is_dir():
        return
    message = (
        f"AWS SigV4 test vectors not found: expected {CLASSIC} and {SIGNING} "
        "(the shared sigv4-vectors folder next to the repository)"
    )
    if _ci_is_set():
        pytest.fail(f"{message}; they are required when CI is set", pytrace=False)
    pytest.skip(message)


# --------------------------------------------------------------------------
# Parsing the vector files
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RawRequest:
    """An HTTP/1.1 request as written in the vector files."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]

    @property
    def host(self) -> str:
        return next(value.strip() for name, value in self.headers if name.lower() == "host")

    def folded_headers(self, *, drop: tuple[str, ...] = ()) -> dict[str, str]:
        """Headers as one value per name: repeats joined with ``,``, folds unfolded."""
        out: dict[str, str] = {}
        for name, value in self.headers:
            if name.lower() in drop:
                continue
            value = _FOLD.sub(" ", value).strip()
            key = next((key for key in out if key.lower() == name.lower()), name)
            out[key] = f"{out[key]},{value}" if key in out else value
        return out

    def header(self, name: str) -> str | None:
        return next((v.strip() for n, v in self.headers if n.lower() == name.lower()), None)


def parse_request(raw: bytes) -> RawRequest:
    text = raw.decode("utf-8").replace("\r\n", "\n")
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    method, _, rest = lines[0].partition(" ")
    target = rest.rpartition(" ")[0]
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and headers:  # obs-fold continuation line
            name, value = headers[-1]
            headers[-1] = (name, f"{value}\n{line}")
            continue
        name, _, value = line.partition(":")
        headers.append((name, value))
    return RawRequest(method, target, headers, body.encode("utf-8"))


def query_pairs(query: str) -> Counter[tuple[str, str]]:
    return Counter(
        (piece.partition("=")[0], piece.partition("=")[2]) for piece in query.split("&") if piece
    )


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def authorization_parts(value: str) -> tuple[str, str]:
    """Return (signed headers, signature) from an Authorization value."""
    match = re.search(r"SignedHeaders=([^,\s]+).*Signature=([0-9a-f]{64})", value)
    assert match is not None, value
    return match.group(1), match.group(2)


# --------------------------------------------------------------------------
# Case discovery (at collection time)
# --------------------------------------------------------------------------


def _classic_case_dirs() -> list[Path]:
    if not CLASSIC.is_dir():
        return []
    return sorted(req.parent for req in CLASSIC.rglob("*.req"))


def _signing_case_dirs() -> list[Path]:
    if not SIGNING.is_dir():
        return []
    return sorted(d for d in SIGNING.iterdir() if (d / "context.json").is_file())


def _params(dirs: list[Path], root: Path) -> list[Any]:
    if not dirs:
        return [pytest.param(None, id="vectors-missing")]
    return [pytest.param(d, id=d.relative_to(root).as_posix()) for d in dirs]


CLASSIC_CASES = _params(_classic_case_dirs(), CLASSIC)
SIGNING_CASES = _params(_signing_case_dirs(), SIGNING)


def test_vector_suites_are_complete() -> None:
    _require_vectors()
    assert len(_classic_case_dirs()) >= MIN_CLASSIC_CASES
    assert len(_signing_case_dirs()) >= MIN_SIGNING_CASES


# --------------------------------------------------------------------------
# aws-sig-v4-test-suite
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassicCase:
    name: str
    request: RawRequest
    creq: str
    sts: str
    authz: str
    signed_request: RawRequest
    token: str | None
    token_signed: bool


def load_classic(case_dir: Path | None) -> ClassicCase:
    if case_dir is None:
        _require_vectors()
        raise AssertionError("unreachable")
    name = case_dir.name
    authz = read_text(case_dir / f"{name}.authz").strip()
    signed_request = parse_request((case_dir / f"{name}.sreq").read_bytes())
    # A case uses a session token when its signed request carries one; the
    # Authorization tells whether the token was part of the signature.
    token = signed_request.header("X-Amz-Security-Token")
    signed_names = authorization_parts(authz)[0].split(";")
    return ClassicCase(
        name=name,
        request=parse_request((case_dir / f"{name}.req").read_bytes()),
        creq=read_text(case_dir / f"{name}.creq"),
        sts=read_text(case_dir / f"{name}.sts"),
        authz=authz,
        signed_request=signed_request,
        token=token,
        token_signed="x-amz-security-token" in signed_names,
    )


@pytest.mark.parametrize("case_dir", CLASSIC_CASES)
def test_classic_suite_pure_steps(case_dir: Path | None) -> None:
    case = load_classic(case_dir)
    req = case.request
    headers = list(req.headers)
    if case.token is not None and case.token_signed and req.header("X-Amz-Security-Token") is None:
        headers.append(("X-Amz-Security-Token", case.token))

    creq = canonical_request(
        req.method, req.path, req.query, headers, sha256_hex(req.body), s3=False
    )
    assert creq == case.creq

    sts = string_to_sign(creq, CLASSIC_TIME, CLASSIC_REGION, CLASSIC_SERVICE)
    assert sts == case.sts

    key = derive_signing_key(CLASSIC_SECRET_KEY, "20150830", CLASSIC_REGION, CLASSIC_SERVICE)
    signature = calculate_signature(key, sts)
    _, signed_headers = canonical_headers(headers)
    scope = credential_scope(CLASSIC_TIME, CLASSIC_REGION, CLASSIC_SERVICE)
    assert authorization_header(CLASSIC_ACCESS_KEY, scope, signed_headers, signature) == case.authz


@pytest.mark.parametrize("case_dir", CLASSIC_CASES)
def test_classic_suite_signer(case_dir: Path | None) -> None:
    case = load_classic(case_dir)
    req = case.request
    credentials = Credentials(CLASSIC_ACCESS_KEY, CLASSIC_SECRET_KEY, case.token)
    signer = SigV4Signer(
        credentials, CLASSIC_REGION, CLASSIC_SERVICE, sign_session_token=case.token_signed
    )
    # Host comes from the URL; the token from the credentials.
    headers = req.folded_headers(drop=("host", "x-amz-security-token"))
    url = f"https://{req.host}{req.target}"

    result = signer.sign_detailed(
        req.method, url, headers=headers, body=req.body, timestamp=CLASSIC_TIME
    )

    assert result.canonical_request == case.creq
    assert result.string_to_sign == case.sts
    assert result.headers["Authorization"] == case.authz
    assert result.headers["X-Amz-Date"] == "20150830T123600Z"
    assert "X-Amz-Content-SHA256" not in result.headers  # generic service
    if case.token is None:
        assert "X-Amz-Security-Token" not in result.headers
    else:
        assert result.headers["X-Amz-Security-Token"] == case.token
    expected_names = {name.lower() for name, _ in case.signed_request.headers} - {"host"}
    assert {name.lower() for name in result.headers} == expected_names


# --------------------------------------------------------------------------
# aws-signing-test-suite-v4
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningCase:
    name: str
    directory: Path
    context: dict[str, Any]
    request: RawRequest

    def text(self, filename: str) -> str:
        return read_text(self.directory / filename)

    @property
    def timestamp(self) -> datetime:
        value = str(self.context["timestamp"]).replace("Z", "+00:00")
        return datetime.fromisoformat(value)

    @property
    def credentials(self) -> Credentials:
        raw = self.context["credentials"]
        return Credentials(raw["access_key_id"], raw["secret_access_key"], raw.get("token"))

    @property
    def region(self) -> str:
        return str(self.context["region"])

    @property
    def service(self) -> str:
        return str(self.context["service"])

    @property
    def normalize(self) -> bool:
        return bool(self.context.get("normalize", True))

    @property
    def sign_body(self) -> bool:
        return bool(self.context.get("sign_body", False))

    @property
    def omit_session_token(self) -> bool:
        return bool(self.context.get("omit_session_token", False))

    @property
    def expires(self) -> int:
        return int(self.context.get("expiration_in_seconds", 3600))

    @property
    def payload_hash(self) -> str:
        return sha256_hex(self.request.body)

    def signer(self) -> SigV4Signer:
        return SigV4Signer(
            self.credentials,
            self.region,
            self.service,
            normalize_path=self.normalize,
            sign_session_token=not self.omit_session_token,
        )


def load_signing(case_dir: Path | None) -> SigningCase:
    if case_dir is None:
        _require_vectors()
        raise AssertionError("unreachable")
    return SigningCase(
        name=case_dir.name,
        directory=case_dir,
        context=json.loads(read_text(case_dir / "context.json")),
        request=parse_request((case_dir / "request.txt").read_bytes()),
    )


@pytest.mark.parametrize("case_dir", SIGNING_CASES)
def test_signing_suite_header_pure_steps(case_dir: Path | None) -> None:
    case = load_signing(case_dir)
    req = case.request
    token = case.credentials.token
    headers = [*req.headers, ("X-Amz-Date", amz_date(case.timestamp))]
    if token is not None and not case.omit_session_token:
        headers.append(("X-Amz-Security-Token", token))
    if case.sign_body:
        headers.append(("X-Amz-Content-SHA256", case.payload_hash))

    creq = canonical_request(
        req.method,
        req.path,
        req.query,
        headers,
        case.payload_hash,
        s3=False,
        normalize_path=case.normalize,
    )
    assert creq == case.text("header-canonical-request.txt")

    sts = string_to_sign(creq, case.timestamp, case.region, case.service)
    assert sts == case.text("header-string-to-sign.txt")

    date_stamp = case.timestamp.strftime("%Y%m%d")
    key = derive_signing_key(case.credentials.secret_key, date_stamp, case.region, case.service)
    assert calculate_signature(key, sts) == case.text("header-signature.txt").strip()


@pytest.mark.parametrize("case_dir", SIGNING_CASES)
def test_signing_suite_header_signer(case_dir: Path | None) -> None:
    case = load_signing(case_dir)
    req = case.request
    headers = req.folded_headers(drop=("host",))
    if case.sign_body:
        headers["X-Amz-Content-SHA256"] = case.payload_hash
    url = f"https://{req.host}{req.target}"

    result = case.signer().sign_detailed(
        req.method, url, headers=headers, body=req.body, timestamp=case.timestamp
    )

    assert result.canonical_request == case.text("header-canonical-request.txt")
    assert result.string_to_sign == case.text("header-string-to-sign.txt")
    assert result.signature == case.text("header-signature.txt").strip()
    expected = parse_request((case.directory / "header-signed-request.txt").read_bytes())
    assert result.headers["Authorization"] == expected.header("Authorization")
    assert {name.lower() for name in result.headers} == {
        name.lower() for name, _ in expected.headers
    } - {"host"}
    token = case.credentials.token
    if token is not None:
        assert result.headers["X-Amz-Security-Token"] == token


def _presign_params(case: SigningCase, signed_headers: str) -> list[tuple[str, str]]:
    credentials = case.credentials
    scope = credential_scope(case.timestamp, case.region, case.service)
    params = [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{credentials.access_key}/{scope}"),
        ("X-Amz-Date", amz_date(case.timestamp)),
        ("X-Amz-Expires", str(case.expires)),
        ("X-Amz-SignedHeaders", signed_headers),
    ]
    if credentials.token is not None and not case.omit_session_token:
        params.append(("X-Amz-Security-Token", credentials.token))
    return params


@pytest.mark.parametrize("case_dir", SIGNING_CASES)
def test_signing_suite_query_pure_steps(case_dir: Path | None) -> None:
    case = load_signing(case_dir)
    req = case.request
    _, signed_headers = canonical_headers(req.headers)
    auth_query = "&".join(
        f"{uri_encode(name)}={uri_encode(value)}"
        for name, value in _presign_params(case, signed_headers)
    )
    query = f"{req.query}&{auth_query}" if req.query else auth_query

    creq = canonical_request(
        req.method,
        req.path,
        query,
        req.headers,
        case.payload_hash,
        s3=False,
        normalize_path=case.normalize,
    )
    assert creq == case.text("query-canonical-request.txt")

    sts = string_to_sign(creq, case.timestamp, case.region, case.service)
    assert sts == case.text("query-string-to-sign.txt")

    date_stamp = case.timestamp.strftime("%Y%m%d")
    key = derive_signing_key(case.credentials.secret_key, date_stamp, case.region, case.service)
    assert calculate_signature(key, sts) == case.text("query-signature.txt").strip()


@pytest.mark.parametrize("case_dir", SIGNING_CASES)
def test_signing_suite_query_signer(case_dir: Path | None) -> None:
    case = load_signing(case_dir)
    req = case.request
    url = f"https://{req.host}{req.target}"

    result = case.signer().presign_detailed(
        req.method,
        url,
        expires=case.expires,
        timestamp=case.timestamp,
        headers=req.folded_headers(drop=("host",)),
        payload_hash=case.payload_hash,
    )

    assert result.canonical_request == case.text("query-canonical-request.txt")
    assert result.string_to_sign == case.text("query-string-to-sign.txt")
    assert result.signature == case.text("query-signature.txt").strip()

    expected = parse_request((case.directory / "query-signed-request.txt").read_bytes())
    prefix = f"https://{req.host}"
    assert result.url.startswith(prefix)
    signed_target = result.url[len(prefix) :]
    assert signed_target.partition("?")[0] == expected.path
    assert query_pairs(signed_target.partition("?")[2]) == query_pairs(expected.query)
