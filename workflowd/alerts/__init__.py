"""Alerts: made by rules and by surges, delivered through a durable outbox to webhooks, ntfy and Apprise."""
