"""The triage store: sessions, events and traces on SQLite."""
