"""Notification channels: how a message leaves Cadence."""
