"""Hardened parsing of WebDAV multistatus answers (and the PROPFIND body we send).

A multistatus never needs a DTD, so a document that carries one is refused outright: that
closes XXE, entity expansion ("billion laughs") and DTD fetches in one rule, whatever the
lxml defaults of the day are. The parser also never touches the network and keeps libxml2's
size limits (`huge_tree=False`). Elements are matched by Clark name (`{DAV:}href`), never by
prefix, and properties are read per `propstat` with its own status: a 404 block lists props
the server lacks, a 425 block (oCIS) marks an upload still being processed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from service.errors import UnsafeXML
from service.httpdate import parse_http_date

DAV = "{DAV:}"
OC = "{http://owncloud.org/ns}"

# Responses above this size are refused before parsing; a Depth-1 listing of 10,000 files is
# about 5 MB, so 64 MB leaves room without letting a hostile server exhaust memory.
MAX_XML_BYTES = 64 << 20

PROPFIND_BODY = b"""<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">
  <d:prop>
    <d:resourcetype/><d:getetag/><d:getlastmodified/><d:getcontentlength/><d:getcontenttype/>
    <oc:fileid/><oc:permissions/><oc:size/>
  </d:prop>
</d:propfind>
"""


@dataclass
class DavResponse:
    """One `<d:response>`: its decoded-later href and the props of each status."""

    href: str
    props: dict[str, etree._Element] = field(default_factory=dict)
    status: int = 200  # the response-level status, or the worst propstat that held props
    too_early: bool = False  # a propstat answered 425 (oCIS post-processing)

    def text(self, name: str) -> str | None:
        """The text of a prop read from a 200 propstat, stripped; None when absent."""
        el = self.props.get(name)
        if el is None or el.text is None:
            return None
        return str(el.text).strip()

    @property
    def is_collection(self) -> bool:
        """True when `resourcetype` holds `<d:collection/>`."""
        rt = self.props.get(f"{DAV}resourcetype")
        return rt is not None and rt.find(f"{DAV}collection") is not None

    @property
    def etag(self) -> str | None:
        """The etag without quotes or weak marker; servers differ in quoting."""
        raw = self.text(f"{DAV}getetag")
        if not raw:
            return None
        if raw.startswith("W/"):
            raw = raw[2:]
        return raw.strip('"') or None

    @property
    def size(self) -> int:
        """Content length for files; `oc:size` (recursive) as a fallback."""
        for name in (f"{DAV}getcontentlength", f"{OC}size"):
            raw = self.text(name)
            if raw and raw.isdigit():
                return int(raw)
        return 0

    @property
    def mtime(self) -> float:
        """`getlastmodified` (RFC 1123) as a POSIX timestamp, 0.0 when unreadable."""
        return parse_http_date(self.text(f"{DAV}getlastmodified")) or 0.0


def _parser() -> etree.XMLParser:
    # A fresh parser per document: lxml parsers are not safe to share across threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def safe_fromstring(data: bytes) -> etree._Element:
    """Parse `data` or raise UnsafeXML; any DOCTYPE (hence any entity) is refused."""
    if len(data) > MAX_XML_BYTES:
        raise UnsafeXML(f"XML answer too large ({len(data)} bytes)")
    # Cheap pre-check before libxml2 sees it: a DOCTYPE can only precede the root element.
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in head:
        raise UnsafeXML("XML answer carries a DOCTYPE; refused")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXML(f"malformed XML answer: {exc}") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXML("XML answer carries a DOCTYPE; refused")
    return root


def _status_code(el: etree._Element | None) -> int | None:
    """`HTTP/1.1 404 Not Found` → 404."""
    if el is None or not el.text:
        return None
    parts = el.text.split()
    if len(parts) >= 2 and parts[1].isdigit():
        return int(parts[1])
    return None


def parse_multistatus(data: bytes) -> list[DavResponse]:
    """The responses of a 207 body, props taken only from 200 (and noted 425) propstats."""
    root = safe_fromstring(data)
    if root.tag != f"{DAV}multistatus":
        raise UnsafeXML(f"expected a DAV multistatus, got {root.tag!r}")
    out: list[DavResponse] = []
    for resp in root.iterchildren(f"{DAV}response"):
        href_el = resp.find(f"{DAV}href")
        if href_el is None or not href_el.text:
            continue
        item = DavResponse(href=href_el.text.strip())
        top = _status_code(resp.find(f"{DAV}status"))
        if top is not None:
            item.status = top
        for propstat in resp.iterchildren(f"{DAV}propstat"):
            code = _status_code(propstat.find(f"{DAV}status")) or 200
            prop = propstat.find(f"{DAV}prop")
            if code == 425:
                item.too_early = True
            if prop is None or code not in (200, 425):
                continue  # 404 = "no such prop", 403 = "not allowed": nothing to read
            if code == 425:
                # oCIS lists the item but its content is not there yet; keep what it tells.
                for child in prop:
                    item.props.setdefault(child.tag, child)
                continue
            for child in prop:
                item.props[child.tag] = child
        out.append(item)
    return out
