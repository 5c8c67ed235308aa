"""The shipped taxonomy on hard cases: words that look like the EU but are not, the EU's
external action under its own names, and items that mention the EU without being about it."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from click.testing import CliRunner
from feedserver import FeedServer, Route

from cli import main
from sources.follow.opml import Source, save_source_list
from sources.judge.relevance import build_taxonomy

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


# Headlines written for these tests, a few per family of the EU's own names; none has a
# strong topic word such as "sanctions", "Ukraine" or "accession" to carry it.
@pytest.mark.parametrize(
    ("title", "summary"),
    [
        # CSDP missions and operations by name
        ("EULEX hands Pristina court its last war-crimes files", ""),
        ("EUAM advisers open a new field office in Odesa", ""),
        ("Aspides frigate escorts container ship past Hodeidah", "EUNAVFOR Aspides said."),
        ("EUFOR Althea rotates its reserve battalion", ""),
        ("EUCAP Somalia trains coastguard officers in Bosaso", ""),
        # instruments
        ("European Peace Facility: €40 million assistance measure for Mauritania", ""),
        ("Estonia signs its SAFE defence loan agreement", "The Commission lends €2.7 billion."),
        ("Global Gateway: a hydrogen corridor for Namibia", ""),
        ("Team Europe pledges water projects for Zambia", ""),
        # the accession process
        ("Tirana closes two more chapters at the intergovernmental conference", "The EU said."),
        ("Screening report for Montenegro published by the Commission", ""),
        # EU positions in multilateral bodies, observers, partnerships
        ("EU statement at the UN Human Rights Council on Eritrea", ""),
        ("At COP31 the EU pushes for a tripling of adaptation finance", ""),
        ("EU observers deploy ahead of Malawi's presidential vote", ""),
        ("EU and Senegal sign a migration partnership", ""),
        ("Talent partnership with Bangladesh launched", "The EU and Bangladesh agreed."),
        # office-holders by name and office
        ("Kos: Chisinau has done its homework", "The enlargement commissioner said."),
        ("Šefčovič and Ottawa's trade minister agree to speed up steel talks", ""),
        ("Bloc's top diplomat visits Ulaanbaatar", "The EU's foreign policy chief met ministers."),
        # the EU acting with a country outside it, whatever it does
        ("EU and Paraguay sign a memorandum on lithium", ""),
        ("Nepal thanks the EU for flood relief", ""),
    ],
)
def test_the_eu_s_own_names_keep_its_external_action(title, summary):
    verdict = TAXONOMY.score(title, summary, "")
    assert verdict.relevant, (verdict.anchors, verdict.topic_scores, verdict.partners)


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        # newsletters, briefings, live blogs, roundups: the EU is one of ten things
        (
            "FirstFT: oil slips, Tokyo vote and a record for Nvidia",
            "Also: the EU extends sanctions on Russia for six months and Ukraine asks for air defence.",
        ),
        (
            "First Thing: Senate passes spending bill",
            "In today's newsletter: Brussels readies a sanctions package on Iran over drones.",
        ),
        (
            "Gaza war live: hospitals run out of fuel",
            "The EU calls for humanitarian pauses; Israel says troops advance.",
        ),
        (
            "Morning Briefing: Japan's budget, OPEC and a storm over Texas",
            "Good morning. Japan's parliament votes, the EU sends humanitarian aid to Gaza.",
        ),
        (
            "Five things to know today",
            "The EU's foreign ministers discuss Sudan, Chinese exports slump, a storm nears Texas.",
        ),
        # EU domestic policy
        ("Commission fines three tyre makers €400 million in cartel case", ""),
        ("ECB holds rates as euro zone inflation eases", "EU finance ministers welcome it."),
        ("MEPs back delay to AI Act rules for high-risk systems", ""),
        # world news where the EU is not the actor
        ("UN Security Council vote on Haiti force fails as Russia abstains", ""),
        ("Council of Europe court rules against Turkey over jailed journalists", "In Strasbourg."),
        ("Japan's ruling party picks a new leader", "Tokyo's new leader will meet EU envoys."),
        # sport and the city of Brussels
        ("Champions League: Union Saint-Gilloise beat Galatasaray", "In Brussels."),
        ("Brussels metro line 3 delayed again", "Works near the Moroccan consulate continue."),
    ],
)
def test_near_misses_stay_out(title, summary):
    verdict = TAXONOMY.score(title, summary, "")
    assert not verdict.relevant, (verdict.anchors, verdict.topic_scores, verdict.roundup)


def test_an_eu_mention_past_the_lede_does_not_make_an_item_eu_foreign_policy():
    title = "Pentagon budget bill clears the House with money for drones"
    lede = "The House passed an $890 billion defence bill on Thursday. " * 8
    late = "The EU's foreign policy chief said the European Peace Facility would match it."
    far = TAXONOMY.score(title, "", lede + late)
    near = TAXONOMY.score(title, "", late + " " + lede)
    assert not far.relevant and far.distant_anchors and not far.anchors
    assert near.relevant and near.anchors


def test_a_roundup_is_kept_when_its_title_is_eu_foreign_policy():
    verdict = TAXONOMY.score(
        "Ukraine war live: EU recommends opening accession talks with Kyiv",
        "Follow our live coverage.",
        "",
    )
    assert verdict.roundup and verdict.relevant


def rss(items: list[tuple[str, str, str]]) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>']
    parts.append(
        "<title>Wire</title><link>https://wire.example/</link><description>x</description>"
    )
    for number, (title, summary, date) in enumerate(items):
        parts.append(
            f"<item><title>{html.escape(title)}</title><guid>n{number}</guid>"
            f"<link>https://wire.example/{number}</link><pubDate>{date}</pubDate>"
            f"<description>{html.escape(summary)}</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def test_explain_says_why_a_roundup_and_a_partner_item_were_judged(tmp_path: Path):
    roundup = "First Thing: Senate passes spending bill"
    partner = "EU and Paraguay sign a memorandum on lithium"
    date = "Mon, 10 Mar 2025 09:00:00 +0000"
    config = tmp_path / "communique.toml"
    config.write_text(
        '[site]\ntitle = "t"\nbase_url = "https://t.example/"\n'
        '[aggregate]\nsources = "s.opml"\ndatabase = "c.db"\nworkers = 1\n',
        encoding="utf-8",
    )
    with FeedServer() as server:
        body = rss(
            [
                (roundup, "In today's newsletter: the EU readies sanctions on Iran.", date),
                (partner, "Asunción and Brussels agree on raw materials.", date),
            ]
        )
        server.route("/wire.xml", Route(body=body))
        save_source_list(tmp_path / "s.opml", [Source(server.url("/wire.xml"), "Wire", "news")])
        run = CliRunner().invoke(main, ["--config", str(config), "aggregate", "--all"])
        assert run.exit_code == 0, run.output

    def explain(number: int) -> str:
        result = CliRunner().invoke(main, ["--config", str(config), "explain", str(number)])
        assert result.exit_code == 0, result.output
        return result.output

    outputs = {explain(n).splitlines()[0]: explain(n) for n in (1, 2)}
    assert "  relevant: no" in outputs[roundup]
    assert "  roundup: 'first thing'" in outputs[roundup]
    assert "  relevant: yes" in outputs[partner]
    assert "  partner in the title: Paraguay" in outputs[partner]


def test_numbers_count_as_words_in_story_grouping():
    from sources.judge.event_identity import words as tokens

    assert "20th" in tokens("Council adopts 20th sanctions package") and "120" in tokens(
        "120 vessels"
    )
