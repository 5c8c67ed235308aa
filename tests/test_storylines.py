"""Storylines (issue 22): stories that are parts of one larger development, grouped under one
storyline with a title of its own, decided from the stories and never by merging them.

Through the public functions of ``sources.judge.storylines``, with small stories written for
the test among a background of the month's other EU news (which makes "EU", "Commission" and
"Ukraine" common words, as a real month does)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hash_seeds import outputs_under_hash_seeds

from sources.judge.stories import Story
from sources.judge.storylines import (
    THRESHOLD,
    WINDOW,
    explain_storyline,
    group_storylines,
    storyline_title,
)
from sources.types import StoredItem

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 19, 6, 0, tzinfo=UTC)
_numbers = iter(range(1, 10_000))


def item(title: str, summary: str, hours: float, source: str = "Outlet") -> StoredItem:
    number = next(_numbers)
    when = T0 + timedelta(hours=hours)
    return StoredItem(
        id=number,
        key=f"guid:{number}",
        link=f"https://{source.lower().replace(' ', '-')}.example/{number}",
        norm_link=f"https://{source.lower().replace(' ', '-')}.example/{number}",
        title=title,
        author="",
        summary=summary,
        text="",
        published_at=when,
        updated_at=when,
        relevance=5.0,
        relevant=True,
        topics=("ukraine-russia",),
        source_url=f"https://{source.lower().replace(' ', '-')}.example/feed",
        source_title=source,
    )


def story(*items: StoredItem, relevance: float | None = None) -> Story:
    ordered = sorted(items, key=lambda i: (i.published_at, i.id))
    return Story(
        headline=ordered[0],
        items=tuple(ordered),
        topic=ordered[0].topics[0],
        relevance=max(i.relevance for i in items) if relevance is None else relevance,
    )


# The month around: other EU external action, each item its own development.
BACKGROUND = [
    item(title, summary, -24 * day)
    for day, (title, summary) in enumerate(
        [
            (
                "EU prolongs sanctions on Iran over drone transfers to Russia",
                "The Council of the EU extended restrictive measures for another year.",
            ),
            (
                "Commission opens anti-subsidy probe into Chinese wind turbines",
                "The European Commission said subsidies distort competition in the bloc.",
            ),
            (
                "EU signs migration partnership with Mauritania",
                "The bloc will fund border management and legal pathways for workers.",
            ),
            (
                "Kallas visits Kyiv as EU pledges more air defence for Ukraine",
                "The EU's top diplomat met Ukrainian ministers in the capital.",
            ),
            (
                "EU and Japan agree closer cooperation on critical raw materials",
                "The Commission and Tokyo signed a memorandum on supply chains.",
            ),
            (
                "European Parliament backs new sanctions on Belarus",
                "MEPs called on the Council to list more Belarusian officials.",
            ),
            (
                "EU humanitarian aid to Sudan rises as fighting spreads",
                "The Commission announced new funding for food and shelter.",
            ),
            (
                "Commission proposes tariffs on Russian fertiliser imports",
                "The EU wants to cut Moscow's revenues from farm inputs.",
            ),
            (
                "EU election observers criticise vote in Georgia",
                "The observation mission said the campaign was marred by pressure.",
            ),
            (
                "Ukraine receives EU funds for energy repairs",
                "The European Commission said the money would restore power grids.",
            ),
            (
                "EU foreign ministers discuss Middle East ceasefire",
                "The Foreign Affairs Council met in Brussels to weigh humanitarian access.",
            ),
            (
                "EU and Mercosur negotiators resume talks on trade deal",
                "The Commission said differences on deforestation rules remain.",
            ),
        ]
    )
]

# A summit: its preview, its decision and a reaction to it, over two days.
PREVIEW = story(
    item(
        "EU leaders gather in Brussels for summit on Ukraine aid and defence",
        "European Council leaders meet on Thursday to discuss the €50bn Ukraine Facility "
        "and joint defence spending, with Hungary's Orbán threatening a veto.",
        0,
        "Politico Europe",
    ),
    item(
        "Orbán veto threat hangs over EU summit on €50bn for Ukraine",
        "Leaders arrive in Brussels for a European Council summit where Hungary may block "
        "the Ukraine Facility.",
        1,
        "Financial Times",
    ),
)
DECISION = story(
    item(
        "EU summit leaders agree €50bn Ukraine aid after Orbán drops veto",
        "All 27 leaders at the European Council in Brussels backed the Ukraine Facility "
        "once Hungary's Orbán lifted his veto.",
        9,
        "Reuters",
    ),
    item(
        "Orbán backs down as EU leaders seal €50bn Ukraine deal at summit",
        "Hungary's prime minister gave way at the Brussels summit and the Ukraine Facility "
        "was agreed by the European Council.",
        10,
        "The Guardian",
    ),
)
REACTION = story(
    item(
        "Zelensky hails EU summit deal on €50bn Ukraine aid as Orbán defends veto threat",
        "Ukraine's president thanked the European Council leaders after the Brussels summit, "
        "while Orbán said his veto threat won concessions.",
        26,
        "Kyiv Independent",
    )
)

# One country, two developments: accession talks, and a loan to the budget.
ACCESSION = story(
    item(
        "Commission recommends opening accession negotiations with Ukraine",
        "Kyiv has met the conditions on corruption, minority rights and media freedom, the "
        "Commission's enlargement report says, clearing the way for membership talks.",
        3,
        "Reuters",
    ),
    item(
        "Ukraine moves closer to EU membership as enlargement report backs talks",
        "The enlargement package recommends accession negotiations once reforms on "
        "corruption and minority rights are completed.",
        4,
        "Politico Europe",
    ),
)
LOAN = story(
    item(
        "EU disburses €4.2bn loan to Ukraine's budget to pay pensions and wages",
        "The macro-financial assistance will keep Kyiv's state afloat as tax revenues fall "
        "and the budget deficit widens, the Commission said.",
        5,
        "Bloomberg",
    ),
    item(
        "Ukraine gets €4.2bn EU tranche to cover budget deficit",
        "Finance ministry officials said the macro-financial assistance pays public wages "
        "and pensions this quarter.",
        6,
        "Kyiv Independent",
    ),
)


def storylines_of(stories: list[Story]) -> list[list[Story]]:
    """The storylines as lists of stories (independent of the input's order)."""
    lines = group_storylines(stories, background=BACKGROUND)
    return [[stories[i] for i in line] for line in lines]


def test_a_summits_preview_decision_and_reaction_are_one_storyline():
    lines = storylines_of([PREVIEW, DECISION, REACTION])
    assert lines == [[PREVIEW, DECISION, REACTION]]
    # and each pair on its own would be linked too, with the summit's words as the evidence
    verdict = explain_storyline(PREVIEW, DECISION, background=BACKGROUND)
    assert verdict.linked
    assert {"summit", "Hungary"} <= {word for word, _ in verdict.shared}


def test_two_developments_about_one_country_stay_apart():
    stories = [ACCESSION, LOAN]
    assert group_storylines(stories, background=BACKGROUND) == [[0], [1]]
    verdict = explain_storyline(ACCESSION, LOAN, background=BACKGROUND)
    assert not verdict.linked
    assert verdict.reasons_apart  # says why: alike x closeness below the threshold
    assert verdict.score < THRESHOLD


def test_a_day_of_several_developments_keeps_each_apart_and_the_summit_whole():
    stories = [ACCESSION, PREVIEW, LOAN, REACTION, DECISION]
    lines = storylines_of(stories)
    assert sorted(lines, key=len) == [[ACCESSION], [LOAN], [PREVIEW, REACTION, DECISION]]


def test_indices_are_a_partition_in_the_promised_order():
    stories = [REACTION, LOAN, DECISION, ACCESSION, PREVIEW]
    lines = group_storylines(stories, background=BACKGROUND)
    assert sorted(i for line in lines for i in line) == list(range(len(stories)))
    assert all(line == sorted(line) for line in lines)
    assert [line[0] for line in lines] == sorted(line[0] for line in lines)
    assert lines == [[0, 2, 4], [1], [3]]


def test_the_same_stories_give_the_same_storylines_in_any_order():
    # stories that begin at the same moment: only their items can order them
    twins = [
        story(item(f"EU summit leaders agree {what}", f"The European Council {what}.", 9))
        for what in ("new sanctions on Russia", "defence loans", "Moldova support")
    ]
    stories = [PREVIEW, DECISION, REACTION, ACCESSION, LOAN, *twins]
    expected = storylines_of(stories)
    shuffle = random.Random(22)
    for _ in range(12):
        order = stories[:]
        shuffle.shuffle(order)
        got = storylines_of(order)
        assert sorted(map(_ids, got)) == sorted(map(_ids, expected))
    assert group_storylines(stories, background=BACKGROUND) == group_storylines(
        stories, background=BACKGROUND
    )


def _ids(line: list[Story]) -> list[tuple[int, ...]]:
    return sorted(tuple(i.id for i in s.items) for s in line)


SCRIPT = """
import json, sys
sys.path.insert(0, "bench")
from corpus import load, stored
from sources.judge.stories import group_stories
from sources.judge.storylines import group_storylines
items = stored([i for i in load("calibration", parts=("real",)) if i.day == "2024-06-27"])
stories = group_stories([i for i in items if i.relevant], is_official=lambda i: False,
                        background=items)
stories.sort(key=lambda s: s.headline.id)
print(json.dumps(group_storylines(stories, background=items)))
"""


def test_the_same_storylines_under_every_hash_seed():
    outputs = outputs_under_hash_seeds(SCRIPT)
    assert outputs[0] == outputs[1] == outputs[2]
    lines = json.loads(outputs[0])
    assert any(len(line) > 2 for line in lines)  # a summit's stories, linked
    assert any(len(line) == 1 for line in lines)  # and other stories on their own


def test_stories_further_apart_than_the_window_are_never_one_storyline():
    later = story(
        *(
            item(i.title, i.summary, WINDOW.total_seconds() / 3600 + 30, i.source_title)
            for i in DECISION.items
        )
    )
    assert group_storylines([DECISION, later], background=BACKGROUND) == [[0], [1]]
    verdict = explain_storyline(DECISION, later, background=BACKGROUND)
    assert verdict.similarity > 0.9  # the same words, told again
    assert not verdict.linked and "apart" in verdict.reasons_apart[0]


def test_a_storyline_goes_on_through_its_stories_across_days():
    # the summit's stories and, the next day, its reaction: linked across the two days
    assert storylines_of([REACTION, PREVIEW]) == [[REACTION, PREVIEW]]
    near = explain_storyline(PREVIEW, REACTION, background=BACKGROUND)
    same_day = explain_storyline(PREVIEW, DECISION, background=BACKGROUND)
    assert near.linked and same_day.linked
    assert near.closeness < same_day.closeness < 1.0  # the later, the more likeness it needs
    assert explain_storyline(DECISION, DECISION, background=BACKGROUND).closeness == 1.0


def test_the_title_is_the_headline_of_the_most_told_story():
    one_source = story(item("EU leaders meet", "Leaders meet in Brussels.", 0, "A"))
    three_sources = story(
        item("EU agrees Ukraine aid", "Agreed.", 2, "B"),
        item("Ukraine aid agreed by EU", "Agreed.", 3, "C"),
        item("EU's Ukraine aid deal", "Agreed.", 4, "D"),
    )
    assert storyline_title([one_source, three_sources]) == "EU agrees Ukraine aid"
    # one outlet telling a story twice is still one source, however early
    twice = story(item("Orbán lifts veto", "Lifted.", -2, "E"), item("Veto lifted", "x", 2, "E"))
    two_sources = story(item("Veto gone", "x", 6, "B"), item("Orbán gives way", "x", 7, "C"))
    assert storyline_title([twice, two_sources]) == "Veto gone"
    assert storyline_title([twice, one_source]) == "Orbán lifts veto"  # a tie: the earlier
    # equal sources: the more relevant, then the earlier
    relevant = story(item("EU summit ends", "Ended.", 5, "F"), relevance=9.0)
    assert storyline_title([one_source, relevant]) == "EU summit ends"
    assert storyline_title([relevant, one_source]) == "EU summit ends"


def test_explain_agrees_with_the_grouping_for_every_pair():
    stories = [PREVIEW, DECISION, REACTION, ACCESSION, LOAN]
    linked = unlinked = 0
    for a in stories:
        for b in stories:
            if a is b:
                continue
            verdict = explain_storyline(a, b, background=BACKGROUND)
            together = group_storylines([a, b], background=BACKGROUND) == [[0, 1]]
            assert verdict.linked == together == (not verdict.reasons_apart)
            assert verdict.score == verdict.similarity * verdict.closeness
            assert verdict.threshold == THRESHOLD
            linked += verdict.linked
            unlinked += not verdict.linked
    assert linked and unlinked  # both kinds of pair were tried
