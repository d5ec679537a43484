"""Rung 4: scenario payloads run for real as local processes."""
