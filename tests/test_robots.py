"""robots.txt groups and rules are read as RFC 9309 says (issue 18, point 13e): a group line
``Communique/2.0`` names communique, a group for another agent whose name merely contains
ours does not, and the longest matching rule wins. Through `aggregate` against a real
loopback server: what counts is which pages were requested at all.
"""

from __future__ import annotations

import pytest
from feedserver import Route, rss
from test_full_text import EU_ARTICLE, Project, feed_item, page

OTHERS_ALLOWED = "\n\nUser-agent: *\nDisallow:\n"


@pytest.mark.parametrize(
    ("robots", "requested"),
    [
        # the product token is the part before "/", compared without case
        ("User-Agent: Communique/2.0\nDisallow: /private/" + OTHERS_ALLOWED, {"/news/b"}),
        ("USER-AGENT: COMMUNIQUE\nDISALLOW: /private/" + OTHERS_ALLOWED, {"/news/b"}),
        ("user-agent: communique/0.1 (+https://example.org/)\ndisallow: /news/", {"/private/a"}),
        # a group for "unique" or "communique-bot" is not ours: the * group applies
        (
            "User-agent: unique\nUser-agent: communique-bot\nDisallow: /\n\n"
            "User-agent: *\nDisallow: /private/\n",
            {"/news/b"},
        ),
        # our groups, all of them, and not * when one names us
        (
            "User-agent: communique\nDisallow: /news/\n\nUser-agent: *\nDisallow: /\n\n"
            "User-agent: Communique\nDisallow: /private/\n",
            set(),
        ),
        # the longest matching rule wins, Allow on a tie; * and $ in paths
        ("User-agent: *\nDisallow: /news/\nAllow: /news/b\n", {"/news/b", "/private/a"}),
        ("User-agent: *\nDisallow: /*a$\nAllow: /news/\n", {"/news/b"}),
        ("User-agent: *\nAllow: /private/\nDisallow: /private/\n", {"/news/b", "/private/a"}),
    ],
)
def test_robots_txt_groups_and_rules_are_read_as_rfc_9309_says(tmp_path, server, robots, requested):
    project = Project(tmp_path, server, 'full_text = "on"\n')
    server.route("/robots.txt", Route(body=robots.encode(), content_type="text/plain"))
    for path in ("/private/a", "/news/b"):
        server.route(path, Route(body=page("Sanctions", EU_ARTICLE), content_type="text/html"))
    items = [
        feed_item(server, "a", "/private/a", "A closed page", "One sentence."),
        feed_item(server, "b", "/news/b", "An open page", "One sentence."),
    ]
    server.route("/feed.xml", Route(body=rss(items)))
    project.subscribe("/feed.xml")
    summary = project.aggregate()
    asked = {path for path in ("/private/a", "/news/b") if server.requests_for(path)}
    assert asked == requested
    assert summary["pages"]["disallowed"] == 2 - len(requested)
    assert summary["pages"]["read"] == len(requested)
