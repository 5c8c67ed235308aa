"""Whether an SVG file may be published on the site's origin: no script, nothing that loads one.

An ``<img>`` never runs an SVG's script, but anyone can open the file's own URL, and then it is
a document of the site's origin: a ``<script>``, an ``onload=`` or a ``javascript:`` link in it
runs with the site's cookies and storage. So every ``.svg`` a publish would copy is parsed
here as XML, safely (lxml: no network, no DTD loaded, no entity expanded into the tree), and
refused when it holds anything that can run script or bring in markup that does:

- ``<script>``, ``<foreignObject>`` (HTML inside SVG), SVG Tiny's ``<handler>``/``<listener>``,
  and any element in the XHTML namespace;
- any ``on*`` event attribute, and animations (``<set>``, ``<animate>``) of one;
- ``javascript:`` or ``vbscript:`` in any attribute (``href``, ``xlink:href``, ``values``,
  ``xml:base``, ``style``), after character references are decoded and the tabs, newlines
  and spaces browsers ignore in URLs are removed;
- ``<use>`` of another document (only ``#fragment`` references are allowed);
- an ``xml-stylesheet`` instruction (XSLT can write script), DOCTYPE declarations
  (``<!ENTITY>``, ``<!ATTLIST>``: a browser would expand markup or add attributes this check
  never saw) and references to entities that are not defined.

A file that is not well-formed XML is refused too: a browser renders the part before the error.
"""

from __future__ import annotations

import re

from lxml import etree

from feeds.picture import a_kind, sniff

XHTML = "http://www.w3.org/1999/xhtml"
_SCRIPTING_ELEMENTS = frozenset(
    {"script", "foreignobject", "handler", "listener", "iframe", "embed", "object", "applet"}
)
# Browsers drop ASCII tabs and newlines anywhere in a URL, and spaces and controls around it.
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f]+")
_SCRIPT_SCHEMES = ("javascript:", "vbscript:")
_DECLARATION = re.compile(rb"<!(?:ENTITY|ATTLIST|ELEMENT|NOTATION)")
_ENCODINGS = {"utf-8", "utf-16", "us-ascii", "ascii", "iso-8859-1", "latin-1"}


def unsafe(data: bytes) -> str | None:
    """Why the SVG file ``data`` could run script on the site, or is no SVG at all; None if
    neither. The reason is a phrase that follows the file's name: "… has a <script> element"."""
    if _DECLARATION.search(_as_ascii(data)):
        return (
            "declares entities or attributes in its DOCTYPE, which could hide script "
            "(remove the DOCTYPE)"
        )
    try:
        tree = etree.fromstring(data, _parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        kind = sniff(data[:4096])
        if kind and kind != "SVG":
            return f"is {a_kind(kind)} picture, not SVG (give it the extension of its type)"
        message = str(exc).split(" (", 1)[0]
        return f"is not well-formed XML, so it cannot be checked for script ({message})"
    if (tree.docinfo.encoding or "utf-8").lower() not in _ENCODINGS:
        return f"is encoded in {tree.docinfo.encoding} (save it as UTF-8)"
    root = tree.getroot()
    if etree.QName(root).localname != "svg":
        return f"is not an SVG picture (its root element is <{etree.QName(root).localname}>)"
    stylesheets = tree.xpath("//processing-instruction('xml-stylesheet')")
    problem = (
        "has an xml-stylesheet instruction (XSLT can write script)"
        if stylesheets
        else next(filter(None, map(_node_problem, root.iter())), None)
    )
    if problem:
        return f"{problem}, which could run script on the site (remove it, or export a plain SVG)"
    return None


def _node_problem(node: etree._Element) -> str | None:
    if isinstance(node, etree._Entity):
        return f"uses the undefined entity {node.text}"
    if not isinstance(node.tag, str):  # comments, processing instructions
        return None
    name = etree.QName(node)
    element = name.localname.lower()
    if name.namespace == XHTML:
        return f"has an HTML <{name.localname}> element"
    if element in _SCRIPTING_ELEMENTS:
        return f"has a <{name.localname}> element"
    for key, value in node.attrib.items():
        attribute = etree.QName(key).localname.lower()
        squashed = _IGNORED_IN_URLS.sub("", value).lower()
        if attribute.startswith("on"):
            return f"has an event attribute {etree.QName(key).localname}= on <{name.localname}>"
        if any(scheme in squashed for scheme in _SCRIPT_SCHEMES):
            return f"has a script URL in {etree.QName(key).localname}= on <{name.localname}>"
        if attribute == "attributename" and squashed.rpartition(":")[2].startswith("on"):
            return f"animates the event attribute {value.strip()}"
        if element == "use" and attribute == "href" and not value.strip().startswith("#"):
            return f"has a <use> of another document ({value.strip()[:80]})"
    return None


def _parser() -> etree.XMLParser:
    """A parser that reads what is there and nothing more: no DTD loaded, no network, entities
    left as references, the default limits on depth and size."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _as_ascii(data: bytes) -> bytes:
    """The bytes to search for declarations: UTF-16 (with its byte order mark) made ASCII."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace").encode("ascii", errors="replace")
    return data
