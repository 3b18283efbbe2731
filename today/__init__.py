"""The manager's day: today's waits per queue and per doctor against a target, with an alert and a CSV."""
