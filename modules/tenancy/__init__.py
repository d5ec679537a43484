"""Tenants: one stack-config entry per team; namespace, access, quota, queues and storage follow.

`spec` parses and validates tenants against the platform, `objects` and `storage` build their
Kubernetes objects, `tenant` registers them, `isolation` proves tenants cannot reach each other.
"""
