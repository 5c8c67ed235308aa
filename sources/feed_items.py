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

from lxml import etree

ATOM = "http://www.w3.org/2005/Atom"
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

    def document(self, keep: list[int]) -> bytes:
        """The document with only the items at positions ``keep`` (in document order).

        The items are detached for this and put back afterwards, so the same split can
        serve again.
        """
        wanted = set(keep)
        positions = [(item.getparent(), item.getparent().index(item)) for item in self.items]
        for index, item in enumerate(self.items):
            if index not in wanted:
                item.getparent().remove(item)
        try:
            return etree.tostring(self.tree, xml_declaration=True, encoding="utf-8")
        finally:
            for index, item in enumerate(self.items):
                if index not in wanted:
                    parent, position = positions[index]
                    parent.insert(position, item)


def split_items(body: bytes, url: str) -> FeedItems | None:
    """The items of an RSS, RDF or Atom ``body`` fetched from ``url``, or ``None`` (see above)."""
    if b"<!DOCTYPE" in body[:4096] or b"<!ENTITY" in body:
        return None
    try:
        tree = etree.ElementTree(etree.fromstring(body, etree.XMLParser(**_PARSER_OPTIONS)))
    except (etree.XMLSyntaxError, ValueError):
        return None
    root = tree.getroot()
    if not isinstance(root.tag, str) or etree.QName(root).localname not in _ROOTS:
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
                url,
                sorted((k or "", v) for k, v in root.nsmap.items()),
                [sorted(c.attrib.items()) for c in containers],
                [_links(c) for c in containers],
            )
        ).encode()
    ).digest()
    # An item's serialisation declares every namespace it uses, inherited or its own.
    hashes = [
        hashlib.sha256(context + etree.tostring(item, with_tail=False)).hexdigest()[:32]
        for item in items
    ]
    return FeedItems(tree=tree, items=items, parents=parents, hashes=hashes)


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _links(container: etree._Element) -> list[tuple[str, str]]:
    """The feed's own links (its home page, the base for relative item links)."""
    return [
        (child.get("rel") or "", child.get("href") or (child.text or "").strip())
        for child in container
        if _local(child) == "link"
    ]
