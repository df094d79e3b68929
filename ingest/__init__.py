"""Ingest: the MQTT contract, the subscriber, validation, dedupe, dead letters, ack-after-commit."""
