"""Training config: Training Operator v1 (PyTorchJob) and Trainer v2 (TrainJob)."""

from __future__ import annotations

from pydantic import Field

from mlplatform import releases
from mlplatform.config.base import Model, ResourceList, Resources


class Training(Model):
    operator: bool = Field(True, description="Training Operator v1 (PyTorchJob), every release")
    trainer: bool | None = Field(
        None, description="Trainer v2 (TrainJob); default: on where the release ships it"
    )
    # Trainer's controller manager has no requests or limits upstream (chart values.yaml
    # `manager.resources: {}`); JobSet's defaults are the subchart's own (jobset 0.10.1).
    trainer_resources: Resources = Resources()
    jobset_resources: Resources = Resources(
        requests=ResourceList(cpu="500m", memory="128Mi"),
        limits=ResourceList(cpu="2", memory="4Gi"),
    )

    def trainer_on(self, release: str) -> bool:
        """Whether Trainer v2 is deployed for `release` (explicit setting, else the catalogue)."""
        return releases.load(release).has("trainer") if self.trainer is None else self.trainer

    def release_problem(self, release: str) -> str | None:
        """Why this config cannot run on `release`, or None."""
        if self.trainer and not releases.load(release).has("trainer"):
            with_trainer = [r for r in releases.available() if releases.load(r).has("trainer")]
            return (
                f"components.training.trainer: release {release} does not ship Trainer v2 "
                f"(TrainJob); releases with it: {', '.join(with_trainer)}. Set trainer: false "
                "or choose one of those releases"
            )
        return None
