"""Messages before the call: OPD reminders the evening before and shortly before a slot, and "N patients ahead of
you" for walk-in visits; written to the notifications outbox through core.signals by a scheduler command."""
