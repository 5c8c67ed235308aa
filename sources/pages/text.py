"""The article text of a fetched web page, and whether it is the article at all. Pure.

Many feeds carry a title and one sentence; the article is on the page the item links to.
Pulling the article out of a page (past navigation, cookie banners, share buttons, related
links, comments and footers) is a solved problem with a published benchmark, so it is left
to `trafilatura <https://trafilatura.readthedocs.io>`_, which tops the published
article-extraction comparisons and is actively maintained. It is imported when the first page
is read, in the parser processes, so runs that read no page never pay for it.

What no extractor can know is whether the page it was given is the article: news sites
answer a reader without consent with a consent wall, and subscribers' articles with a
paywall stub. Storing that as the article would make the item worse than the feed's own
sentence, so :func:`read_page` judges what came out and says why it is not used:

* nothing, or under :data:`MIN_CHARS` characters: no article text on the page;
* a consent dialog (its vocabulary makes up much of the text) or a paywall stub (a short text
  that asks the reader to subscribe or sign in to go on);
* shorter than the feed's own text: the feed said more than the page gave.

Only plain text is kept: no markup from a fetched page ever reaches the store, so no script
or event handler can reach a reader, a browser or a mail client through it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree
from lxml import html as lxml_html

from feeds.text import clean_text
from sources.pages.charset import decode_page

MIN_CHARS = 200  # shorter is a teaser or an error page, not an article
WALL_CHARS = 2500  # a consent or paywall text longer than this carries an article as well
CONSENT_SHARE = 0.2  # of the sentences naming cookies, consent, partners or tracking
MAX_HTML_BYTES = 5 * 1024 * 1024  # a longer page is not read (the fetch caps it anyway)
STUB_CHARS = 1500  # an extract this short is judged with the page around it
SHORT_CHARS = 500  # a precise extract this short is tried again with trafilatura's defaults

# What consent dialogs say, in the languages of the sources communique ships with
_CONSENT_WORDS = (
    # English
    r"cookies?",
    r"consent",
    r"legitimate interests?",
    r"(?:\d+|our|[\w-]+) partners?",
    r"personali[sz]ed (?:ads|advertising|content)",
    r"privacy (?:policy|settings|preferences)",
    r"manage (?:options|preferences|settings|cookies)",
    r"accept all",
    r"reject all",
    r"precise geolocation",
    r"device characteristics",
    r"store and/or access information",
    r"tracking(?: technologies)?",
    # German
    r"einwilligung",
    r"zustimm\w*",
    r"berechtigt\w* interesse\w*",
    r"datenschutz\w*",
    r"mit werbung",
    r"werbefrei",
    r"akzeptieren",
    r"einstellungen",
    # French
    r"consentement",
    r"partenaires",
    r"int[ée]r[êe]t l[ée]gitime",
    r"traceurs",
    r"donn[ée]es personnelles",
    r"tout accepter",
    r"tout refuser",
    r"param[ée]trer",
)
_CONSENT = re.compile(r"\b(?:" + "|".join(_CONSENT_WORDS) + r")\b", re.IGNORECASE)
_PAYWALL = re.compile(
    r"\b(subscribe (?:now )?to (?:continue|read|keep reading|unlock)|to continue reading|"
    r"continue reading (?:with|for)|already (?:a subscriber|subscribed|have an account)|"
    r"subscribers? only|for subscribers|sign in to (?:continue|read)|log in to (?:continue|read)|"
    r"this (?:article|content) is (?:for|reserved for|available to) (?:subscribers|members)|"
    r"unlock (?:this|the full) (?:article|story)|start your (?:free )?trial|"
    r"become a (?:subscriber|member) to)\b",
    re.IGNORECASE,
)
_NOT_FREE = re.compile(r'"isAccessibleForFree"\s*:\s*"?false"?', re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?=$|[-_])")


@dataclass(frozen=True)
class PageText:
    """What a page gave: its article text (empty when not usable) and why not, if not."""

    text: str
    language: str  # as the page declares it ("en", "fr"), "" when it does not
    problem: str  # "" when ``text`` is the article

    @property
    def usable(self) -> bool:
        return bool(self.text) and not self.problem


def read_page(body: bytes, url: str, feed_text: str, content_type: str | None = None) -> PageText:
    """The article text of the HTML page ``body`` fetched from ``url`` (served as
    ``content_type``), judged against the text the feed itself gave (``feed_text``).

    The bytes are decoded first (:func:`sources.page_charset.decode_page`: the header's
    charset wins over the page's ``<meta>``, as in a browser); lxml left to itself sees only
    the ``<meta>`` and reads a page without one as Latin-1.

    trafilatura reads the page twice at most, tables left out both times (layout tables and
    lists of documents are what most boilerplate is made of): first favouring precision,
    then, when that comes out shorter than :data:`SHORT_CHARS`, with its default balance,
    keeping the longer text: an article it was too strict with still yields its text.
    """
    if len(body) > MAX_HTML_BYTES:
        return PageText("", "", f"page larger than {MAX_HTML_BYTES // 1024 // 1024} MiB")
    decoded = decode_page(body, content_type)
    try:
        # as UTF-8 bytes with the parser told so: an XML declaration or <meta> in the page
        # cannot make it read them another way, and a str with a declaration is refused
        tree = lxml_html.document_fromstring(decoded.encode("utf-8"), parser=_parser())
    except (etree.ParserError, ValueError):
        return PageText("", "", "not an HTML page")
    language = declared_language(tree)
    text = _extract(tree, url, precise=True)
    if len(text) < SHORT_CHARS:
        text = max(text, _extract(tree, url, precise=False), key=len)
    # the page as a whole is looked at only when the extract is short enough to be a wall
    page = _page_says(tree) if len(text) <= WALL_CHARS else None
    problem = judge(text, feed_text, page)
    return PageText(text if not problem else "", language, problem)


def _parser() -> lxml_html.HTMLParser:
    return lxml_html.HTMLParser(encoding="utf-8")


def _extract(tree: lxml_html.HtmlElement, url: str, *, precise: bool) -> str:
    import trafilatura  # here: only runs that read pages pay for importing it

    document = trafilatura.bare_extraction(
        tree,  # trafilatura cleans a copy: the tree is left as it was
        url=url,
        favor_precision=precise,
        fast=False,  # with its fallback extractors: ~5 ms a page; fast mode lost articles
        include_tables=False,  # layout tables and document lists: boilerplate, mostly
        include_comments=False,
        include_images=False,
        include_links=False,
        with_metadata=False,
        deduplicate=False,
    )
    return _plain(getattr(document, "text", None) or "") if document is not None else ""


@dataclass(frozen=True)
class _PageSays:
    """What the page as a whole says about itself, beyond the text extracted from it."""

    paywalled: bool  # schema.org isAccessibleForFree false: the publisher says so
    visible: str  # every visible text of the page, for the vocabulary of walls


def _page_says(tree: lxml_html.HtmlElement) -> _PageSays:
    paywalled = bool(
        tree.xpath(
            "//*[@itemprop='isAccessibleForFree'][translate(@content,'FALSE','false')='false']"
        )
    ) or any(
        _NOT_FREE.search(script.text or "")
        for script in tree.xpath("//script[@type='application/ld+json']")
    )
    for element in tree.xpath("//script|//style|//noscript|//template"):
        element.drop_tree()
    body = tree.find("body")
    visible = " ".join((body if body is not None else tree).text_content().split())
    return _PageSays(paywalled, visible[:20_000])


def warm_page_reader() -> None:
    """Load the extractor and what its first page would load (a few tenths of a second),
    ahead of the first page."""
    read_page(_WARM_PAGE, "https://example.org/", "")


_WARM_PAGE = (
    b"<!DOCTYPE html><html lang='en'><body><nav><a href='/'>Home</a></nav><article><h1>A</h1>"
    + b"<p>"
    + b"This sentence is here so that the extractor reads one page. " * 12
    + b"</p>"
    + b"</article></body></html>"
)


def judge(text: str, feed_text: str, page: _PageSays | None = None) -> str:
    """Why ``text``, extracted from a page, is not the article; "" when it is. ``page``:
    what the whole page says (a short extract from a page that is a consent dialog or
    declares itself paywalled is that wall, not the article)."""
    if len(text) <= WALL_CHARS:
        # what the page shows around a stub-sized extract tells a wall too (a consent dialog
        # yields little or no text; a paywall's offer box is left out as boilerplate)
        stub = len(text) <= STUB_CHARS
        visible = page.visible if page is not None and stub else ""
        for source in (text, visible[: WALL_CHARS * 2]):
            sentences = [s for s in _SENTENCE.split(source) if s.strip()]
            consent = sum(1 for s in sentences if _CONSENT.search(s))
            if sentences and consent / len(sentences) >= CONSENT_SHARE and consent >= 2:
                return "a consent wall, not the article"
        paywalled = page is not None and page.paywalled
        if paywalled or _PAYWALL.search(text) or _PAYWALL.search(visible):
            return "a paywall stub, not the article"
    if len(text) < MIN_CHARS:
        return "no article text on the page" if not text else "too short to be the article"
    if len(text) < len(" ".join(feed_text.split())):
        return "shorter than the feed's own text"
    return ""


def declared_language(tree: lxml_html.HtmlElement) -> str:
    """The page's language as it declares it (``<html lang>``, then Content-Language or
    ``og:locale``), as a lower-case primary subtag: "en-GB" -> "en"; "" when undeclared."""
    candidates = [
        tree.get("lang"),
        tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
        *tree.xpath(
            "//meta[translate(@http-equiv,'CONTENT-LANGUAGE','content-language')="
            "'content-language']/@content"
        ),
        *tree.xpath("//meta[@property='og:locale']/@content"),
    ]
    for value in candidates:
        match = _LANGUAGE.match((value or "").strip())
        if match:
            return match.group(0).lower()
    return ""


def _plain(text: str) -> str:
    """Paragraphs kept, spaces inside them folded; control characters dropped."""
    paragraphs = (" ".join(line.split()) for line in clean_text(text).splitlines())
    return "\n".join(p for p in paragraphs if p)
