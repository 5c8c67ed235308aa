-- The schema communique's store had at version 1 (issue 3): only tests build such a file
-- now, to check that an old database is upgraded to exactly the current schema.
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL DEFAULT '',
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    next_due TEXT,
    gone INTEGER NOT NULL DEFAULT 0,
    redirect_target TEXT,
    redirect_seen INTEGER NOT NULL DEFAULT 0,
    last_status TEXT,
    last_fetch_at TEXT,
    last_success_at TEXT,
    last_error TEXT,
    last_error_at TEXT,
    warning TEXT
);
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    guid TEXT,
    link TEXT,
    norm_link TEXT,
    title TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    summary_html TEXT NOT NULL DEFAULT '',
    content_html TEXT NOT NULL DEFAULT '',
    categories TEXT NOT NULL DEFAULT '[]',
    published_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    UNIQUE (source_id, key)
);
CREATE INDEX entries_by_link ON entries (source_id, norm_link);
CREATE INDEX entries_by_date ON entries (published_at);
CREATE TABLE failures (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX failures_by_source ON failures (source_id, at);
CREATE VIRTUAL TABLE entries_fts USING fts5(
    title, summary, text, content='entries', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER entries_ai AFTER INSERT ON entries BEGIN
    INSERT INTO entries_fts (rowid, title, summary, text) VALUES (new.id, new.title, new.summary, new.text);
END;
CREATE TRIGGER entries_ad AFTER DELETE ON entries BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, title, summary, text)
    VALUES ('delete', old.id, old.title, old.summary, old.text);
END;
CREATE TRIGGER entries_au AFTER UPDATE OF title, summary, text ON entries BEGIN
    INSERT INTO entries_fts (entries_fts, rowid, title, summary, text)
    VALUES ('delete', old.id, old.title, old.summary, old.text);
    INSERT INTO entries_fts (rowid, title, summary, text) VALUES (new.id, new.title, new.summary, new.text);
END;

