"""Aggregating: external feeds in, digest out (built in a later issue)."""
