"""The use cases the command line calls: one function each, returning a record it prints.

Each takes the :class:`~sources.settings.Settings` of the command and its options, does the
work through the rooms (``follow``, ``judge``, ``store``, ``digest``) and returns what
happened; :mod:`sources.app.text` says it in lines. Nothing here knows click or prints:
bad input is :class:`~feeds.errors.InputError` (a file's line) or one of
:mod:`sources.app.errors`, each of which the command line says in one line with exit code 2.

The policies the commands used to write again each live in one place: which sources are
on-topic or official and how an item is scored (:mod:`sources.judge.source_rules`), the
digest's background window (:func:`sources.judge.stories.background_period`), which digest
is the latest (:func:`sources.digest.files.latest`), and the source list matched against
the database (:func:`sources.app.following.aggregate`).
"""

RUN_WAIT = 600.0  # seconds a run waits for another holding the database (aggregate --wait)
MAIL_WAIT = 600.0  # seconds a mail waits for another process mailing one (mail --wait)
