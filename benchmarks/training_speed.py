"""Measure training and evaluation speed side by side on this machine, and project the paper's protocol.

    python -m benchmarks.training_speed                 # CPU, and the GPU when there is one
    python -m benchmarks.training_speed --device cpu --repeats 5 --out results/benchmark.json

Training is timed on synthetic videos of SumMe's and TVSum's average lengths, for two loops run
alternately on the same weights and data:
  straightforward  the original's loop: the (1, 3, T, 1024) stack through every layer, Adam's
                   per-parameter loop, the loss read back after every step;
  this project     the loop train.py runs: the shared key embedding of the stacked copies, the fused
                   Adam kernel, a channels-last CNN on the CPU, no host synchronisation inside an epoch.
Both start from the same weights; the benchmark checks that one step from the same weights gives the
same loss and gradients to float rounding. Over many steps any two fp32 runs with different summation
orders drift apart, this project's loop against the original's as much as the original against itself
with another thread count: the original's own 1- and 2-thread runs (tests/fixtures/rng_parity.json)
differ by 1.5e-8 in the first loss, by more than 1e-3 from the 11th step and by up to 0.22 later in the
first three epochs (Adam's first updates are about lr times the sign of each gradient, so rounding-level
differences in near-zero gradients change whole updates). Throughput is given in GFLOP/s (counted by PyTorch's FLOP counter for one step) and as
a fraction of this machine's own fp32 matrix-multiply throughput.
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import evaluation  # noqa: E402
from benchmarks.machine import cpu_model  # noqa: E402
from config import Config  # noqa: E402
from model import build_model  # noqa: E402
from model.device import resolve_device  # noqa: E402
from storage.files import write_json_atomically  # noqa: E402
from training.distributed import BatchNormReplay, World  # noqa: E402
from training.report import table  # noqa: E402
from training.step import make_optimizer, place_model, train_step  # noqa: E402

#: Average steps per video (2 fps) of the eccv16 files: SumMe ~2.4 min, TVSum ~4.2 min per video.
SHAPES = {"SumMe": 290, "TVSum": 500}
#: Videos per split (train, test) and the paper's epochs.
SPLIT_SIZES = {"SumMe": (20, 5), "TVSum": (40, 10)}
EPOCHS, SPLITS = 100, 5


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_gflops(device: torch.device, size: int = 2048, repeats: int = 5) -> float:
    a, b = torch.rand(size, size, device=device), torch.rand(size, size, device=device)
    a @ b
    synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


class StraightforwardLoop:
    """The original's training step, as a reference for speed and for the losses."""

    def __init__(self, model: torch.nn.Module, config: Config):
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate,
                                          weight_decay=config.weight_decay, foreach=False)

    def step(self, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        stack = features[None].expand(3, -1, -1)[None]
        loss = torch.nn.functional.mse_loss(self.model(stack), target)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return torch.tensor(loss.item())


class ProjectLoop:
    """train.py's step itself (``training.step.train_step``): 2-D input, fused Adam, the loss kept on the device."""

    def __init__(self, model: torch.nn.Module, config: Config, amp: bool = False):
        self.model = model
        self.config = config.replace(amp=amp)
        self.optimizer = make_optimizer(model, self.config)
        self.world = World()
        self.replay = BatchNormReplay(model, self.world)

    def step(self, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return train_step(self.model, self.optimizer, [(features, target)], [0], range(1), config=self.config,
                          epoch=1, device=features.device, world=self.world, replay=self.replay,
                          per_video_rng=False)


def one_step_gradients(loop, features: torch.Tensor, target: torch.Tensor) -> tuple[float, dict]:
    """Loss and gradients of one step of ``loop`` (a fixed seed), leaving its weights unchanged."""
    torch.manual_seed(12345)
    loop.optimizer.zero_grad()
    stack = features if isinstance(loop, ProjectLoop) else features[None].expand(3, -1, -1)[None]
    loss = torch.nn.functional.mse_loss(loop.model(stack).float(), target)
    loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in loop.model.named_parameters() if p.grad is not None}
    loop.optimizer.zero_grad()
    return float(loss.detach()), grads


def agreement(candidate: tuple[float, dict], reference: tuple[float, dict]) -> tuple[float, float]:
    """|loss difference| and max |gradient difference| / max |gradient|."""
    (loss_a, grads_a), (loss_b, grads_b) = candidate, reference
    largest = max(float(g.abs().max()) for g in grads_b.values())
    difference = max(float((grads_a[name] - grads_b[name]).abs().max()) for name in grads_b)
    return abs(loss_a - loss_b), difference / largest


def step_flops(model: torch.nn.Module, features: torch.Tensor, target: torch.Tensor) -> int:
    probe = copy.deepcopy(model)
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.mse_loss(probe(features), target).backward()
    return counter.get_total_flops()


def time_training(device: torch.device, steps: int, repeats: int, amp: bool) -> dict:
    results = {}
    config = Config(pretrained=False)
    for dataset, length in SHAPES.items():
        torch.manual_seed(0)
        generator = torch.Generator().manual_seed(1)
        features = torch.rand(length, 1024, generator=generator).to(device)
        target = torch.rand(length, generator=generator).to(device)
        reference = build_model(config, pretrained=False).to(device).train()
        loops = {"straightforward": StraightforwardLoop(copy.deepcopy(reference), config),
                 "this project": ProjectLoop(place_model(copy.deepcopy(reference), device), config)}
        if amp:
            loops["this project, bf16"] = ProjectLoop(place_model(copy.deepcopy(reference), device), config,
                                                      amp=True)
        flops = step_flops(reference, features, target)
        reference_step = one_step_gradients(loops["straightforward"], features, target)
        agreements = {name: agreement(one_step_gradients(loop, features, target), reference_step)
                      for name, loop in loops.items()}
        threads = torch.get_num_threads()
        torch.set_num_threads(1)        # the scale of rounding: the same loop, its sums split differently
        rounding = agreement(one_step_gradients(StraightforwardLoop(copy.deepcopy(reference), config),
                                                features, target), reference_step)
        torch.set_num_threads(threads)
        times = {name: [] for name in loops}
        losses = {name: [] for name in loops}
        for name, loop in loops.items():                 # warm-up step, not timed
            torch.manual_seed(2)
            losses[name].append(float(loop.step(features, target)))
        for _ in range(repeats):
            for name, loop in loops.items():             # alternate, so that load on the machine hits all alike
                torch.manual_seed(3 + len(times[name]))
                synchronize(device)
                start = time.perf_counter()
                for _ in range(steps):
                    loss = loop.step(features, target)
                synchronize(device)
                times[name].append((time.perf_counter() - start) / steps)
                losses[name].append(float(loss))
        base = statistics.median(times["straightforward"])
        results[dataset] = {
            "steps_per_video": length, "gflop_per_step": flops / 1e9,
            "rounding_reference": {"loss_difference": rounding[0], "gradient_difference": rounding[1]},
            "loops": {name: {"seconds_per_step": statistics.median(t), "best_seconds_per_step": min(t),
                             "steps_per_second": 1 / statistics.median(t),
                             "gflops": flops / statistics.median(t) / 1e9,
                             "speedup": base / statistics.median(t),
                             "first_step_loss_difference": agreements[name][0],
                             "first_step_gradient_difference": agreements[name][1],
                             "losses": losses[name]}
                      for name, t in times.items()},
        }
    return results


def time_inference(device: torch.device, repeats: int) -> dict:
    model = place_model(build_model(Config(pretrained=False), pretrained=False), device).eval()
    out = {}
    for dataset, length in SHAPES.items():
        features = torch.rand(length, 1024, device=device)
        with torch.inference_mode():
            model(features)
            synchronize(device)
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                model(features)
                synchronize(device)
                samples.append(time.perf_counter() - start)
        out[dataset] = {"seconds_per_video": statistics.median(samples)}
    return out


def synthetic_video(dataset: str, rng: np.random.Generator) -> dict:
    steps = SHAPES[dataset]
    n_frames = steps * 15
    bounds = np.unique(np.r_[0, np.sort(rng.choice(np.arange(30, n_frames - 30), size=steps // 6, replace=False)),
                              n_frames])
    change_points = np.stack([bounds[:-1], bounds[1:] - 1], axis=1)
    users = (rng.random((20 if dataset == "TVSum" else 15, n_frames)) < 0.15).astype(np.float32)
    annotations = rng.integers(1, 6, size=(20, n_frames)).astype(np.float64)
    return {"change_points": change_points, "n_frames": n_frames, "picks": np.arange(steps) * 15,
            "user_summary": users, "annotations": annotations if dataset == "TVSum" else None}


def time_evaluation(repeats: int) -> dict:
    """evaluate_video calls per second on synthetic videos of each dataset's average length."""
    rng = np.random.default_rng(0)
    out = {}
    for dataset in SHAPES:
        videos = [synthetic_video(dataset, rng) for _ in range(5)]
        scores = [rng.random(SHAPES[dataset]) for _ in videos]
        for video, s in zip(videos, scores):        # first call prepares the annotations
            evaluation.evaluate_video(dataset, s, **video)
        start = time.perf_counter()
        for _ in range(repeats):
            for video, s in zip(videos, scores):
                evaluation.evaluate_video(dataset, s, **video)
        elapsed = (time.perf_counter() - start) / (repeats * len(videos))
        out[dataset] = {"seconds_per_video": elapsed, "videos_per_second": 1 / elapsed}
    return out


def project_protocol(training: dict, inference: dict, evaluation_times: dict, loop: str) -> dict:
    """2 datasets x 5 splits x 100 epochs: train steps, test forwards and metrics, one split after another."""
    per_dataset = {}
    for dataset, (n_train, n_test) in SPLIT_SIZES.items():
        step = training[dataset]["loops"][loop]["seconds_per_step"]
        epoch = n_train * step + n_test * (inference[dataset]["seconds_per_video"]
                                           + evaluation_times[dataset]["seconds_per_video"])
        per_dataset[dataset] = epoch * EPOCHS * SPLITS
    return {"seconds": sum(per_dataset.values()), "per_dataset_seconds": per_dataset}


def describe_machine(device: torch.device) -> dict:
    info = {"device": str(device), "torch": torch.__version__, "python": platform.python_version(),
            "threads": torch.get_num_threads(), "processor": cpu_model()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def run(device: torch.device, steps: int, repeats: int) -> dict:
    amp = device.type == "cuda"
    result = {"machine": describe_machine(device), "matmul_gflops": matmul_gflops(device)}
    result["training"] = time_training(device, steps, repeats, amp)
    result["inference"] = time_inference(device, repeats)
    result["evaluation"] = time_evaluation(repeats)
    result["protocol"] = {loop: project_protocol(result["training"], result["inference"], result["evaluation"], loop)
                          for loop in result["training"]["SumMe"]["loops"]}
    return result


def print_report(result: dict) -> None:
    machine = result["machine"]
    print(f"\n{machine['device']} — {machine.get('gpu', machine['processor'])}, {machine['threads']} threads, "
          f"torch {machine['torch']}; fp32 matmul {result['matmul_gflops']:.1f} GFLOP/s")
    rows = []
    for dataset, data in result["training"].items():
        for name, loop in data["loops"].items():
            rows.append((f"{dataset} (T={data['steps_per_video']})", name, f"{loop['seconds_per_step'] * 1000:.0f}",
                         f"{loop['steps_per_second']:.2f}", f"{loop['gflops']:.1f}",
                         f"{loop['gflops'] / result['matmul_gflops']:.2f}", f"{loop['speedup']:.2f}x",
                         f"{loop['first_step_loss_difference']:.1e}",
                         f"{loop['first_step_gradient_difference']:.1e}"))
    print(table(("training step", "loop", "ms/step", "steps/s", "GFLOP/s", "of matmul", "speed-up", "|dloss|",
                 "|dgrad|/max"), rows))
    print("|dloss|, |dgrad|/max: one step from the same weights and seed, against the straightforward loop.")
    for dataset, data in result["training"].items():
        ref = data["rounding_reference"]
        print(f"  rounding scale ({dataset}): the straightforward loop on 1 thread instead of "
              f"{machine['threads']}: |dloss| {ref['loss_difference']:.1e}, |dgrad|/max {ref['gradient_difference']:.1e}")
    rows = [(dataset, f"{result['inference'][dataset]['seconds_per_video'] * 1000:.0f}",
             f"{result['evaluation'][dataset]['seconds_per_video'] * 1000:.2f}",
             f"{result['evaluation'][dataset]['videos_per_second']:.0f}") for dataset in SHAPES]
    print()
    print(table(("evaluation", "model forward ms/video", "metrics ms/video", "metrics videos/s"), rows))
    rows = [(loop, f"{p['seconds'] / 3600:.2f} h", f"{p['per_dataset_seconds']['SumMe'] / 60:.0f} min",
             f"{p['per_dataset_seconds']['TVSum'] / 60:.0f} min") for loop, p in result["protocol"].items()]
    print()
    print(table(("full protocol, one split at a time", "total", "SumMe", "TVSum"), rows,
                title="Projected: 2 datasets x 5 splits x 100 epochs"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda", "all"), default="all",
                        help="'all': the CPU, and the GPU when there is one")
    parser.add_argument("--steps", type=int, default=1, help="training steps per timed sample")
    parser.add_argument("--repeats", type=int, default=3, help="timed samples per loop (median reported)")
    parser.add_argument("--lengths", type=int, nargs=2, metavar=("SUMME", "TVSUM"),
                        default=(SHAPES["SumMe"], SHAPES["TVSum"]), help="steps per synthetic video")
    parser.add_argument("--out", type=Path, default=Path("results") / "benchmark.json")
    args = parser.parse_args(argv)
    SHAPES.update(SumMe=args.lengths[0], TVSum=args.lengths[1])
    present = resolve_device("auto")
    devices = {"cpu": ["cpu"], "cuda": ["cuda"], "auto": [present.type],
               "all": ["cpu"] + (["cuda"] if present.type == "cuda" else [])}[args.device]
    results = {}
    for name in devices:
        results[name] = run(resolve_device(name), args.steps, args.repeats)
        print_report(results[name])
    write_json_atomically(args.out, {"command": " ".join(["python", "-m", "benchmarks.training_speed",
                                                          *sys.argv[1:]]),
                                     "results": results})
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
