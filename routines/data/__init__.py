"""Cadence's own default content: assessment framework and activity library (JSON)."""
