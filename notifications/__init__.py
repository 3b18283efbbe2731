"""Notifications on call through an outbox (issue 16): SMS through an HTTP gateway and a signed webhook."""
