"""Publishing: articles in, Atom / RSS / JSON feeds and HTML pages out.

This package never imports ``sources``; the aggregator builds on it, not the other way round.
"""
