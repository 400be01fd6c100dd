"""Metrics computed from tickets and their events (filled in by the metrics work)."""
