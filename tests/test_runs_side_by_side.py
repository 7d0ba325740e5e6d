"""Runs that meet: a second train.py into the same folders refuses, a killed run leaves whole files,
and --resume continues a split from its last finished epoch to the same weights as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def train_command(dirs, root: Path, *extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "train.py"), *dirs.flags(), "--weights-dir", str(root / "weights"),
            "--results-dir", str(root / "results"), "--no-pretrained", "--device", "cpu", "--quiet",
            "--datasets", "SumMe", "--splits", "1", "--deterministic", *extra]


def environment() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


def wait_for(condition, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the run ended before the condition held: {process.stderr.read()}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("timed out waiting for the run")
        time.sleep(0.05)


def progress_epoch(path: Path) -> int:
    """The epoch a progress file continues after (0 when there is none yet); it is replaced whole, never
    written in place, so it can be read while the run goes on."""
    if not path.exists():
        return 0
    try:
        return int(torch.load(path, weights_only=True)["epoch"])
    except FileNotFoundError:                        # replaced between the check and the read
        return 0


def log_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_second_run_into_the_same_folder_refuses_and_a_killed_run_leaves_no_lock(eccv16_dirs, tmp_path):
    first = subprocess.Popen(train_command(eccv16_dirs, tmp_path, "--epochs", "200"), env=environment(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        lock = tmp_path / "weights" / ".train.SumMe.split1.lock"
        wait_for(lambda: lock.exists() and str(first.pid) in lock.read_text(), first)
        second = subprocess.run(train_command(eccv16_dirs, tmp_path, "--epochs", "1"), env=environment(),
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        message = second.stderr.strip()
        assert len(message.splitlines()) == 1 and "Traceback" not in message
        assert message.startswith(f"error: {tmp_path / 'weights'}: another training run is writing here")
        assert f"pid {first.pid}" in message
        assert first.poll() is None                                   # the first run goes on
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    third = subprocess.run(train_command(eccv16_dirs, tmp_path, "--epochs", "1"), env=environment(),
                           capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr


def final_state(root: Path) -> dict[str, torch.Tensor]:
    return torch.load(root / "weights" / "SumMe" / "split1.pt")


@pytest.fixture(scope="module")
def uninterrupted(eccv16_dirs, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("uninterrupted")
    done = subprocess.run(train_command(eccv16_dirs, root, "--epochs", "6"), env=environment(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return root


def test_a_killed_run_leaves_whole_log_lines_and_resumes_to_bit_identical_weights(eccv16_dirs, tmp_path,
                                                                                  uninterrupted):
    log = tmp_path / "results" / "SumMe_split1.jsonl"
    progress = tmp_path / "weights" / "SumMe" / "split1.progress.pt"
    run = subprocess.Popen(train_command(eccv16_dirs, tmp_path, "--epochs", "6"), env=environment(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: len(log_lines(log)) >= 3 and progress_epoch(progress) >= 3, run)
    run.send_signal(signal.SIGKILL)
    run.wait()

    lines = log_lines(log)                              # every line whole: json.loads would fail otherwise
    assert 3 <= len(lines) < 6 and [line["epoch"] for line in lines] == list(range(1, len(lines) + 1))
    assert not (tmp_path / "weights" / "SumMe" / "split1.pt").exists()

    resumed = subprocess.run(train_command(eccv16_dirs, tmp_path, "--epochs", "6", "--resume"), env=environment(),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    expected, got = final_state(uninterrupted), final_state(tmp_path)
    assert set(expected) == set(got)
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    record = json.loads((tmp_path / "weights" / "SumMe" / "split1.json").read_text())
    reference = json.loads((uninterrupted / "weights" / "SumMe" / "split1.json").read_text())
    assert record["metrics"] == reference["metrics"] and record["resumed_from_epoch"] >= 3
    assert [line["order"] for line in log_lines(log)] == \
        [line["order"] for line in log_lines(uninterrupted / "results" / "SumMe_split1.jsonl")]
    assert not progress.exists()
    # a progress file being written when the run was killed leaves a temporary; the resumed run removes it
    assert not [p for p in (tmp_path / "weights" / "SumMe").iterdir() if p.name.endswith(".tmp")]
