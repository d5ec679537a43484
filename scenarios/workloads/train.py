"""Distributed CPU training payload (gloo) for the PyTorchJob and TrainJob scenarios.

    torchrun --nproc-per-node 2 -m mlplatform.scenarios.workloads.train --output-dir /tmp/out
    python -m mlplatform.scenarios.workloads.train --output-dir /tmp/out   # a PyTorchJob replica

Trains a small MLP on deterministic synthetic regression data until the global loss is
below --target-loss. Rank 0 writes model.pt (state_dict) and metrics.json and prints one
`MLPLATFORM_METRICS {...}` line. Exit codes: 0 target reached, 1 target missed,
2 bad launcher environment, FAIL_EXIT_CODE for an injected --fail-rank failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from mlplatform.scenarios.workloads.distenv import DistEnv, EnvContractError, format_metrics

FEATURES = 8
FAIL_EXIT_CODE = 17


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output-dir", type=Path, required=True)
    p.add_argument("--target-loss", type=float, default=0.05)
    p.add_argument("--max-epochs", type=int, default=40)
    p.add_argument("--samples", type=int, default=4096)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    p.add_argument("--timeout-s", type=float, default=60.0, help="rendezvous and collectives")
    p.add_argument("--fail-rank", type=int, default=None, help="test hook: rank that dies")
    return p.parse_args(argv)


def synthetic_dataset(samples: int, seed: int) -> TensorDataset:
    """Same tensors on every rank: the sampler, not the data, differs per rank."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, FEATURES, generator=g)
    w = torch.randn(FEATURES, 1, generator=g)
    y = x @ w + 0.5 * torch.tanh(3 * x[:, :1]) + 0.05 * torch.randn(samples, 1, generator=g)
    return TensorDataset(x, y)


def build_model() -> nn.Module:
    return nn.Sequential(nn.Linear(FEATURES, 32), nn.ReLU(), nn.Linear(32, 1))


def _global_mean(loss_sum: float, count: int) -> float:
    t = torch.tensor([loss_sum, float(count)], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t[0] / t[1])


def train(args: argparse.Namespace, env: DistEnv) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Run the loop in an initialised process group; returns metrics and the state_dict."""
    torch.manual_seed(args.seed)
    data = synthetic_dataset(args.samples, args.seed)
    sampler = DistributedSampler(
        data, num_replicas=env.world_size, rank=env.rank, shuffle=True, seed=args.seed
    )
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler)
    model = DistributedDataParallel(build_model())
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.MSELoss()

    start, seen, loss, epoch = time.monotonic(), 0, float("inf"), 0
    while epoch < args.max_epochs and loss >= args.target_loss:
        sampler.set_epoch(epoch)
        loss_sum, count = 0.0, 0
        for step, (x, y) in enumerate(loader):
            if env.rank == args.fail_rank and step == 2:
                print(f"rank {env.rank}: injected failure", file=sys.stderr, flush=True)
                sys.exit(FAIL_EXIT_CODE)
            opt.zero_grad()
            batch_loss = loss_fn(model(x), y)
            batch_loss.backward()
            opt.step()
            loss_sum += batch_loss.item() * len(x)
            count += len(x)
        loss = _global_mean(loss_sum, count)
        seen += count * env.world_size  # sampler pads ranks to equal length
        epoch += 1
        if env.rank == 0:
            print(f"epoch {epoch} loss {loss:.5f}", flush=True)
    duration = time.monotonic() - start
    metrics = {
        "final_loss": loss,
        "target_loss": args.target_loss,
        "reached_target": loss < args.target_loss,
        "epochs": epoch,
        "world_size": env.world_size,
        "duration_s": round(duration, 3),
        "samples_per_s": round(seen / duration, 1) if duration > 0 else 0.0,
    }
    return metrics, model.module.state_dict()


def write_outputs(output_dir: Path, metrics: dict[str, Any], state: dict[str, Any]) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    torch.save(state, output_dir / "model.pt")
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        env = DistEnv.from_env(os.environ)
    except EnvContractError as e:
        print(f"train: bad launcher environment: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://{env.master_addr}:{env.master_port}",
        rank=env.rank,
        world_size=env.world_size,
        timeout=timedelta(seconds=args.timeout_s),  # also bounds every collective
    )
    try:
        metrics, state = train(args, env)
    finally:
        dist.destroy_process_group()
    if env.rank == 0:
        write_outputs(args.output_dir, metrics, state)
        print(format_metrics(metrics), flush=True)
    return 0 if metrics["reached_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
