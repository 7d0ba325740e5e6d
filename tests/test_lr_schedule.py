"""--lr-schedule: the original's constant rate by default, or cosine; recorded, fingerprinted and resumable."""

from __future__ import annotations

import math

import pytest
import torch

from config import Config
from storage.checkpoints import training_fingerprint
from training import load_bundle, train_split
from training.loop import make_schedule

from tests.conftest import torch_state_restored

pytestmark = [pytest.mark.usefixtures("isolated_torch_state"),
              pytest.mark.filterwarnings("ignore::evaluation.UndefinedCorrelationWarning")]
CPU = torch.device("cpu")


def config(**changes) -> Config:
    return Config(pretrained=False, device="cpu", epochs=4, datasets=("SumMe",), splits=(1,), deterministic=True,
                  **changes)


def test_the_default_is_the_original_constant_rate():
    assert Config().lr_schedule == "none"
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    assert make_schedule(optimizer, Config()) is None


def test_cosine_anneals_to_zero_over_the_epochs():
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    schedule = make_schedule(optimizer, Config(lr_schedule="cosine", epochs=4))
    rates = []
    for _ in range(4):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates == pytest.approx([1e-3 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)])


def test_the_schedule_is_fingerprinted_and_refused_when_unknown():
    assert training_fingerprint(config(lr_schedule="cosine")) != training_fingerprint(config())
    assert training_fingerprint(config())["lr_schedule"] == "none"
    with pytest.raises(ValueError, match="lr_schedule: 'linear' is not one of 'none', 'cosine'"):
        config(lr_schedule="linear")


@pytest.mark.slow
def test_a_resumed_cosine_run_gives_the_weights_of_an_uninterrupted_one(eccv16_dirs, tmp_path):
    bundle = load_bundle(eccv16_dirs.spec("SumMe"))
    cosine = config(lr_schedule="cosine")
    with torch_state_restored(threads=1):
        whole = train_split(cosine, bundle, 1, device=CPU, progress=False)
        path = tmp_path / "split1.progress.pt"
        train_split(cosine, bundle, 1, device=CPU, progress=False, progress_path=path, stop_after=2)
        assert "schedule" in torch.load(path, weights_only=True)
        resumed = train_split(cosine, bundle, 1, device=CPU, progress=False, progress_path=path, resume=True)
        constant = train_split(config(), bundle, 1, device=CPU, progress=False)
    assert resumed.resumed_from == 3
    assert all(torch.equal(whole.best_state[k], resumed.best_state[k]) for k in whole.best_state)
    assert [m.loss for m in whole.history] == [m.loss for m in resumed.history]
    assert [m.loss for m in whole.history][:1] == [m.loss for m in constant.history][:1]     # the same first epoch
    assert [m.loss for m in whole.history] != [m.loss for m in constant.history]
