"""Outgoing messages: a neutral message, an outbox of deliveries, and channels."""
