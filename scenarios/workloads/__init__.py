"""Payloads that conformance scenarios run inside pods (and tests run as local processes)."""
