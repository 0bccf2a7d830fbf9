"""S3's multipart upload operations for one object, driven by :mod:`libstore.transfer.multipart`."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lxml import etree

from libstore._xml import child_text, parse_xml
from libstore.auth import UNSIGNED_PAYLOAD
from libstore.base import Container
from libstore.drivers._s3_options import S3WriteOptions
from libstore.drivers._s3_protocol import strip_etag
from libstore.http.session import Reply
from libstore.transfer.checksums import Crc32Accumulator, crc32, crc32_b64, crc32_from_b64
from libstore.transfer.multipart import UploadedPart, multipart_etag
from libstore.types import LibstoreError, ObjectError, ObjectHashMismatchError, ResponseError

if TYPE_CHECKING:
    from libstore.drivers.s3 import S3StorageDriver


@dataclass(frozen=True)
class CompletedUpload:
    """What CompleteMultipartUpload answered, and the whole-object CRC32 libstore computed."""

    etag: str | None
    crc32: int | None
    #: The store's whole-object CRC32 (base64), when it returned one.
    store_crc32: str | None
    headers: Mapping[str, str]


class S3MultipartTarget:
    """S3's multipart operations for one object, for :func:`upload_multipart`."""

    def __init__(
        self,
        driver: S3StorageDriver,
        container: Container,
        object_name: str,
        headers: dict[str, str],
        *,
        crc32: bool,
        sign_payload: bool,
        options: S3WriteOptions | None = None,
    ) -> None:
        self.driver = driver
        self.container = container
        self.object_name = object_name
        self.headers = dict(headers)
        #: Send CRC32 checksums (per part and for the whole object) instead of Content-MD5.
        self.crc32 = crc32
        self.sign_payload = sign_payload
        if crc32:
            self.headers["x-amz-checksum-algorithm"] = "CRC32"
            self.headers["x-amz-checksum-type"] = "FULL_OBJECT"
        #: SSE-C key, conditions and a chosen checksum algorithm (see _s3_options.py).
        self.options = options or S3WriteOptions()
        self.headers.update(self.options.initiate_headers())
        self.part_checksums: dict[int, str] = {}

    def _url(self, query: Sequence[tuple[str, str | None]]) -> str:
        return self.driver._url(self.container.name, self.object_name, query)

    def _call(self, method: str, url: str, action: str, **kwargs: Any) -> Reply:
        return self.driver._call(
            method,
            url,
            action,
            container_name=self.container.name,
            object_name=self.object_name,
            **kwargs,
        )

    def initiate(self) -> str:
        reply = self._call(
            "POST",
            self._url([("uploads", None)]),
            f"starting multipart upload of {self.object_name!r}",
            headers=self.headers,
            missing="container",
            idempotent=False,
        )
        upload_id = child_text(parse_xml(reply.body, "multipart initiation reply"), "UploadId")
        if not upload_id:
            raise ResponseError("multipart initiation reply has no UploadId", self.driver)
        return upload_id

    def upload_part(self, upload_id: str, number: int, data: bytes) -> UploadedPart:
        # Runs in a worker thread: hashing here (hashlib and zlib release the GIL)
        # runs in parallel with the other parts instead of in a serial pass.
        headers = {"Content-Length": str(len(data))}
        md5_hex: str | None = None
        # Always computed (cheap): the whole-object CRC32 is combined from these, and
        # kept in metadata when the store takes no checksum headers.
        crc = crc32(data)
        if self.crc32:
            headers["x-amz-checksum-crc32"] = crc32_b64(crc)
        else:
            md5 = hashlib.md5(data, usedforsecurity=False)
            md5_hex = md5.hexdigest()
            headers["Content-MD5"] = base64.b64encode(md5.digest()).decode()
        headers.update(self._option_part_headers(number, data))  # SSE-C, chosen checksum
        payload = hashlib.sha256(data).hexdigest() if self.sign_payload else UNSIGNED_PAYLOAD
        reply = self._call(
            "PUT",
            self._url([("partNumber", str(number)), ("uploadId", upload_id)]),
            f"uploading part {number} of {self.object_name!r}",
            headers=headers,
            body=data,
            payload_hash=payload,
        )
        etag = reply.headers.get("ETag")
        if not etag:
            raise ResponseError(f"part {number} reply has no ETag", self.driver)
        returned = reply.headers.get("x-amz-checksum-crc32")
        if crc is not None and returned is not None and crc32_from_b64(returned) != crc:
            raise ObjectHashMismatchError(
                f"the store's CRC32 of part {number} does not match the data sent",
                self.driver,
                self.object_name,
                container_name=self.container.name,
            )
        return UploadedPart(number, etag, len(data), md5_hex, crc)

    def complete(self, upload_id: str, parts: Sequence[UploadedPart]) -> CompletedUpload:
        root = etree.Element("CompleteMultipartUpload")
        whole = Crc32Accumulator()
        combined = True  # every part's CRC32 is known
        for part in parts:
            element = etree.SubElement(root, "Part")
            etree.SubElement(element, "PartNumber").text = str(part.number)
            etree.SubElement(element, "ETag").text = part.etag
            if part.crc32 is None:
                combined = False
            else:
                if self.crc32:
                    etree.SubElement(element, "ChecksumCRC32").text = crc32_b64(part.crc32)
                whole.add(part.crc32, part.size)
            self._option_part_element(element, part.number)
        body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        headers = {"Content-Type": "application/xml"}
        whole_crc = whole.crc if combined and parts else None
        full_crc = whole_crc if self.crc32 else None
        if full_crc is not None:
            headers["x-amz-checksum-crc32"] = crc32_b64(full_crc)
            headers["x-amz-checksum-type"] = "FULL_OBJECT"
        headers.update(self.options.complete_headers())  # If-Match/If-None-Match, SSE-C
        try:
            reply = self._call(
                "POST",
                self._url([("uploadId", upload_id)]),
                f"completing multipart upload of {self.object_name!r}",
                headers=headers,
                body=body,
                payload_hash=hashlib.sha256(body).hexdigest(),
                error_in_body=True,
            )
        except LibstoreError as exc:
            if exc.code != "NoSuchUpload":
                raise
            # A retried completion whose first attempt succeeded finds no upload left.
            current = self.driver.get_object(
                self.container.name, self.object_name, encryption=self.options.sse_customer_key
            )
            stored_crc = current.extra.get("checksum_crc32")
            same = (
                current.hash == multipart_etag(parts)
                if full_crc is None
                else stored_crc is not None and crc32_from_b64(stored_crc) == full_crc
            )
            if not same:
                raise
            return CompletedUpload(current.hash, whole_crc, stored_crc, {})
        root = parse_xml(reply.body, "multipart completion reply")
        returned = child_text(root, "ChecksumCRC32")
        return CompletedUpload(
            strip_etag(child_text(root, "ETag")), whole_crc, returned, reply.headers
        )

    def _option_part_headers(self, number: int, data: bytes) -> dict[str, str]:
        headers, checksum = self.options.part_headers(data)
        if checksum is not None:
            self.part_checksums[number] = checksum
        return headers

    def _option_part_element(self, element: etree._Element, number: int) -> None:
        name = self.options.part_checksum_element()
        if name is not None and number in self.part_checksums:
            etree.SubElement(element, name).text = self.part_checksums[number]

    def list_parts(self, upload_id: str) -> dict[int, UploadedPart] | None:
        """The parts the store holds for ``upload_id`` (ListParts), or ``None`` if it is gone."""
        parts: dict[int, UploadedPart] = {}
        marker: str | None = None
        for _ in range(1000):  # 1000 parts a page: 10,000 parts need 10 pages
            query: list[tuple[str, str | None]] = []
            if marker:
                query.append(("part-number-marker", marker))
            query.append(("uploadId", upload_id))
            try:
                reply = self._call(
                    "GET", self._url(query), f"listing parts of {self.object_name!r}"
                )
            except ObjectError as exc:
                if exc.code == "NoSuchUpload":
                    return None
                raise
            root = parse_xml(reply.body, "part listing")
            for item in root.iterfind("{*}Part"):
                number = child_text(item, "PartNumber")
                size = child_text(item, "Size")
                etag = child_text(item, "ETag")
                if not (number and number.isdigit() and size and size.isdigit() and etag):
                    raise ResponseError("part listing entry lacks a number, size or ETag")
                crc = child_text(item, "ChecksumCRC32")
                parts[int(number)] = UploadedPart(
                    int(number), etag, int(size), None, crc32_from_b64(crc) if crc else None
                )
            if (child_text(root, "IsTruncated") or "").lower() != "true":
                return parts
            marker = child_text(root, "NextPartNumberMarker")
            if not marker:
                raise ResponseError("part listing is truncated but gives no marker")
        raise ResponseError("part listing did not end")

    def part_matches(self, known: UploadedPart, data: bytes) -> bool:
        """Whether ``data`` is what part ``known`` holds (same size and checksum)."""
        if known.size != len(data):
            return False
        if known.crc32 is not None:
            return crc32(data) == known.crc32
        if known.md5 is not None:
            return hashlib.md5(data, usedforsecurity=False).hexdigest() == known.md5
        return False

    def abort(self, upload_id: str) -> None:
        try:
            self._call(
                "DELETE",
                self._url([("uploadId", upload_id)]),
                f"aborting multipart upload of {self.object_name!r}",
            )
        except ObjectError as exc:
            if exc.code != "NoSuchUpload":
                raise
