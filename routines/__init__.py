"""Cadence domain core: children, plans, routines, occurrences, logs, adherence."""
