"""Aggregating: external feeds in, stored and judged, a digest out. May import feeds/, never
the reverse. One room a concern:

types.py     the records the rooms pass each other (stored item, entry, source, page, ...)
settings.py  communique.toml's [aggregate], [digest], [mail] and taxonomy settings
app.py       the use cases the CLI calls: aggregate, add a source, explain, make a digest
http/        fetching within limits and deadlines, decompression, robots.txt, the network rule
follow/      the aggregate run: due sources, feeds parsed (RSS, Atom, RDF, JSON Feed) and
             decided new / updated / same, source lists (OPML), subscribing, history walks
pages/       items' article pages: which to read, reading them politely, their text
judge/       pure: relevance, places, what identifies an event, the story model, stories
digest/      a period's stories -> Digest (pure), rendered as Markdown, HTML, JSON and a feed
             (pure), its files, the mail message and its delivery
store/       SQLite behind one Store: the schema, migrations, items, full-text search, locks
"""
