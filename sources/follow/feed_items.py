"""A feed document split into its items, each with a hash of its own bytes. Pure.

Most fetches of a changed feed bring one or two new items among fifty unchanged ones. Parsing,
sanitising and scoring all fifty again is what makes polling thousands of sources expensive,
so a cheap pre-pass (lxml, in C) splits the document into its items and hashes each item's
bytes: an item whose hash is already stored for the source is the same item, unchanged, and
is not parsed again. The items left are put back into the document around them (channel or
feed header, namespaces, ``xml:base``), and feedparser, the parser of record, reads only that.

A hash covers the item's bytes and what its meaning depends on outside itself: the feed's URL,
the namespace declarations and ``xml:base`` around it and the feed's own link (relative links
are resolved against them). It does not cover the rest of the header, which many feeds rewrite
on every change (``lastBuildDate``). Anything this pre-pass does not read strictly (malformed
XML, a DOCTYPE, entities, an unknown root) returns ``None``: such a document goes to feedparser
whole, with all its leniency, as before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import metadata

from lxml import etree

# What reads an item once it is parsed: a new version of any of these may read the same
# bytes differently, so the hashes of a new version are new and every item is read again.
READER = (
    "communique-items-1",
    metadata.version("feedparser"),
    metadata.version("nh3"),
)
_ROOTS = {"rss", "feed", "RDF"}
_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "huge_tree": False,
    "strip_cdata": False,  # CDATA kept as written, so what feedparser reads is unchanged
    "remove_blank_text": False,
    "recover": False,
}


@dataclass
class FeedItems:
    """A parsed document, its items in document order, and one hash per item."""

    tree: etree._ElementTree
    items: list[etree._Element]
    parents: list[etree._Element]
    hashes: list[str]

    sizes: list[int]  # bytes of each item as serialised

    def document(self, keep: list[int]) -> bytes:
        """The document with only the items at positions ``keep`` (in document order).

        Each container's children are replaced in one step (linear, whatever the number of
        items) and restored afterwards, so the same split can serve again.
        """
        dropped = {id(self.items[i]) for i in set(range(len(self.items))) - set(keep)}
        containers = {id(p): p for p in self.parents}
        children = {key: list(parent) for key, parent in containers.items()}
        for key, parent in containers.items():
            parent[:] = [c for c in children[key] if id(c) not in dropped]
        try:
            return etree.tostring(self.tree, xml_declaration=True, encoding="utf-8")
        finally:
            for key, parent in containers.items():
                parent[:] = children[key]


def split_items(body: bytes, url: str) -> FeedItems | None:
    """The items of an RSS, RDF or Atom ``body`` fetched from ``url``, or ``None`` (see above)."""
    if b"<!DOCTYPE" in body[:4096] or b"<!ENTITY" in body:
        return None
    try:
        tree = etree.ElementTree(etree.fromstring(body, etree.XMLParser(**_PARSER_OPTIONS)))
    except (etree.XMLSyntaxError, ValueError):
        return None
    root = tree.getroot()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        return None  # a DOCTYPE in any encoding (UTF-16 hides it from the byte check)
    if _local(root) not in _ROOTS:
        return None
    containers = [root, *(c for c in root if _local(c) == "channel")]
    items: list[etree._Element] = []
    parents: list[etree._Element] = []
    for container in containers:
        for child in container:
            if _local(child) in {"item", "entry"}:
                items.append(child)
                parents.append(container)
    context = hashlib.sha256(
        repr(
            (
                READER,
                url,
                sorted((k or "", v) for k, v in root.nsmap.items()),
                [sorted(c.attrib.items()) for c in containers],
                [_links(c) for c in containers],
            )
        ).encode()
    ).digest()
    # An item's serialisation declares every namespace it uses, inherited or its own.
    serialised = [etree.tostring(item, with_tail=False) for item in items]
    hashes = [hashlib.sha256(context + raw).hexdigest()[:32] for raw in serialised]
    return FeedItems(
        tree=tree, items=items, parents=parents, hashes=hashes, sizes=[len(r) for r in serialised]
    )


def encoding(items: FeedItems) -> str:
    """The encoding the document declared (or UTF-8), as lxml read it."""
    return (items.tree.docinfo.encoding or "utf-8").lower()


def _local(element: etree._Element) -> str:
    """The tag without its namespace ("{http://www.w3.org/2005/Atom}entry" -> "entry");
    comments and processing instructions have none."""
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _links(container: etree._Element) -> list[tuple[str, str]]:
    """The feed's own links (its home page, the base for relative item links)."""
    return [
        (child.get("rel") or "", child.get("href") or (child.text or "").strip())
        for child in container
        if _local(child) == "link"
    ]
