"""Shared fixtures: tiny generated datasets under the eccv16 file names, and one finished training run."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import dataset as eccv16
import demo.eccv16 as demo_data

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Several test processes share the cores: one thread each (and in the commands they start) keeps them
    # from oversubscribing the machine. Tests that compare thread counts set theirs explicitly.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)


def pytest_addoption(parser):
    parser.addoption("--all", action="store_true", dest="all_tiers", default=False,
                     help="run the slow tier too: the tests marked slow (see the markers in pyproject.toml)")


def pytest_configure(config):
    config.slow_tier_left_out = 0


def _named_explicitly(item, config) -> bool:
    """The test (or all its parameters) was named on the command line as PATH::NAME."""
    for argument in config.args:
        path, _, name = argument.partition("::")
        if name and Path(path).resolve() == item.path and name in (item.name, getattr(item, "originalname", None)):
            return True
    return False


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Without --all, leave out the slow tier, unless nothing else is selected or the test is named as
    PATH::NAME (so that a run never ends with "no tests ran")."""
    if config.getoption("all_tiers"):
        return
    slow = [item for item in items if item.get_closest_marker("slow") and not _named_explicitly(item, config)]
    if not slow or len(slow) == len(items):
        return
    left_out = set(slow)
    config.hook.pytest_deselected(items=slow)
    items[:] = [item for item in items if item not in left_out]
    config.slow_tier_left_out = len(slow)
    if hasattr(config, "workeroutput"):                 # a pytest-xdist worker: tell the controller
        config.workeroutput["slow_tier_left_out"] = len(slow)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    node.config.slow_tier_left_out = max(node.config.slow_tier_left_out,
                                         getattr(node, "workeroutput", {}).get("slow_tier_left_out", 0))


def pytest_terminal_summary(terminalreporter, config):
    if config.slow_tier_left_out and not hasattr(config, "workeroutput"):
        terminalreporter.write_line(f"{config.slow_tier_left_out} slow tests not run (the slow tier); "
                                    f"`pytest -q --all` runs every test")


#: Small enough that a split trains for an epoch in about a second on one CPU thread (4 training
#: videos and 1 test video per split), large enough for the 5 splits of the eccv16 layout.
TINY_DATA = {"n_videos": 5, "min_steps": 15, "max_steps": 18}


@dataclass(frozen=True)
class Eccv16Dirs:
    """A data folder and a splits folder laid out as train.py and inference.py expect them by default."""

    data_dir: Path
    splits_dir: Path

    def flags(self) -> list[str]:
        return ["--data-dir", str(self.data_dir), "--splits-dir", str(self.splits_dir)]

    def h5_path(self, dataset: str) -> Path:
        return eccv16.default_h5_path(dataset, self.data_dir)

    def splits_path(self, dataset: str) -> Path:
        return eccv16.splits_path(dataset, self.splits_dir)

    def annotations_path(self, dataset: str) -> Path | None:
        return self.data_dir / "ydata-anno.tsv" if dataset == "TVSum" else None

    def spec(self, dataset: str):
        """The dataset as train.py describes it from these folders."""
        import catalog

        return catalog.builtin(dataset, data_dir=self.data_dir, splits_dir=self.splits_dir,
                               annotations_path=self.annotations_path(dataset))


def write_eccv16_dirs(root: Path) -> Eccv16Dirs:
    """Generate the demo data and copy it to the standard names (eccv16_dataset_*.h5, *_splits.txt, ydata-anno.tsv)."""
    generated = demo_data.make_demo_dataset(root / "generated", **TINY_DATA)
    dirs = Eccv16Dirs(data_dir=root / "data", splits_dir=root / "data" / "splits")
    dirs.splits_dir.mkdir(parents=True)
    for name in ("SumMe", "TVSum"):
        shutil.copyfile(generated.h5_path(name), dirs.h5_path(name))
        shutil.copyfile(generated.splits_path(name), dirs.splits_path(name))
    shutil.copyfile(generated.annotations_path("TVSum"), dirs.annotations_path("TVSum"))
    return dirs


@contextlib.contextmanager
def torch_state_restored(threads: int = 1):
    """Run with ``threads`` CPU threads; restore the thread count and the deterministic switch afterwards
    (training sets ``torch.use_deterministic_algorithms`` process-wide)."""
    saved_threads, saved_deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved_threads)
        torch.use_deterministic_algorithms(saved_deterministic)


@pytest.fixture
def isolated_torch_state():
    with torch_state_restored():
        yield


@pytest.fixture(scope="session")
def eccv16_dirs(tmp_path_factory) -> Eccv16Dirs:
    return write_eccv16_dirs(tmp_path_factory.mktemp("eccv16"))


@dataclass(frozen=True)
class FinishedRun:
    """``train.py`` run to completion on both datasets, split 1, 2 epochs; treat its folders as read-only."""

    dirs: Eccv16Dirs
    weights_dir: Path
    results_dir: Path
    options: tuple[str, ...]       #: the training options (without the folders)
    stdout: str

    def argv(self, weights_dir: Path | None = None, results_dir: Path | None = None) -> list[str]:
        return [*self.dirs.flags(), "--weights-dir", str(weights_dir or self.weights_dir),
                "--results-dir", str(results_dir or self.results_dir), *self.options]

    def copy_to(self, root: Path) -> tuple[Path, Path]:
        """Copies of the weights and results folders under ``root``, for tests that change them."""
        weights, results = root / "weights", root / "results"
        shutil.copytree(self.weights_dir, weights)
        shutil.copytree(self.results_dir, results)
        return weights, results


@pytest.fixture(scope="session")
def finished_run(eccv16_dirs, tmp_path_factory) -> FinishedRun:
    import train

    root = tmp_path_factory.mktemp("finished_run")
    options = ("--no-pretrained", "--epochs", "2", "--splits", "1", "--device", "cpu", "--quiet")
    run = FinishedRun(eccv16_dirs, root / "weights", root / "results", options, stdout="")
    output = io.StringIO()
    with torch_state_restored(), contextlib.redirect_stdout(output):
        status = train.main(run.argv())
    assert status == 0, output.getvalue()
    return FinishedRun(eccv16_dirs, run.weights_dir, run.results_dir, options, stdout=output.getvalue())


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """A CSTA state dict of the paper's model with random weights (seed 0), without a record beside it."""
    from config import Config
    from model import build_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "csta.pt"
    torch.save(build_model(Config(), pretrained=False).state_dict(), path)
    return path
