"""SQLite behind one Store: the schema and its migrations, sources, items (each text kept
once) and full-text search, pages, deliveries, archives, and the run and mail locks."""
