"""The shipped taxonomy on hard cases: words that look like the EU but are not."""

from __future__ import annotations

import pytest

from sources.relevance import build_taxonomy

TAXONOMY = build_taxonomy()


@pytest.mark.parametrize(
    "title",
    [
        "City council approves new military museum and defence memorial",
        "Chinese sanctions on Taiwan arms makers as the Security Council met",
        "Ukraine stun Georgia to reach Euro 2032 finals",
        "Olympic team of Ukraine arrives in Paris as sanctions on Russian athletes stay",
        "Electoral commission reviews defence spending claims in the Senate race",
        "Council of Europe court rules on Russian prisoners",
    ],
)
def test_not_the_eu_is_not_eu_foreign_policy(title):
    verdict = TAXONOMY.score(title, "", "")
    assert not verdict.relevant, (verdict.anchors, verdict.topic_scores)


@pytest.mark.parametrize(
    "title",
    [
        "Russia: Council prolongs economic sanctions for a further six months",
        "EU opens accession talks with Moldova on the fundamentals cluster",
        "Kallas: the EU will back Ukraine for as long as it takes",
    ],
)
def test_the_eu_acting_abroad_is(title):
    assert TAXONOMY.score(title, "", "").relevant


def test_numbers_count_as_words_in_story_grouping():
    from sources.event_identity import words as tokens

    assert "20th" in tokens("Council adopts 20th sanctions package") and "120" in tokens(
        "120 vessels"
    )
