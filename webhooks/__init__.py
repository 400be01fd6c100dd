"""Outgoing event webhooks: every ticket event, signed and POSTed to registered URLs."""
