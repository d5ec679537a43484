"""The distributed training payload under torchrun and under Training Operator-style env."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlplatform.scenarios.workloads.distenv import (
    DistEnv,
    EnvContractError,
    format_metrics,
    parse_metrics,
)
from tests.workloads.helpers import REPO, clean_env, free_port

pytestmark = pytest.mark.workloads

TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]
TRAIN = ["-m", "mlplatform.scenarios.workloads.train"]
TARGET = 0.02


def run(cmd: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def assert_trained(out: Path, stdout: str, world_size: int = 2) -> None:
    line = parse_metrics(stdout)
    assert line is not None, stdout
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == line
    assert saved["reached_target"] and saved["final_loss"] < TARGET
    assert saved["world_size"] == world_size and saved["epochs"] >= 1
    assert saved["samples_per_s"] > 0 and saved["duration_s"] > 0
    import torch

    state = torch.load(out / "model.pt", weights_only=True)
    assert {k.split(".")[-1] for k in state} == {"weight", "bias"}


def test_torchrun_two_ranks(tmp_path: Path) -> None:
    cmd = [
        *TORCHRUN,
        "--standalone",
        "--nproc-per-node",
        "2",
        *TRAIN,
        "--output-dir",
        str(tmp_path),
        "--target-loss",
        str(TARGET),
    ]
    proc = run(cmd, clean_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_trained(tmp_path, proc.stdout)


def test_trainjob_style_torchrun_reads_pet_env(tmp_path: Path) -> None:
    # Trainer v2 starts bare `torchrun`; its arguments arrive as PET_* variables.
    env = clean_env(
        PET_NNODES="1",
        PET_NPROC_PER_NODE="2",
        PET_NODE_RANK="0",
        PET_MASTER_ADDR="127.0.0.1",
        PET_MASTER_PORT=str(free_port()),
    )
    proc = run(
        [*TORCHRUN, *TRAIN, "--output-dir", str(tmp_path), "--target-loss", str(TARGET)], env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_trained(tmp_path, proc.stdout)


def launch_pytorchjob(
    out: Path, *args: str, world_size: int = 2, ranks: tuple[int, ...] = (0, 1)
) -> list[subprocess.Popen]:
    """One plain process per replica, with the env the Training Operator injects."""
    port = str(free_port())
    procs = []
    for rank in ranks:
        env = clean_env(
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=port,
            WORLD_SIZE=str(world_size),
            RANK=str(rank),
            PET_NNODES=str(world_size),
            PET_NPROC_PER_NODE="1",
            PET_NODE_RANK=str(rank),
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, *TRAIN, "--output-dir", str(out), *args],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return procs


def finish(procs: list[subprocess.Popen], timeout: float) -> list[tuple[int, str, str]]:
    try:
        outputs = [p.communicate(timeout=timeout) for p in procs]
        return [(p.returncode, out, err) for p, (out, err) in zip(procs, outputs, strict=True)]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def test_pytorchjob_style_replicas(tmp_path: Path) -> None:
    (rc0, out0, err0), (rc1, out1, _) = finish(
        launch_pytorchjob(tmp_path, "--target-loss", str(TARGET)), timeout=60
    )
    assert (rc0, rc1) == (0, 0), err0[-3000:]
    assert_trained(tmp_path, out0)
    assert parse_metrics(out1) is None  # only rank 0 reports


def test_failing_rank_fails_the_run_fast(tmp_path: Path) -> None:
    start = time.monotonic()
    results = finish(
        launch_pytorchjob(tmp_path, "--fail-rank", "1", "--timeout-s", "20", "--target-loss", "0"),
        timeout=45,
    )
    rc0, rc1 = results[0][0], results[1][0]
    assert rc1 == 17 and "injected failure" in results[1][2]
    assert rc0 != 0  # the survivor notices instead of hanging
    assert time.monotonic() - start < 30
    assert not (tmp_path / "metrics.json").exists()


def test_missing_rank_times_out_rendezvous(tmp_path: Path) -> None:
    start = time.monotonic()
    ((rc, _, err),) = finish(
        launch_pytorchjob(tmp_path, "--timeout-s", "3", ranks=(0,)), timeout=30
    )
    assert rc != 0 and "1/2 clients joined" in err
    assert time.monotonic() - start < 20


def test_bad_launcher_env_is_named(tmp_path: Path) -> None:
    env = clean_env(MASTER_ADDR="127.0.0.1", MASTER_PORT="29500", WORLD_SIZE="abc", RANK="0")
    proc = run([sys.executable, *TRAIN, "--output-dir", str(tmp_path)], env, timeout=30)
    assert proc.returncode == 2
    assert "WORLD_SIZE='abc' is not an integer" in proc.stderr


BASE = {"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "job-master-0", "MASTER_PORT": "23456"}


def test_distenv_parses_operator_env() -> None:
    env = DistEnv.from_env(
        {**BASE, "PET_NNODES": "2", "PET_NPROC_PER_NODE": "1", "PET_NODE_RANK": "1"}
    )
    assert env == DistEnv(
        rank=1,
        world_size=2,
        local_rank=0,
        master_addr="job-master-0",
        master_port=23456,
        nnodes=2,
        nproc_per_node=1,
        node_rank=1,
    )


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"WORLD_SIZE": None}, "WORLD_SIZE is not set"),
        ({"RANK": "x"}, "RANK='x' is not an integer"),
        ({"RANK": "2"}, "RANK=2 must be < WORLD_SIZE=2"),
        ({"WORLD_SIZE": "0"}, "WORLD_SIZE=0 must be >= 1"),
        ({"MASTER_ADDR": " "}, "MASTER_ADDR is not set"),
        ({"MASTER_PORT": "70000"}, "MASTER_PORT=70000 is not a TCP port"),
        ({"PET_NNODES": "2", "PET_NODE_RANK": "2"}, "PET_NODE_RANK=2 must be < PET_NNODES=2"),
        ({"PET_NNODES": "3:1"}, "PET_NNODES='3:1' is not N or MIN:MAX"),
        ({"PET_NPROC_PER_NODE": "lots"}, "PET_NPROC_PER_NODE='lots' is not a count"),
    ],
)
def test_distenv_rejects(patch: dict[str, str | None], message: str) -> None:
    env = {k: v for k, v in {**BASE, **patch}.items() if v is not None}
    with pytest.raises(EnvContractError, match=message.replace("(", r"\(")):
        DistEnv.from_env(env)


def test_distenv_accepts_elastic_nnodes_and_nproc_keywords() -> None:
    env = DistEnv.from_env({**BASE, "PET_NNODES": "1:3", "PET_NPROC_PER_NODE": "auto"})
    assert (env.nnodes, env.nproc_per_node) == (3, "auto")


def test_metrics_line_round_trip_through_prefixed_logs() -> None:
    log = "epoch 1\n[rank0]: " + format_metrics({"final_loss": 0.01}) + "\nbye\n"
    assert parse_metrics(log) == {"final_loss": 0.01}
    assert parse_metrics("no metrics here") is None
