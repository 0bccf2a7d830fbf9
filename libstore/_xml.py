"""Private, hardened XML parsing for provider replies.

Replies are parsed with entity expansion, DTD loading and network access turned
off; a document that declares a DTD at all is refused, since no storage API
sends one. Anything malformed raises :class:`~libstore.types.ResponseError`.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from libstore.types import ResponseError

__all__ = ["child_text", "child_texts", "children", "parse_xml"]

_DOCTYPE = re.compile(rb"<!doctype", re.IGNORECASE)
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def parse_xml(data: bytes, what: str = "reply") -> etree._Element:
    """Parse ``data`` into an element tree, refusing DTDs and malformed documents.

    Raises:
        ResponseError: The document is empty, malformed or declares a DTD.
    """
    # S3 may send whitespace to keep a slow CompleteMultipartUpload connection alive.
    data = data.lstrip(b" \t\r\n")
    if not data:
        raise ResponseError(f"the {what} was empty where an XML document was expected")
    if _DOCTYPE.search(data):
        raise ResponseError(f"the {what} declares a DTD; refused")
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ResponseError(f"the {what} is not well-formed XML: {exc.msg}") from None
    if root is None:
        raise ResponseError(f"the {what} holds no XML element")
    # Checked on the parsed tree, whatever the document's encoding: entities were
    # never resolved, but a reply that declares a DTD at all is not a storage reply.
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype:
        raise ResponseError(f"the {what} declares a DTD; refused")
    return root


def child_text(element: etree._Element, name: str, default: str | None = None) -> str | None:
    """Text of the first child called ``name`` in any namespace, or ``default``."""
    child = element.find(f"{{*}}{name}")
    if child is None:
        return default
    return child.text or ""


def child_texts(element: etree._Element) -> dict[str, str]:
    """Texts of every child by local name (the first of each name), in one pass.

    Cheaper than several :func:`child_text` lookups for the many small entries of a
    listing page.
    """
    texts: dict[str, str] = {}
    local_names = _LOCAL_NAMES
    for child in element:
        local = local_names.get(child.tag)
        if local is None:
            tag = child.tag
            if not isinstance(tag, str):
                continue  # an entity reference or the like: no element
            local = tag.rpartition("}")[2]
            if len(local_names) < 512:
                local_names[tag] = local
        if local not in texts:
            texts[local] = child.text or ""
    return texts


#: ``{namespace}Name`` -> ``Name``, for the few tags storage replies use.
_LOCAL_NAMES: dict[object, str] = {}


def children(element: etree._Element, name: str) -> list[etree._Element]:
    """Every child called ``name`` in any namespace."""
    return list(element.iterfind(f"{{*}}{name}"))
