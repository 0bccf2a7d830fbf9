"""S3's multipart upload operations for one object, driven by :mod:`libstore.transfer.multipart`."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lxml import etree

from libstore._xml import child_text, parse_xml
from libstore.base import Container
from libstore.drivers._s3_protocol import strip_etag
from libstore.http.session import Reply
from libstore.transfer.multipart import UploadedPart, multipart_etag
from libstore.types import LibstoreError, ObjectError, ResponseError

if TYPE_CHECKING:
    from libstore.drivers.s3 import S3StorageDriver


class S3MultipartTarget:
    """S3's multipart operations for one object, for :func:`upload_multipart`."""

    def __init__(
        self,
        driver: S3StorageDriver,
        container: Container,
        object_name: str,
        headers: dict[str, str],
    ) -> None:
        self.driver = driver
        self.container = container
        self.object_name = object_name
        self.headers = headers

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

    def upload_part(self, upload_id: str, number: int, data: bytes, md5: bytes) -> str:
        reply = self._call(
            "PUT",
            self._url([("partNumber", str(number)), ("uploadId", upload_id)]),
            f"uploading part {number} of {self.object_name!r}",
            headers={
                "Content-MD5": base64.b64encode(md5).decode(),
                "Content-Length": str(len(data)),
            },
            body=data,
            payload_hash=hashlib.sha256(data).hexdigest(),
        )
        etag = reply.headers.get("ETag")
        if not etag:
            raise ResponseError(f"part {number} reply has no ETag", self.driver)
        return etag

    def complete(
        self, upload_id: str, parts: Sequence[UploadedPart]
    ) -> tuple[str | None, Mapping[str, str]]:
        root = etree.Element("CompleteMultipartUpload")
        for part in parts:
            element = etree.SubElement(root, "Part")
            etree.SubElement(element, "PartNumber").text = str(part.number)
            etree.SubElement(element, "ETag").text = part.etag
        body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        try:
            reply = self._call(
                "POST",
                self._url([("uploadId", upload_id)]),
                f"completing multipart upload of {self.object_name!r}",
                headers={"Content-Type": "application/xml"},
                body=body,
                payload_hash=hashlib.sha256(body).hexdigest(),
                error_in_body=True,
            )
        except LibstoreError as exc:
            if exc.code != "NoSuchUpload":
                raise
            # A retried completion whose first attempt succeeded finds no upload left.
            current = self.driver.get_object(self.container.name, self.object_name)
            if current.hash != multipart_etag(parts):
                raise
            return current.hash, {}
        etag = child_text(parse_xml(reply.body, "multipart completion reply"), "ETag")
        return strip_etag(etag), reply.headers

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
