"""Cadence's database foundation and tenancy: organisations, people, memberships, audit."""
