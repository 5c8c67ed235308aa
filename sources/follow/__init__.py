"""Following feeds: one aggregate run (due sources, fetch, parse in worker processes, decide,
store), the schedule, item keys, feed formats (RSS, Atom, RDF, JSON Feed), source lists (OPML),
autodiscovery, subscribing and history walks."""
