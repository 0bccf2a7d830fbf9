"""Sphinx extension: the provider matrix, generated from :mod:`libstore.providers`.

``.. provider-matrix:: endpoints`` and ``.. provider-matrix:: capabilities`` render
tables of every bundled preset; ``.. provider-matrix:: notes`` renders each preset's
notes and documentation sources; ``.. provider-matrix:: aliases`` lists the per-region
Amazon S3 names. The tables are built from the same data the driver reads, so the
documentation cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from libstore.providers import AWS_REGION_ALIASES, BUNDLED_PRESET_NAMES, PRESETS, S3Preset
from libstore.types import Provider

_CONSTANTS = {
    value: name
    for name, value in vars(Provider).items()
    if name.isupper() and isinstance(value, str)
}


def _families() -> list[S3Preset]:
    presets = [PRESETS[name] for name in BUNDLED_PRESET_NAMES if PRESETS[name].alias_of is None]

    # Amazon first, self-hosted next, then the services by name.
    def order(p: S3Preset) -> tuple[int, str]:
        rank = 0 if p.name == "s3" else 1 if p.endpoint is None else 2
        return rank, p.title.lower()

    return sorted(presets, key=order)


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def _constant(preset: S3Preset) -> str:
    return f"``Provider.{_CONSTANTS[preset.name]}``"


def _acls(preset: S3Preset) -> str:
    if preset.canned_acls is None:
        return "all six"
    if not preset.canned_acls:
        return "**none**"
    return ", ".join(f"``{acl}``" for acl in sorted(preset.canned_acls))


def _checksums(preset: S3Preset) -> str:
    if not preset.checksum_algorithms:
        return "**none** (MD5 only)"
    if len(preset.checksum_algorithms) == 5:
        return "all five"
    return ", ".join(sorted(preset.checksum_algorithms))


def _bulk(preset: S3Preset) -> str:
    if not preset.bulk_delete:
        return "**no**"
    return "yes, needs Content-MD5" if preset.bulk_delete_content_md5 else "yes"


def _table(header: list[str], rows: list[list[str]], widths: list[int]) -> list[str]:
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        f"   :widths: {' '.join(str(w) for w in widths)}",
        "",
    ]
    for row in [header, *rows]:
        first, *rest = row
        lines.append(f"   * - {first}")
        lines.extend(f"     - {cell}" for cell in rest)
    return lines


def _endpoints() -> list[str]:
    rows = []
    for p in _families():
        endpoint = f"``{p.endpoint}``" if p.endpoint else "your ``host``"
        if p.region_endpoints and p.name != "s3":
            endpoint += "; " + ", ".join(
                f"``{r}``: ``{h}``" for r, h in sorted(p.region_endpoints.items())
            )
        default = f"``{p.default_region}``" if p.default_region else "**required**"
        signing = f"``{p.signing_region}``" if p.signing_region else "the region"
        style = p.addressing + ("" if p.virtual_hosting else " only")
        rows.append([f"{p.title} ({_constant(p)})", endpoint, default, signing, style])
    return _table(
        ["Provider", "Endpoint host", "Default region", "Signs for", "Addressing"],
        rows,
        [22, 38, 12, 12, 12],
    )


def _capabilities() -> list[str]:
    rows = []
    for p in _families():
        rows.append(
            [
                p.title,
                f"{p.max_parts:,}",
                _yes(not p.equal_part_sizes).replace("yes", "any").replace("**no**", "**equal**"),
                _acls(p),
                _checksums(p),
                f"v{p.list_objects_version}",
                _bulk(p),
                _yes(p.upload_part_copy),
                _yes(p.conditional_writes),
                "409 error" if p.existing_bucket == "error" else "200 (driver looks first)",
            ]
        )
    return _table(
        [
            "Provider",
            "Max parts",
            "Part sizes",
            "Canned ACLs",
            "x-amz-checksum-*",
            "Listing",
            "DeleteObjects",
            "UploadPartCopy",
            "Conditional writes",
            "Existing bucket",
        ],
        rows,
        [16, 8, 8, 12, 12, 6, 10, 8, 8, 12],
    )


def _notes() -> list[str]:
    lines: list[str] = []
    for p in _families():
        lines += [f"**{p.title}** ({_constant(p)}, preset ``{p.name!r}``)", ""]
        lines += [f"* {note}" for note in p.notes] or ["* Behaves like Amazon S3."]
        if p.website:
            lines.append(f"* Home: {p.website}")
        lines += [f"* Checked against: {url}" for url in p.sources]
        lines.append("")
    return lines


def _aliases() -> list[str]:
    rows = [
        [f"``Provider.{_CONSTANTS[name]}``", f"``{name!r}``", f"``{region}``"]
        for name, region in sorted(AWS_REGION_ALIASES.items(), key=lambda item: item[1])
    ]
    return _table(["Constant", "Name", "Region"], rows, [40, 35, 25])


_RENDERERS = {
    "endpoints": _endpoints,
    "capabilities": _capabilities,
    "notes": _notes,
    "aliases": _aliases,
}


class ProviderMatrix(SphinxDirective):
    """``.. provider-matrix:: endpoints|capabilities|notes|aliases``."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        kind = self.arguments[0]
        if kind not in _RENDERERS:
            raise self.error(f"unknown provider-matrix {kind!r}; use one of {sorted(_RENDERERS)}")
        container = nodes.section() if kind == "notes" else nodes.container()
        content = StringList(_RENDERERS[kind](), source="libstore.providers")
        self.state.nested_parse(content, self.content_offset, container)
        return list(container.children)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("provider-matrix", ProviderMatrix)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
