"""Tests for libstore._xml: hardened parsing and namespace-agnostic lookups."""

from __future__ import annotations

from pathlib import Path

import pytest

from libstore._xml import child_text, children, parse_xml
from libstore.types import ResponseError

NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def test_parses_plain_document() -> None:
    root = parse_xml(b"<a><b>1</b></a>")
    assert root.tag == "a"
    assert child_text(root, "b") == "1"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   ",
        b"\n\t ",
        b"<a>",
        b"<a></b>",
        b"text",
        b"<a>&nope;</a>",
        b"<?xml version='1.0'?>",
    ],
    ids=[
        "empty",
        "spaces",
        "blank",
        "unclosed",
        "mismatched",
        "text",
        "undefined-entity",
        "decl-only",
    ],
)
def test_refuses_empty_and_malformed(data: bytes) -> None:
    with pytest.raises(ResponseError):
        parse_xml(data)


def test_error_message_names_what_was_parsed() -> None:
    with pytest.raises(ResponseError, match="object listing"):
        parse_xml(b"<a>", "object listing")
    with pytest.raises(ResponseError, match="object listing"):
        parse_xml(b"", "object listing")


def test_malformed_error_is_not_chained_to_lxml() -> None:
    with pytest.raises(ResponseError) as info:
        parse_xml(b"<a>")
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.parametrize(
    "data",
    [
        b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>',
        b'<?xml version="1.0"?>\n<!DOCTYPE a SYSTEM "http://evil.test/a.dtd"><a/>',
        b"<!doctype a><a/>",
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><a/>',
    ],
    ids=["internal-entity", "external-dtd", "lowercase-doctype", "parameter-entity"],
)
def test_refuses_dtds_and_entities(data: bytes) -> None:
    with pytest.raises(ResponseError):
        parse_xml(data)


def test_billion_laughs_is_refused_quickly() -> None:
    decls = '<!ENTITY l0 "lol">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )
    with pytest.raises(ResponseError):
        parse_xml(f"<!DOCTYPE a [{decls}]><a>&l9;</a>".encode())


def test_external_entity_file_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "s.txt"
    secret.write_text("SENTINEL")
    doc = f'<!DOCTYPE a [<!ENTITY x SYSTEM "file://{secret}">]><a>&x;</a>'.encode()
    with pytest.raises(ResponseError) as info:
        parse_xml(doc)
    assert "SENTINEL" not in str(info.value)


def test_comments_and_processing_instructions_are_dropped() -> None:
    root = parse_xml(b"<a><!-- c --><?pi x?><b>1</b></a>")
    assert [child.tag for child in root] == ["b"]


def test_utf8_and_declared_encodings() -> None:
    assert child_text(parse_xml("<a><k>caf\u00e9</k></a>".encode()), "k") == "caf\u00e9"
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?><a><k>caf\u00e9</k></a>'.encode("latin-1")
    assert child_text(parse_xml(latin), "k") == "caf\u00e9"


def test_character_references_are_kept() -> None:
    root = parse_xml(b"<a><k>a&#13;b&#x9;&amp;&lt;</k></a>")
    assert child_text(root, "k") == "a\rb\t&<"


def test_child_text_is_namespace_agnostic() -> None:
    doc = (
        f'<r xmlns="{NS}"><Key>default-ns</Key><x:Other xmlns:x="urn:x">prefixed</x:Other>'
        "<Plain xmlns=''>none</Plain></r>"
    ).encode()
    root = parse_xml(doc)
    assert child_text(root, "Key") == "default-ns"
    assert child_text(root, "Other") == "prefixed"
    assert child_text(root, "Plain") == "none"


def test_child_text_defaults_and_empty_elements() -> None:
    root = parse_xml(b"<r><Empty/><Blank></Blank><Space> </Space></r>")
    assert child_text(root, "Missing") is None
    assert child_text(root, "Missing", "dflt") == "dflt"
    assert child_text(root, "Empty") == ""
    assert child_text(root, "Blank") == ""
    assert child_text(root, "Space") == " "


def test_child_text_only_looks_at_direct_children() -> None:
    root = parse_xml(b"<r><Outer><Key>nested</Key></Outer></r>")
    assert child_text(root, "Key") is None
    assert child_text(root, "Outer") == ""


def test_child_text_returns_first_match() -> None:
    root = parse_xml(b"<r><K>1</K><K>2</K></r>")
    assert child_text(root, "K") == "1"


def test_children_in_document_order_across_namespaces() -> None:
    doc = (
        f'<r xmlns="{NS}"><C>1</C><D/><C xmlns="urn:other">2</C><C>3</C><Deep><C>no</C></Deep></r>'
    ).encode()
    root = parse_xml(doc)
    assert [c.text for c in children(root, "C")] == ["1", "2", "3"]
    assert children(root, "Nope") == []


def test_leading_whitespace_without_declaration_is_fine() -> None:
    assert parse_xml(b"\n\r\n  <a><b>1</b></a>").tag == "a"


def test_leading_whitespace_before_declaration_is_accepted() -> None:
    root = parse_xml(b'\n\r\n   <?xml version="1.0" encoding="UTF-8"?>\n<a><b>1</b></a>')
    assert child_text(root, "b") == "1"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_dtd_is_refused_in_utf16(encoding: str) -> None:
    bom = "\ufeff" if encoding != "utf-16" else ""
    doc = f'{bom}<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'
    with pytest.raises(ResponseError):
        parse_xml(doc.encode(encoding))


def test_dtd_after_4096_bytes_is_refused() -> None:
    doc = b'<?xml version="1.0"?>' + b" " * 5000 + b'<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>'
    with pytest.raises(ResponseError):
        parse_xml(doc)
