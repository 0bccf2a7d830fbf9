"""Listing pages read column by column give the same objects as read entry by entry."""

from __future__ import annotations

import pytest

from libstore._xml import children, parse_xml
from libstore.base import Container
from libstore.drivers._s3_protocol import listing_columns
from libstore.drivers.s3 import S3StorageDriver

NS = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def _entry(key: str, *, etag: str | None = '"abc"', klass: str | None = "STANDARD") -> str:
    parts = [f"<Key>{key}</Key>", "<LastModified>2026-11-25T19:00:00.000Z</LastModified>"]
    if etag is not None:
        parts.append(f"<ETag>{etag.replace(chr(34), '&quot;')}</ETag>")
    parts.append("<Size>12</Size>")
    if klass is not None:
        parts.append(f"<StorageClass>{klass}</StorageClass>")
    return "<Contents>" + "".join(parts) + "</Contents>"


PAGES = {
    "regular": (NS, [_entry("a"), _entry("b &amp; c"), _entry("d", klass="GLACIER")], True),
    "no namespace": ("", [_entry("a"), _entry("b")], True),
    "no storage classes": (NS, [_entry("a", klass=None), _entry("b", klass=None)], True),
    "some storage classes": (NS, [_entry("a"), _entry("b", klass=None)], False),
    "an entry without ETag": (NS, [_entry("a"), _entry("b", etag=None)], False),
    "an empty ETag": (NS, [_entry("a"), _entry("b", etag="")], False),
    "empty page": (NS, [], True),
}


@pytest.mark.parametrize("page", PAGES)
def test_columns_match_entries(page: str) -> None:
    namespace, entries, columnar = PAGES[page]
    xml = f"<ListBucketResult{namespace}><Name>b</Name>{''.join(entries)}</ListBucketResult>"
    root = parse_xml(xml.encode())
    assert (listing_columns(root) is not None) == columnar
    driver = S3StorageDriver("AKID", "secret", host="s3.test", port=9000, secure=False)
    container = Container("b", {}, driver)
    fast = driver._objects_from_listing(container, root)
    slow = [driver._object_from_listing(container, item) for item in children(root, "Contents")]
    assert [(o.name, o.size, o.hash, o.extra) for o in fast] == [
        (o.name, o.size, o.hash, o.extra) for o in slow
    ]
    assert len(fast) == len(entries)
