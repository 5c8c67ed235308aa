"""Judging items, pure: relevance to EU foreign policy (topics.toml), place names
(places.toml), what identifies an event, the learned story model (pair-model.json) and stories.
Imports only the records and its own modules: no HTTP, no feed parser, no database."""
