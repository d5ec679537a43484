"""What keeps Kubeflow Pipelines runs out of a Pod Security `restricted` namespace, per KFP version.

A KFP v2 run is an Argo Workflow in the tenant namespace; every pod of it has Argo's `init`
and `wait` containers (argoproj/argo-workflows workflow/controller/workflowpod.go
`newExecContainer`: their securityContext is the controller ConfigMap's `executor.
securityContext`, v3.5.14 line 608, v3.7.3 line 702), the template's own init containers
(appended as compiled, `addInitContainers`, v3.5.14 line 1088, v3.7.3 line 1213) and `main`
(the ConfigMap's `mainContainer` merged under the template's container, v3.5.14 line 108,
v3.7.3 line 139). The pod's securityContext is the template's, else the Workflow's (with
`workflowDefaults` merged in; v3.5.14 line 735, v3.7.3 line 829). A `podSpecPatch` (Workflow
or `workflowDefaults`) is a strategic merge onto every pod of the run (workflow/util/util.go
`ApplyPodSpecPatch`): an entry for a container the pod lacks is appended, not skipped.

Read at the pinned KFP tags (kubeflow/pipelines backend/src/v2/compiler/argocompiler):
- 2.5.0 and 2.15.0 set no securityContext anywhere: the executor pod's `kfp-launcher` init
  container (2.5.0 container.go line 383, 2.15.0 line 495) has none, and no setting reaches
  it: `executor` covers only Argo's containers, `mainContainer` only `main`, a pod-level
  securityContext cannot carry allowPrivilegeEscalation or capabilities, and a
  `podSpecPatch` naming `kfp-launcher` would add an image-less init container to every driver
  pod. The API server's PIPELINE_RUN_AS_USER sets the pod's runAsUser only.
- 2.16.0 hardens its own templates (security_context.go): drivers, importer and
  `kfp-launcher` get allowPrivilegeEscalation false, drop ALL, runAsNonRoot and
  RuntimeDefault seccomp; the user's `main` container all of that except runAsNonRoot (its
  image may run as root), which comes from the author (kfp-kubernetes
  `set_security_context(task, run_as_non_root=True)`, applied by the driver, k8s.go line 724)
  or from the cluster-wide `pipeline-install-config` key `defaultSecurityContextRunAsNonRoot`.
  kubeflow/manifests 26.03 ships the `executor` securityContext restricted needs
  (applications/pipeline/upstream/third-party/argo/base/workflow-controller-configmap-patch.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KfpPodSecurity:
    blocker: str | None  # what keeps every run out of `restricted`, whatever the platform sets
    author: str  # what a pipeline author does for the user (`main`) container


AUTHOR_2_16 = (
    "a non-root image and kfp.kubernetes.set_security_context(task, run_as_non_root=True) "
    "on every task"
)
LAUNCHER_BLOCKER = (
    "the executor pod's `kfp-launcher` init container has no securityContext (kubeflow/"
    "pipelines {tag} backend/src/v2/compiler/argocompiler/container.go:{line})"
)
# What kfp-kubernetes 2.16's set_security_context(task, run_as_non_root=True) writes into a
# task's platform config (kubeflow/pipelines 2.16.0 kubernetes_platform/proto/
# kubernetes_executor_config.proto `security_context`); KFP 2.16's driver puts it on `main`.
# Older backends ignore it (their util.UnmarshalString discards unknown fields).
NON_ROOT_TASK: dict[str, dict[str, bool]] = {"securityContext": {"runAsNonRoot": True}}
BY_VERSION: dict[str, KfpPodSecurity] = {
    "2.5.0": KfpPodSecurity(
        LAUNCHER_BLOCKER.format(tag="2.5.0", line=383), "nothing that helps before KFP 2.16"
    ),
    "2.15.0": KfpPodSecurity(
        LAUNCHER_BLOCKER.format(tag="2.15.0", line=495), "nothing that helps before KFP 2.16"
    ),
    "2.16.0": KfpPodSecurity(None, AUTHOR_2_16),
}


def restricted(kfp_version: str) -> KfpPodSecurity:
    """The verified facts for `kfp_version` (every version the catalogue pins has an entry)."""
    if kfp_version not in BY_VERSION:
        raise KeyError(
            f"KFP {kfp_version}: not verified against Pod Security restricted; read its "
            "argocompiler at that tag and add it to mlplatform.kfp_pod_security.BY_VERSION"
        )
    return BY_VERSION[kfp_version]
