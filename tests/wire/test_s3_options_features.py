"""S3 sub-resources on the wire: tagging, versioning, bulk delete, lifecycle, object lock,
requester pays. Each request's URL, body (exact XML), Content-MD5 and signature are checked."""

from __future__ import annotations

import base64
import hashlib
import urllib.parse
from datetime import UTC, date, datetime
from typing import Any
from xml.sax.saxutils import escape

import pytest
import responses
from lxml import etree
from wirekit import BASE, S3_NS, check_signed, make_driver, s3_error, sent

from libstore.base import Container, Object
from libstore.drivers.s3 import (
    DeletedObject,
    FailedDelete,
    LifecycleRule,
    ObjectLockConfiguration,
    ObjectRetention,
    S3StorageDriver,
)
from libstore.types import (
    ContainerDoesNotExistError,
    InvalidArgumentError,
    InvalidObjectNameError,
    LibstoreError,
    ResponseError,
)

NS = {"s3": S3_NS}
BUCKET = f"{BASE}/bkt"


def _bucket(driver: S3StorageDriver) -> Container:
    return Container("bkt", {}, driver)


def _obj(driver: S3StorageDriver, name: str = "k") -> Object:
    return Object(name, 1, "e", {}, {}, _bucket(driver), driver)


def _md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def _body(call: Any) -> bytes:
    body = call.request.body
    assert isinstance(body, bytes)
    assert call.request.headers["Content-MD5"] == _md5(body)  # S3 requires it on all of these
    check_signed(call.request)
    return body


def _xml(call: Any) -> etree._Element:
    root = etree.fromstring(_body(call))
    assert etree.QName(root).namespace == S3_NS
    return root


def _texts(root: etree._Element, path: str) -> list[str | None]:
    return [e.text for e in root.iterfind(path, NS)]


# -- tags -----------------------------------------------------------------------------------------


def test_tags_on_upload_are_url_encoded(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    mock.add(responses.PUT, f"{BUCKET}/k", headers={"ETag": f'"{hashlib.md5(b"x").hexdigest()}"'})
    tags = {"team": "data eng", "path": "a/b+c=d@e:f", "é": "ü"}
    driver.upload_object_via_stream(iter([b"x"]), _bucket(driver), "k", {"tags": tags})
    header = mock.calls[0].request.headers["x-amz-tagging"]
    assert header == "team=data%20eng&path=a%2Fb%2Bc%3Dd%40e%3Af&%C3%A9=%C3%BC"
    assert dict(urllib.parse.parse_qsl(header)) == tags


def test_set_get_delete_object_tags(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    url = f"{BUCKET}/k?tagging"
    mock.add(responses.PUT, url)
    reply = (
        f'<?xml version="1.0" encoding="UTF-8"?><Tagging xmlns="{S3_NS}"><TagSet>'
        "<Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b = c</Key><Value></Value></Tag>"
        "</TagSet></Tagging>"
    )
    mock.add(responses.GET, url, body=reply)
    mock.add(responses.DELETE, url, status=204)
    obj = _obj(driver)
    driver.set_object_tags(obj, {"a": "1", "b = c": ""})
    assert driver.get_object_tags(obj) == {"a": "1", "b = c": ""}
    driver.delete_object_tags(obj)
    assert sent(mock) == [("PUT", url), ("GET", url), ("DELETE", url)]
    root = _xml(mock.calls[0])
    assert _texts(root, "s3:TagSet/s3:Tag/s3:Key") == ["a", "b = c"]
    assert _texts(root, "s3:TagSet/s3:Tag/s3:Value") == ["1", None]


def test_tags_of_a_version(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(responses.GET, f"{BUCKET}/k?tagging&versionId=v%2B1", body=b"<Tagging/>")
    assert driver.get_object_tags(_obj(driver), version_id="v+1") == {}


@pytest.mark.parametrize(
    ("tags", "match"),
    [
        ({f"k{i}": "v" for i in range(11)}, "at most 10"),
        ({"k" * 129: "v"}, "1 to 128"),
        ({"": "v"}, "1 to 128"),
        ({"k": "v" * 257}, "256"),
        ({"aws:x": "v"}, "reserved"),
        ({"k": "a\x00b"}, "contains"),
        ({"k": "a&b"}, "contains '&'"),
        ({"a*": "b"}, "contains"),
        ({"k": 1}, "str"),
        (["k"], "mapping"),
    ],
)
def test_bad_tags_fail_before_any_request(
    driver: S3StorageDriver, mock: responses.RequestsMock, tags: Any, match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        driver.set_object_tags(_obj(driver), tags)
    with pytest.raises(InvalidArgumentError, match=match):
        driver.upload_object_via_stream(iter([b"x"]), _bucket(driver), "k", {"tags": tags})
    assert not mock.calls


# -- versioning -----------------------------------------------------------------------------------


def test_enable_suspend_and_read_versioning(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    url = f"{BUCKET}?versioning"
    mock.add(responses.PUT, url)
    mock.add(responses.PUT, url)
    for status in ("Enabled", "Suspended", None):
        inner = f"<Status>{status}</Status>" if status else ""
        body = f'<VersioningConfiguration xmlns="{S3_NS}">{inner}</VersioningConfiguration>'
        mock.add(responses.GET, url, body=body)
    driver.enable_versioning(_bucket(driver))
    driver.suspend_versioning(_bucket(driver))
    assert [driver.get_versioning(_bucket(driver)) for _ in range(3)] == [
        "Enabled",
        "Suspended",
        None,
    ]
    assert _texts(_xml(mock.calls[0]), "s3:Status") == ["Enabled"]
    assert _texts(_xml(mock.calls[1]), "s3:Status") == ["Suspended"]


def _version(key: str, vid: str, latest: bool, size: int = 3) -> str:
    return (
        f"<Version><Key>{escape(key)}</Key><VersionId>{vid}</VersionId>"
        f"<IsLatest>{str(latest).lower()}</IsLatest><LastModified>2026-01-02T03:04:05.000Z"
        f'</LastModified><ETag>"{vid}etag"</ETag><Size>{size}</Size>'
        "<StorageClass>STANDARD</StorageClass></Version>"
    )


def _marker(key: str, vid: str) -> str:
    return (
        f"<DeleteMarker><Key>{key}</Key><VersionId>{vid}</VersionId><IsLatest>true</IsLatest>"
        "<LastModified>2026-01-03T00:00:00.000Z</LastModified></DeleteMarker>"
    )


def _versions_page(entries: str, next_key: str | None = None, next_vid: str | None = None) -> str:
    more = f"<NextKeyMarker>{next_key}</NextKeyMarker>" if next_key else ""
    more += f"<NextVersionIdMarker>{next_vid}</NextVersionIdMarker>" if next_vid else ""
    truncated = "true" if next_key else "false"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ListVersionsResult xmlns="{S3_NS}">'
        f"<Name>bkt</Name><IsTruncated>{truncated}</IsTruncated>{more}{entries}"
        "</ListVersionsResult>"
    )


def test_iterate_object_versions_pages_and_pins_versions(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    first = f"{BUCKET}?versions&prefix=a%2F"
    second = f"{BUCKET}?versions&key-marker=a%2Fx&prefix=a%2F&version-id-marker=v%2F2"
    mock.add(
        responses.GET,
        first,
        body=_versions_page(_marker("a/x", "dm1") + _version("a/x", "v/2", False), "a/x", "v/2"),
    )
    mock.add(responses.GET, second, body=_versions_page(_version("a/y", "v3", True, 5)))
    data = b"abc"
    mock.add(
        responses.GET,
        f"{BUCKET}/a/x?versionId=v%2F2",
        body=data,
        headers={"Content-Length": "3"},
    )
    mock.add(responses.HEAD, f"{BUCKET}/a/x?versionId=v%2F2", headers={"ETag": '"e"'})
    mock.add(responses.DELETE, f"{BUCKET}/a/x?versionId=v%2F2", status=204)
    mock.add(responses.DELETE, f"{BUCKET}/a/x?versionId=dm1", status=204)

    versions = list(driver.iterate_object_versions(_bucket(driver), prefix="a/"))
    assert [(v.name, v.extra["version_id"], v.extra["delete_marker"]) for v in versions] == [
        ("a/x", "dm1", True),
        ("a/x", "v/2", False),
        ("a/y", "v3", False),
    ]
    marker, old, newest = versions
    assert marker.size == 0 and marker.extra["is_latest"] is True
    assert old.size == 3 and old.hash == "v/2etag" and old.extra["is_latest"] is False
    assert old.extra["last_modified"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert newest.size == 5
    # A version handle downloads and deletes its own version.
    assert b"".join(old.as_stream()) == data
    driver.delete_object(old)
    driver.delete_object(marker)  # a delete marker cannot be HEADed first
    for call in mock.calls:
        check_signed(call.request)


def test_version_listing_that_never_advances_is_an_error(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    page = _versions_page(_version("k", "v1", True), "k", "v1")
    mock.add(responses.GET, f"{BUCKET}?versions", body=page)
    mock.add(responses.GET, f"{BUCKET}?versions&key-marker=k&version-id-marker=v1", body=page)
    with pytest.raises(ResponseError, match="no new marker"):
        list(driver.iterate_object_versions(_bucket(driver)))


def test_get_object_of_a_version_and_its_download(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    url = f"{BUCKET}/k?versionId=3HL4kqtJlcpXroDTDmJ%2Bee"
    mock.add(
        responses.HEAD,
        url,
        headers={
            "ETag": '"e"',
            "Content-Length": "2",
            "x-amz-version-id": "3HL4kqtJlcpXroDTDmJ+ee",
        },
    )
    mock.add(responses.GET, url, body=b"hi", headers={"Content-Length": "2"})
    obj = driver.get_object("bkt", "k", version_id="3HL4kqtJlcpXroDTDmJ+ee")
    assert obj.extra["version_id"] == "3HL4kqtJlcpXroDTDmJ+ee"
    assert b"".join(obj.as_stream()) == b"hi"


def test_delete_a_version_explicitly_with_bypass(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    url = f"{BUCKET}/k?versionId=v1"
    mock.add(responses.HEAD, url, headers={"ETag": '"e"'})
    mock.add(responses.DELETE, url, status=204)
    driver.delete_object(_obj(driver), version_id="v1", bypass_governance_retention=True)
    assert mock.calls[1].request.headers["x-amz-bypass-governance-retention"] == "true"
    assert "x-amz-bypass-governance-retention" not in mock.calls[0].request.headers


def test_missing_version_is_reported(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(responses.HEAD, f"{BUCKET}/k?versionId=gone", status=404)
    mock.add(responses.HEAD, BUCKET, status=404)
    with pytest.raises(ContainerDoesNotExistError):
        driver.delete_object(_obj(driver), version_id="gone")


# -- bulk delete ----------------------------------------------------------------------------------


def _delete_reply(deleted: list[str], errors: tuple[tuple[str, str], ...] = ()) -> str:
    ok = "".join(f"<Deleted><Key>{escape(k)}</Key></Deleted>" for k in deleted)
    bad = "".join(
        f"<Error><Key>{escape(k)}</Key><Code>{c}</Code><Message>no</Message></Error>"
        for k, c in errors
    )
    return f'<DeleteResult xmlns="{S3_NS}">{ok}{bad}</DeleteResult>'


def test_delete_objects_in_batches_of_1000(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    names = [f"key-{i:04d} & <x>" for i in range(2500)]
    url = f"{BUCKET}?delete"
    mock.add(responses.POST, url, body=_delete_reply(names[:1000]))
    mock.add(
        responses.POST, url, body=_delete_reply(names[1000:1999], ((names[1999], "AccessDenied"),))
    )
    mock.add(responses.POST, url, body=_delete_reply(names[2000:]))
    result = driver.delete_objects(_bucket(driver), names)
    assert sent(mock) == [("POST", url)] * 3
    batches = [_texts(_xml(call), "s3:Object/s3:Key") for call in mock.calls]
    assert [len(b) for b in batches] == [1000, 1000, 500]
    assert [name for batch in batches for name in batch] == names
    assert len(result.deleted) == 2499
    assert result.errors == [FailedDelete(names[1999], None, "AccessDenied", "no")]
    with pytest.raises(LibstoreError, match="AccessDenied") as info:
        result.raise_for_errors()
    assert info.value.object_name == names[1999]
    assert all(not _texts(_xml(c), "s3:Quiet") for c in mock.calls)


def test_delete_objects_versions_handles_and_quiet_mode(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    reply = (
        f'<DeleteResult xmlns="{S3_NS}"><Deleted><Key>a</Key><DeleteMarker>true</DeleteMarker>'
        "<DeleteMarkerVersionId>m1</DeleteMarkerVersionId></Deleted></DeleteResult>"
    )
    pinned_versions = _pinned(driver, mock)
    mock.add(responses.POST, f"{BUCKET}?delete", body=reply)
    pinned = _obj(driver, "b")
    result = driver.delete_objects(
        _bucket(driver), ["a", ("b", "v1"), pinned, *pinned_versions], quiet=True
    )
    root = _xml(mock.calls[-1])
    assert _texts(root, "s3:Quiet") == ["true"]
    assert _texts(root, "s3:Object/s3:Key") == ["a", "b", "b", "c"]
    assert _texts(root, "s3:Object/s3:VersionId") == ["v1", "cv"]
    assert result.deleted == [DeletedObject("a", None, True, "m1")]
    result.raise_for_errors()


def _pinned(driver: S3StorageDriver, mock: responses.RequestsMock) -> list[Object]:
    mock.add(responses.GET, f"{BUCKET}?versions", body=_versions_page(_version("c", "cv", True)))
    return list(driver.iterate_object_versions(_bucket(driver)))


def test_bad_bulk_delete_input_fails_before_any_request(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    for items, error in [
        (["ok", ""], InvalidObjectNameError),
        (["ok", "bad\x01name"], InvalidArgumentError),
        ([("ok", "")], InvalidArgumentError),
        (
            [Object("k", 1, None, {}, {}, Container("other", {}, driver), driver)],
            InvalidArgumentError,
        ),
    ]:
        with pytest.raises(error):
            driver.delete_objects(_bucket(driver), items)  # type: ignore[arg-type]
    assert driver.delete_objects(_bucket(driver), []).deleted == []
    assert not mock.calls


# -- lifecycle ------------------------------------------------------------------------------------


def test_lifecycle_rules_exact_xml(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(responses.PUT, f"{BUCKET}?lifecycle")
    rules = [
        LifecycleRule(
            id="tmp", prefix="tmp/", expiration_days=7, abort_incomplete_multipart_days=2
        ),
        LifecycleRule(
            id="tagged", prefix="logs/", tags={"k": "v"}, expiration_date=date(2030, 1, 1)
        ),
        LifecycleRule(
            id="old",
            noncurrent_expiration_days=30,
            noncurrent_newer_versions=2,
            expired_object_delete_marker=True,
            enabled=False,
        ),
        LifecycleRule(tags={"a": "1"}, expiration_days=1),
    ]
    driver.set_lifecycle_rules(_bucket(driver), rules)
    assert mock.calls[0].request.headers["Content-Type"] == "application/xml"
    body = _body(mock.calls[0]).decode()
    rule_xml = [
        "<Rule><ID>tmp</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status>"
        "<Expiration><Days>7</Days></Expiration><AbortIncompleteMultipartUpload>"
        "<DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>",
        "<Rule><ID>tagged</ID><Filter><And><Prefix>logs/</Prefix><Tag><Key>k</Key><Value>v"
        "</Value></Tag></And></Filter><Status>Enabled</Status><Expiration><Date>"
        "2030-01-01T00:00:00.000Z</Date></Expiration></Rule>",
        "<Rule><ID>old</ID><Filter><Prefix></Prefix></Filter><Status>Disabled</Status>"
        "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"
        "<NoncurrentVersionExpiration><NoncurrentDays>30</NoncurrentDays>"
        "<NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>",
        "<Rule><Filter><Tag><Key>a</Key><Value>1</Value></Tag></Filter><Status>Enabled</Status>"
        "<Expiration><Days>1</Days></Expiration></Rule>",
    ]
    expected = (
        f'<LifecycleConfiguration xmlns="{S3_NS}">{"".join(rule_xml)}</LifecycleConfiguration>'
    )
    assert body.split("?>", 1)[1].strip() == expected


def test_get_and_delete_lifecycle_rules(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    reply = (
        "<LifecycleConfiguration><Rule><ID>r1</ID><Filter><And><Prefix>tmp/</Prefix><Tag><Key>a"
        "</Key><Value>b</Value></Tag></And></Filter><Status>Enabled</Status><Expiration><Days>7"
        "</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays>"
        "</NoncurrentVersionExpiration></Rule><Rule><ID>legacy</ID><Prefix>old/</Prefix>"
        "<Status>Disabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration>"
        "</Rule></LifecycleConfiguration>"
    )
    mock.add(responses.GET, f"{BUCKET}?lifecycle", body=reply)
    mock.add(responses.DELETE, f"{BUCKET}?lifecycle", status=204)
    mock.add(
        responses.GET,
        f"{BUCKET}?lifecycle",
        status=404,
        body=s3_error("NoSuchLifecycleConfiguration"),
    )
    assert driver.get_lifecycle_rules(_bucket(driver)) == [
        LifecycleRule(
            id="r1", prefix="tmp/", tags={"a": "b"}, expiration_days=7, noncurrent_expiration_days=3
        ),
        LifecycleRule(id="legacy", prefix="old/", expiration_date=date(2030, 1, 1), enabled=False),
    ]
    driver.delete_lifecycle_rules(_bucket(driver))
    assert driver.get_lifecycle_rules(_bucket(driver)) == []


@pytest.mark.parametrize(
    ("rules", "match"),
    [
        ([], "at least one"),
        ([LifecycleRule(prefix="x")], "no action"),
        ([LifecycleRule(expiration_days=0)], "positive"),
        ([LifecycleRule(expiration_days=1, expiration_date=date(2030, 1, 1))], "one of"),
        (
            [LifecycleRule(id="a", expiration_days=1), LifecycleRule(id="a", expiration_days=2)],
            "unique",
        ),
        ([LifecycleRule(id="x" * 256, expiration_days=1)], "255"),
        ([LifecycleRule(expiration_date=datetime(2030, 1, 1, 12, tzinfo=UTC))], "midnight"),
        ([LifecycleRule(noncurrent_newer_versions=1, expiration_days=1)], "needs"),
        ([LifecycleRule(tags={"a": "b"}, expired_object_delete_marker=True)], "tags"),
        ([LifecycleRule(tags={"a": "b"}, abort_incomplete_multipart_days=1)], "tags"),
        (LifecycleRule(expiration_days=1), "sequence"),
        (["rule"], "LifecycleRule"),
    ],
)
def test_bad_lifecycle_rules_fail_before_any_request(
    driver: S3StorageDriver, mock: responses.RequestsMock, rules: Any, match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        driver.set_lifecycle_rules(_bucket(driver), rules)
    assert not mock.calls


# -- object lock ----------------------------------------------------------------------------------


def test_create_bucket_with_object_lock(mock: responses.RequestsMock) -> None:
    driver = make_driver()
    mock.add(responses.HEAD, BUCKET, status=404)
    mock.add(responses.PUT, BUCKET)
    driver.create_container("bkt", object_lock=True)
    assert mock.calls[-1].request.headers["x-amz-bucket-object-lock-enabled"] == "true"


def test_retention_and_legal_hold(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    obj = _obj(driver)
    until = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    mock.add(responses.PUT, f"{BUCKET}/k?retention&versionId=v1")
    mock.add(
        responses.GET,
        f"{BUCKET}/k?retention",
        body=f'<Retention xmlns="{S3_NS}"><Mode>COMPLIANCE</Mode>'
        "<RetainUntilDate>2031-05-06T07:08:09Z</RetainUntilDate></Retention>",
    )
    mock.add(
        responses.GET,
        f"{BUCKET}/k?retention",
        status=404,
        body=s3_error("NoSuchObjectLockConfiguration"),
    )
    mock.add(responses.PUT, f"{BUCKET}/k?legal-hold")
    mock.add(
        responses.GET, f"{BUCKET}/k?legal-hold", body=b"<LegalHold><Status>ON</Status></LegalHold>"
    )

    driver.set_object_retention(
        obj, "governance", until, version_id="v1", bypass_governance_retention=True
    )
    assert driver.get_object_retention(obj) == ObjectRetention(
        "COMPLIANCE", datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    )
    assert driver.get_object_retention(obj) is None
    driver.set_object_legal_hold(obj, True)
    assert driver.get_object_legal_hold(obj) is True

    retention = _xml(mock.calls[0])
    assert _texts(retention, "s3:Mode") == ["GOVERNANCE"]
    assert _texts(retention, "s3:RetainUntilDate") == ["2031-05-06T07:08:09.123Z"]
    assert mock.calls[0].request.headers["x-amz-bypass-governance-retention"] == "true"
    assert _texts(_xml(mock.calls[3]), "s3:Status") == ["ON"]


def test_object_lock_on_upload(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    mock.add(responses.PUT, f"{BUCKET}/k", headers={"ETag": f'"{hashlib.md5(b"x").hexdigest()}"'})
    extra = {
        "object_lock_mode": "COMPLIANCE",
        "object_lock_retain_until": datetime(2030, 1, 1, tzinfo=UTC),
        "object_lock_legal_hold": False,
    }
    driver.upload_object_via_stream(iter([b"x"]), _bucket(driver), "k", extra)
    headers = mock.calls[0].request.headers
    assert headers["x-amz-object-lock-mode"] == "COMPLIANCE"
    assert headers["x-amz-object-lock-retain-until-date"] == "2030-01-01T00:00:00.000Z"
    assert headers["x-amz-object-lock-legal-hold"] == "OFF"
    assert "Content-MD5" in headers  # S3 requires it with object lock headers


def test_object_lock_configuration(driver: S3StorageDriver, mock: responses.RequestsMock) -> None:
    url = f"{BUCKET}?object-lock"
    mock.add(responses.PUT, url)
    mock.add(responses.PUT, url)
    mock.add(
        responses.GET,
        url,
        body=f'<ObjectLockConfiguration xmlns="{S3_NS}"><ObjectLockEnabled>Enabled'
        "</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days>"
        "<Years>0</Years></DefaultRetention></Rule></ObjectLockConfiguration>",
    )
    mock.add(responses.GET, url, status=404, body=s3_error("ObjectLockConfigurationNotFoundError"))
    driver.set_object_lock_configuration(_bucket(driver), mode="GOVERNANCE", days=1)
    driver.set_object_lock_configuration(_bucket(driver))
    assert driver.get_object_lock_configuration(_bucket(driver)) == ObjectLockConfiguration(
        True, "GOVERNANCE", 1, None
    )
    assert driver.get_object_lock_configuration(_bucket(driver)) == ObjectLockConfiguration(False)
    first = _xml(mock.calls[0])
    assert _texts(first, "s3:ObjectLockEnabled") == ["Enabled"]
    assert _texts(first, "s3:Rule/s3:DefaultRetention/s3:Mode") == ["GOVERNANCE"]
    assert _texts(first, "s3:Rule/s3:DefaultRetention/s3:Days") == ["1"]
    assert _texts(_xml(mock.calls[1]), "s3:Rule") == []


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda d, o: d.set_object_retention(o, "FOREVER", datetime(2030, 1, 1, tzinfo=UTC)),
            "GOVERNANCE",
        ),
        (lambda d, o: d.set_object_retention(o, "COMPLIANCE", datetime(2030, 1, 1)), "timezone"),
        (lambda d, o: d.set_object_legal_hold(o, "ON"), "True"),
        (lambda d, o: d.set_object_lock_configuration(o.container, days=1), "mode"),
        (
            lambda d, o: d.set_object_lock_configuration(o.container, mode="GOVERNANCE"),
            "days or years",
        ),
        (
            lambda d, o: d.set_object_lock_configuration(
                o.container, mode="GOVERNANCE", days=1, years=1
            ),
            "days or years",
        ),
        (lambda d, o: d.delete_object(o, bypass_governance_retention="yes"), "bool"),
        (lambda d, o: d.create_container("bkt", object_lock="yes"), "bool"),
        (
            lambda d, o: d.upload_object_via_stream(
                iter([b"x"]), o.container, "k", {"object_lock_mode": "GOVERNANCE"}
            ),
            "together",
        ),
        (
            lambda d, o: d.upload_object_via_stream(
                iter([b"x"]), o.container, "k", {"object_lock_legal_hold": "ON"}
            ),
            "bool",
        ),
    ],
)
def test_bad_object_lock_input_fails_before_any_request(
    driver: S3StorageDriver, mock: responses.RequestsMock, call: Any, match: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        call(driver, _obj(driver))
    assert not mock.calls


# -- requester pays -------------------------------------------------------------------------------


def test_requester_pays_configuration(
    driver: S3StorageDriver, mock: responses.RequestsMock
) -> None:
    url = f"{BUCKET}?requestPayment"
    mock.add(responses.PUT, url)
    mock.add(
        responses.GET,
        url,
        body=f'<RequestPaymentConfiguration xmlns="{S3_NS}"><Payer>'
        "Requester</Payer></RequestPaymentConfiguration>",
    )
    mock.add(
        responses.GET,
        url,
        body=b"<RequestPaymentConfiguration><Payer>BucketOwner</Payer>"
        b"</RequestPaymentConfiguration>",
    )
    mock.add(responses.GET, url, body=b"<ListBucketResult/>")  # moto answers with a listing
    driver.set_requester_pays(_bucket(driver), True)
    assert driver.get_requester_pays(_bucket(driver)) is True
    assert driver.get_requester_pays(_bucket(driver)) is False
    with pytest.raises(ResponseError, match="payer"):
        driver.get_requester_pays(_bucket(driver))
    assert _texts(_xml(mock.calls[0]), "s3:Payer") == ["Requester"]
    with pytest.raises(InvalidArgumentError):
        driver.set_requester_pays(_bucket(driver), "yes")  # type: ignore[arg-type]
