"""Tests for libstore._extra.parse_upload_extra: every validation branch."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest

from libstore._extra import (
    CANNED_ACLS,
    MAX_METADATA_BYTES,
    STORAGE_CLASSES,
    UPLOAD_EXTRA_KEYS,
    UploadOptions,
    parse_upload_extra,
)
from libstore.types import InvalidArgumentError, LibstoreError


def bad(extra: Any, match: str | None = None) -> InvalidArgumentError:
    with pytest.raises(InvalidArgumentError, match=match) as info:
        parse_upload_extra(extra)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, LibstoreError)
    return info.value


def test_none_and_empty_give_defaults() -> None:
    for extra in (None, {}):
        options = parse_upload_extra(extra)
        assert options == UploadOptions()
        assert options.stored_attributes() == {}
        assert dict(options.meta_data) == {}


def test_every_option_at_once() -> None:
    options = parse_upload_extra(
        {
            "content_type": "text/csv; charset=utf-8",
            "meta_data": {"Project": "apollo", "x": ""},
            "acl": "bucket-owner-full-control",
            "storage_class": "GLACIER_IR",
            "cache_control": "no-cache",
            "content_disposition": "inline",
            "content_encoding": "gzip",
            "content_language": "de-CH",
            "expires": "Thu, 01 Dec 2044 16:00:00 GMT",
        }
    )
    assert options.content_type == "text/csv; charset=utf-8"
    assert dict(options.meta_data) == {"project": "apollo", "x": ""}
    assert options.acl == "bucket-owner-full-control"
    assert options.storage_class == "GLACIER_IR"
    assert options.stored_attributes() == {
        "cache_control": "no-cache",
        "content_disposition": "inline",
        "content_encoding": "gzip",
        "content_language": "de-CH",
        "expires": "Thu, 01 Dec 2044 16:00:00 GMT",
    }


def test_options_are_frozen() -> None:
    options = parse_upload_extra({"acl": "private"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.acl = "public-read"  # type: ignore[misc]


def test_none_values_are_skipped() -> None:
    options = parse_upload_extra(dict.fromkeys(UPLOAD_EXTRA_KEYS))
    assert options == UploadOptions()


def test_any_mapping_is_accepted() -> None:
    assert parse_upload_extra(MappingProxyType({"acl": "private"})).acl == "private"
    assert parse_upload_extra(OrderedDict(acl="private")).acl == "private"


@pytest.mark.parametrize("extra", [["acl"], "acl=private", 5, ("acl", "private")])
def test_extra_must_be_a_mapping(extra: Any) -> None:
    bad(extra, "must be a dict")


def test_unknown_keys_are_listed() -> None:
    error = bad({"acl": "private", "content-type": "x/y", "ContentType": "x/y"})
    assert "'ContentType'" in str(error)
    assert "'content-type'" in str(error)
    assert "content_type" in str(error)  # the accepted keys are listed


# -- acl -----------------------------------------------------------------------------------


@pytest.mark.parametrize("acl", sorted(CANNED_ACLS))
def test_every_canned_acl(acl: str) -> None:
    assert parse_upload_extra({"acl": acl}).acl == acl


def test_canned_acls_are_s3s_six() -> None:
    assert frozenset(CANNED_ACLS) == {
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
    }


@pytest.mark.parametrize("acl", ["Private", "public", "", " private", "log-delivery-write"])
def test_invalid_acl_strings(acl: str) -> None:
    bad({"acl": acl}, "canned ACL")


@pytest.mark.parametrize("acl", [["private"], {"private": 1}, 1, b"private"])
def test_non_string_acl(acl: Any) -> None:
    bad({"acl": acl})


# -- storage class -------------------------------------------------------------------------


@pytest.mark.parametrize("storage_class", sorted(STORAGE_CLASSES))
def test_every_storage_class(storage_class: str) -> None:
    assert parse_upload_extra({"storage_class": storage_class}).storage_class == storage_class


def test_storage_class_is_upper_cased() -> None:
    assert parse_upload_extra({"storage_class": "standard_ia"}).storage_class == "STANDARD_IA"


@pytest.mark.parametrize("value", ["COLD", "", " STANDARD", "STANDARD\n", 3, ["STANDARD"]])
def test_invalid_storage_class(value: Any) -> None:
    bad({"storage_class": value})


# -- content type and plain header values --------------------------------------------------


@pytest.mark.parametrize("value", ["text/plain", "application/json; charset=utf-8", "x/y"])
def test_content_type_accepted(value: str) -> None:
    assert parse_upload_extra({"content_type": value}).content_type == value


@pytest.mark.parametrize("value", ["plain", "", "text/plain\r\nX-Evil: 1", "t\u00e9xt/plain", 7])
def test_content_type_refused(value: Any) -> None:
    bad({"content_type": value})


HEADER_KEYS = ["cache_control", "content_disposition", "content_encoding", "content_language"]


@pytest.mark.parametrize("key", HEADER_KEYS)
def test_header_options_accept_printable_ascii(key: str) -> None:
    value = "a\tb c!~"
    assert parse_upload_extra({key: value}).stored_attributes() == {key: value}


@pytest.mark.parametrize("key", HEADER_KEYS)
@pytest.mark.parametrize(
    "value",
    [
        "",
        " lead",
        "trail ",
        "\tlead",
        "line\nbreak",
        "cr\rx",
        "nul\x00",
        "del\x7f",
        "caf\u00e9",
        5,
        b"x",
    ],
)
def test_header_options_refuse_unsafe_values(key: str, value: Any) -> None:
    error = bad({key: value})
    assert key in str(error)


# -- expires -------------------------------------------------------------------------------


def test_expires_from_utc_datetime() -> None:
    value = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_upload_extra({"expires": value}).expires == "Wed, 02 Jan 2030 03:04:05 GMT"


def test_expires_from_other_timezone_is_converted_to_gmt() -> None:
    value = datetime(2030, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert parse_upload_extra({"expires": value}).expires == "Tue, 01 Jan 2030 10:00:00 GMT"


def test_expires_naive_datetime_refused() -> None:
    bad({"expires": datetime(2030, 1, 1)}, "timezone-aware")


@pytest.mark.parametrize(
    "value", ["Thu, 01 Dec 2044 16:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT"]
)
def test_expires_http_date_string_kept(value: str) -> None:
    assert parse_upload_extra({"expires": value}).expires == value


@pytest.mark.parametrize("value", ["tomorrow", "2030-01-01", "", " Thu, 01 Dec 2044 16:00:00 GMT"])
def test_expires_bad_string(value: str) -> None:
    bad({"expires": value})


@pytest.mark.parametrize("value", [1700000000, 1.5, ["x"]])
def test_expires_bad_type(value: Any) -> None:
    bad({"expires": value})


# -- metadata ------------------------------------------------------------------------------


def test_meta_names_are_lower_cased_and_values_stripped() -> None:
    meta = parse_upload_extra({"meta_data": {"Build-ID": " 42 ", "a.b_c~!": "v\tw"}}).meta_data
    assert dict(meta) == {"build-id": "42", "a.b_c~!": "v\tw"}


@pytest.mark.parametrize("value", [["k", "v"], "k=v", 1, {("k",): "v"}.keys()])
def test_meta_must_be_a_mapping(value: Any) -> None:
    bad({"meta_data": value}, "mapping")


@pytest.mark.parametrize(
    "name", ["", "has space", "col:on", "caf\u00e9", "new\nline", "a/b", 5, b"k"]
)
def test_meta_bad_names(name: Any) -> None:
    bad({"meta_data": {name: "v"}}, "metadata name")


@pytest.mark.parametrize("value", ["line\nbreak", "cr\r", "caf\u00e9", "nul\x00", 5, None, b"v"])
def test_meta_bad_values(value: Any) -> None:
    bad({"meta_data": {"k": value}}, "metadata value")


def test_meta_names_differing_in_case_collide() -> None:
    bad({"meta_data": {"Key": "1", "key": "2"}}, "twice")


def test_meta_size_limit_is_inclusive() -> None:
    name = "k"
    at_limit = {name: "v" * (MAX_METADATA_BYTES - len(name))}
    assert parse_upload_extra({"meta_data": at_limit}).meta_data == at_limit
    over = {name: "v" * (MAX_METADATA_BYTES - len(name) + 1)}
    bad({"meta_data": over}, str(MAX_METADATA_BYTES))


def test_meta_size_counts_names_too() -> None:
    many = {f"name{i:03d}": "x" * 10 for i in range(200)}  # 200 * 17 bytes > 2 KiB
    bad({"meta_data": many})


def test_meta_does_not_alias_the_callers_dict() -> None:
    given = {"k": "v"}
    options = parse_upload_extra({"meta_data": given})
    given["k"] = "changed"
    assert dict(options.meta_data) == {"k": "v"}
