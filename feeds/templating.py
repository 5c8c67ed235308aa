"""The Jinja2 environment a package's page templates are rendered with.

One definition for the site's pages (``feeds/templates/``) and the digest's page and mail
(``sources/digest/templates/``): HTML autoescaped, so text from an article or a feed can never
become markup, and a template's final newline kept, so a page ends as its template does.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, select_autoescape


@cache
def templates(package: str) -> Environment:
    """The templates in ``package``'s ``templates/`` folder; one environment per package, so
    each template is compiled once per process."""
    return Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
    )
