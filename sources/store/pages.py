"""Article pages: the items whose page is to be read, what reading each page gave (kept by
URL, so a page is never fetched twice), each host's robots.txt, and the hosts left alone
after a 429 or 503.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime

from sources.http.robots import RobotsFile
from sources.store.connection import Part, from_row
from sources.store.items import TEXTS, write_verdict
from sources.store.times import from_text, to_text
from sources.types import PageRecord, Relevance, WantedPage


class PagesPart(Part):
    """The pages, robots and host_rests tables, and the page columns of items."""

    def wanted_pages(self) -> list[WantedPage]:
        """Items whose page is to be read, newest first, with what is known of the page."""
        rows = self.db.execute(
            f"""SELECT e.id, e.link, e.title, {TEXTS}, s.url AS source_url, s.network,
                      p.status, p.etag, p.last_modified, p.text AS page_text, p.language,
                      p.problem, p.failures, p.retry_at
               FROM entries e JOIN sources s ON s.id = e.source_id
               LEFT JOIN pages p ON p.url = e.link
               WHERE e.page_wanted = 1 AND e.link IS NOT NULL
               ORDER BY e.first_seen_at DESC, e.published_at DESC, e.id DESC"""
        ).fetchall()
        return [
            from_row(
                WantedPage,
                r,
                entry_id=r["id"],
                url=r["link"],
                source_network=r["network"],
                known=None
                if r["status"] is None
                else from_row(
                    PageRecord,
                    r,
                    url=r["link"],
                    text=r["page_text"],
                    retry_at=from_text(r["retry_at"]),
                ),
            )
            for r in rows
        ]

    def record_page(
        self,
        page: PageRecord,
        fetched_at: datetime,
        entry_ids: Sequence[int],
        *,
        done: bool,
        relevance: Mapping[int, Relevance] | None = None,
    ) -> None:
        """Keep what reading one page gave (by URL: it is never fetched twice), and give its
        items the page's text, or the reason it is not used. ``done``: the items stop waiting
        for their page (read, or not to be read); else they wait for ``page.retry_at``."""
        now = to_text(fetched_at)
        with self.transaction() as db:
            db.execute(
                """INSERT OR REPLACE INTO pages (url, fetched_at, status, etag, last_modified,
                       text, language, problem, failures, retry_at)
                   VALUES (:url, :now, :status, :etag, :last_modified,
                       :text, :language, :problem, :failures, :retry_at)""",
                {**dataclasses.asdict(page), "now": now, "retry_at": to_text(page.retry_at)},
            )
            for entry_id in entry_ids:
                db.execute(
                    "UPDATE entries SET page_text = ?, page_language = ?, page_note = ?, "
                    "page_at = ?, page_wanted = ? WHERE id = ?",
                    (
                        page.text if not page.problem else "",
                        page.language,
                        page.problem,
                        now,
                        int(not done),
                        entry_id,
                    ),
                )
                verdict = (relevance or {}).get(entry_id)
                if verdict is not None:
                    write_verdict(db, entry_id, verdict)

    def give_up_pages(self, entry_ids: Sequence[int], note: str, at: datetime) -> None:
        """These items' pages will not be read (robots.txt, not a web page): say why."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE entries SET page_wanted = 0, page_note = ?, page_at = ? WHERE id = ?",
                [(note, to_text(at), i) for i in entry_ids],
            )

    def robots_file(self, host: str) -> RobotsFile | None:
        """A host's robots.txt as last read, if ever."""
        row = self.db.execute(
            "SELECT read_at, status, body FROM robots WHERE host = ?", (host,)
        ).fetchone()
        if row is None:
            return None
        return RobotsFile(host, row["status"], row["body"], datetime.fromisoformat(row["read_at"]))

    def save_robots_file(self, robots: RobotsFile) -> None:
        """A host's robots.txt as just read (or not answered: ``status`` None)."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO robots (host, read_at, status, body) VALUES (?, ?, ?, ?)",
                (robots.host, to_text(robots.read_at), robots.status, robots.body),
            )

    def resting_until(self, host: str) -> datetime | None:
        """Until when a host that answered 429 or 503 to a page is left alone."""
        row = self.db.execute(
            "SELECT resting_until FROM host_rests WHERE host = ?", (host,)
        ).fetchone()
        return from_text(row["resting_until"]) if row else None

    def rest_host(self, host: str, until: datetime) -> None:
        """Leave ``host`` alone until ``until`` (it answered a page with 429 or 503)."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO host_rests (host, resting_until) VALUES (?, ?)",
                (host, to_text(until)),
            )

    def page_counts(self) -> dict[str, tuple[int, str]]:
        """Per source URL: how many items have page text, and the last page problem."""
        rows = self.db.execute(
            """SELECT s.url,
                      (SELECT COUNT(*) FROM entries e WHERE e.source_id = s.id AND e.page_text != '')
                          AS with_text,
                      (SELECT e.page_note FROM entries e
                       WHERE e.source_id = s.id AND e.page_note != '' AND e.page_at IS NOT NULL
                       ORDER BY e.page_at DESC, e.id DESC LIMIT 1) AS problem
               FROM sources s"""
        )
        return {r["url"]: (r["with_text"], r["problem"] or "") for r in rows}
