"""Two gloo ranks on the CPU train to the same weights as one process with the same group of videos."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from config import Config
from training import load_bundle, train_split
from model import build_model
from training.distributed import BatchNormReplay, World
from training.loop import VideoSource, group_gradients

from tests.conftest import torch_state_restored

pytestmark = pytest.mark.slow

CPU = torch.device("cpu")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_config(videos_per_step: int) -> Config:
    return Config(pretrained=False, device="cpu", epochs=1, videos_per_step=videos_per_step, per_video_rng=True,
                  selection="last", deterministic=True)


def one_group(spec, group_size: int, world: World) -> dict[str, dict[str, torch.Tensor]]:
    """The gradients of the first group of split 1's training videos and the BatchNorm statistics after it."""
    config = run_config(group_size)
    torch.manual_seed(config.seed)
    model = build_model(config, pretrained=False).train()
    source = VideoSource(load_bundle(spec).split(1).train, CPU, in_memory=True)
    replay = BatchNormReplay(model, world)
    group_gradients(model, source, list(range(len(source))), range(group_size), config=config, epoch=1,
                    device=CPU, world=world, replay=replay, per_video_rng=True)
    replay.close()
    return {"grad": {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None},
            "stats": {n: b.clone() for n, b in model.named_buffers() if "running" in n}}


def _rank(rank: int, size: int, port: int, spec, jobs: list[tuple[str, int]], out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=size)
    try:
        world = World(rank=rank, size=size, backend="gloo")
        results = {}
        for what, videos_per_step in jobs:
            if what == "group":
                results[what, videos_per_step] = one_group(spec, videos_per_step, world)
            else:
                outcome = train_split(run_config(videos_per_step), load_bundle(spec), 1, device=CPU, progress=False,
                                      world=world)
                results[what, videos_per_step] = {"state": outcome.best_state, "log": outcome.log}
        torch.save(results, f"{out}.rank{rank}")
    finally:
        dist.destroy_process_group()


#: Every case the tests below compare, run in one group of 2 ranks (each spawned rank imports torch anew).
DISTRIBUTED_CASES = [("group", 3), ("group", 4), ("group", 1), ("train", 3), ("train", 2)]


@pytest.fixture(scope="module")
def distributed_results(eccv16_dirs, tmp_path_factory) -> dict[tuple[str, int], list[dict]]:
    """``{(what, videos per step): [rank 0's result, rank 1's]}``."""
    size, out = 2, str(tmp_path_factory.mktemp("distributed") / "result")
    mp.start_processes(_rank, args=(size, free_port(), eccv16_dirs.spec("SumMe"), DISTRIBUTED_CASES, out),
                       nprocs=size, join=True, start_method="spawn")
    ranks = [torch.load(f"{out}.rank{rank}") for rank in range(size)]
    return {case: [rank[case] for rank in ranks] for case in DISTRIBUTED_CASES}


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / a.double().abs().max().clamp_min(1e-30))


@pytest.mark.parametrize("group_size", [3, 4, 1])
def test_a_group_split_over_two_ranks_gives_the_gradient_and_statistics_of_one_process(eccv16_dirs,
                                                                                       distributed_results,
                                                                                       group_size):
    """Groups of 3 (odd: one rank trains 2 videos, the other 1), 4 (even) and 1 (one rank idle)."""
    spec = eccv16_dirs.spec("SumMe")
    ranks = distributed_results["group", group_size]
    with torch_state_restored(threads=1):
        single = one_group(spec, group_size, World())
    for rank in ranks:
        assert set(rank["grad"]) == set(single["grad"])
        worst = max(relative_difference(single["grad"][n], rank["grad"][n]) for n in single["grad"])
        print(f"group {group_size}: gradients max relative difference {worst:.2g}")
        assert worst < 1e-4, worst
        stats = max(relative_difference(single["stats"][n], rank["stats"][n]) for n in single["stats"])
        print(f"group {group_size}: BatchNorm statistics max relative difference {stats:.2g}")
        assert stats < 1e-5, stats


def single_run(spec, videos_per_step: int, threads: int) -> dict:
    with torch_state_restored(threads=threads):
        outcome = train_split(run_config(videos_per_step), load_bundle(spec), 1, device=CPU, progress=False)
    return {"state": outcome.best_state, "log": outcome.log}


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """Largest absolute difference of any weight or statistic."""
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point())


@pytest.mark.parametrize("videos_per_step", [3, 2])
def test_two_ranks_give_the_weights_of_one_process(eccv16_dirs, distributed_results, videos_per_step):
    """4 training videos: groups of 3 (not divisible by 2, then a last group of 1) and of 2."""
    spec = eccv16_dirs.spec("SumMe")
    ranks = distributed_results["train", videos_per_step]
    one_thread, two_threads = single_run(spec, videos_per_step, 1), single_run(spec, videos_per_step, 2)

    # Both ranks end with the same weights (they take the same steps) ...
    assert max_difference(ranks[0]["state"], ranks[1]["state"]) == 0.0
    # ... the ones one process computes, within what a change of summation order causes in one process
    # alone (1 against 2 threads), measured here the same way. Both are about lr per Adam step: Adam
    # divides by sqrt(v), so a parameter whose gradient is zero but for rounding (CLS, BatchNorm biases
    # at their initial 0) takes +-lr steps whose signs follow the rounding.
    rounding = max_difference(one_thread["state"], two_threads["state"])
    difference = max_difference(ranks[0]["state"], one_thread["state"])
    print(f"group {videos_per_step}: max |dw| 2 ranks vs 1 process {difference:.3g}; "
          f"1 vs 2 threads {rounding:.3g}")
    assert difference <= max(10 * rounding, 1e-6)
    assert [line["order"] for line in ranks[0]["log"]] == [line["order"] for line in one_thread["log"]]
    loss_rounding = abs(one_thread["log"][0]["loss"] - two_threads["log"][0]["loss"])
    assert abs(ranks[0]["log"][0]["loss"] - one_thread["log"][0]["loss"]) <= max(10 * loss_rounding, 1e-6)
