"""Private, hardened XML parsing for provider replies.

Replies are parsed with entity expansion, DTD loading and network access turned
off; a document that declares a DTD at all is refused, since no storage API
sends one. Anything malformed raises :class:`~libstore.types.ResponseError`.
"""

from __future__ import annotations

from lxml import etree

from libstore.types import ResponseError

__all__ = ["child_text", "children", "parse_xml"]

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
    if not data or not data.strip():
        raise ResponseError(f"the {what} was empty where an XML document was expected")
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise ResponseError(f"the {what} declares a DTD or entities; refused")
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ResponseError(f"the {what} is not well-formed XML: {exc.msg}") from None
    if root is None:
        raise ResponseError(f"the {what} holds no XML element")
    return root


def child_text(element: etree._Element, name: str, default: str | None = None) -> str | None:
    """Text of the first child called ``name`` in any namespace, or ``default``."""
    child = element.find(f"{{*}}{name}")
    if child is None:
        return default
    return child.text or ""


def children(element: etree._Element, name: str) -> list[etree._Element]:
    """Every child called ``name`` in any namespace."""
    return list(element.iterfind(f"{{*}}{name}"))
