"""Notifications on call through an outbox: SMS through an HTTP gateway and a signed webhook."""
