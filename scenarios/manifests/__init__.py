"""Typed builders for the objects conformance scenarios create, per platform release.

API versions, deployment-mode values and the numProcPerNode location come from the
release catalogue; images from `mlplatform.scenarios.images`; queue labels from
`mlplatform.kueue_objects`.
Every workload pod is restricted (non-root, no privilege escalation, ALL capabilities
dropped, RuntimeDefault seccomp, read-only root filesystem) and sized (requests = limits).
"""
