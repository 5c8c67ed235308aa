"""The digest: a period's stories made into a Digest, rendered as Markdown, HTML, JSON and a
feed, its files, and the mail message and its delivery."""
