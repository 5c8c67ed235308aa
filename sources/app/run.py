"""``communique run``: aggregate, write the digest, mail it, publish; for cron or a timer.

The command calls the use cases in that order, saying each result as its step ends. What is
the run's own is checked here, before anything is fetched: a bad ``[publish]``, ``[digest]``
or ``[mail]`` table, or a configured articles folder that is missing, stops it with nothing
written.
"""

from __future__ import annotations

from sources.settings import Settings


def prepare(settings: Settings) -> bool:
    """Check everything the run will need (see above); whether it mails the digest."""
    from feeds.article import check_articles_dir

    publish = settings.config.publish
    if publish.articles_configured:  # a configured folder that is missing stops it too
        check_articles_dir(publish.articles_dir)
    _ = settings.digest  # and a bad [digest] table
    return bool(settings.mail.to)  # and a bad [mail] one
