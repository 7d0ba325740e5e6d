"""Checkpoints are read with the options they were trained with, and bad ones are explained in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import inference
import summarize
from config import Config
from model import build_model
from storage.checkpoints import load_checkpoint
from storage.files import write_atomically
from training.reproducibility import set_deterministic
from video.scoring import CheckpointError, CstaScorer

#: Variants whose tensors have the default model's shapes: only the record tells them apart.
SAME_SHAPES = [{"Softmax_axis": "T"}, {"Scale": "T_D"}, {"Balance": "BD"}, {"CLS_mix": "SM"}]


def save_with_record(folder: Path, config: Config, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    path = folder / "split1.pt"
    torch.save(build_model(config, pretrained=False).state_dict(), path)
    (folder / "split1.json").write_text(json.dumps({"config": config.to_dict(), "complete": True}))
    return path


@pytest.mark.parametrize("options", SAME_SHAPES)
def test_summarize_scores_with_the_options_in_the_record(tmp_path, options):
    config = Config(pretrained=False, **options)
    path = save_with_record(tmp_path, config)
    scorer = CstaScorer(path, "cpu")
    assert scorer.config.model_options() == config.model_options()
    features = np.random.default_rng(0).random((30, 1024)).astype(np.float32)
    model = build_model(config, pretrained=False)
    model.load_state_dict(torch.load(path))
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(features)).numpy()
        default = build_model(Config(), pretrained=False)
        default.load_state_dict(torch.load(path))
        as_default = default.eval()(torch.from_numpy(features)).numpy()
    assert np.array_equal(scorer(features), expected)
    assert not np.allclose(as_default, expected)          # the mistake the record prevents


def test_summarize_takes_model_flags_for_checkpoints_without_a_record(tmp_path):
    config = Config(pretrained=False, Softmax_axis="T")
    path = tmp_path / "authors.pt"
    torch.save(build_model(config, pretrained=False).state_dict(), path)
    args = summarize.parse_args([str(tmp_path), "--weights", str(path), "--Softmax_axis", "T"])
    assert CstaScorer(path, "cpu", args.config).config.Softmax_axis == "T"
    assert CstaScorer(path, "cpu").config.Softmax_axis == "TD"


def test_a_text_file_is_not_a_checkpoint_and_no_unsafe_advice_is_given(tmp_path):
    path = tmp_path / "split1.pt"
    path.write_text("these are not weights\n")
    with pytest.raises(ValueError) as error:
        load_checkpoint(path)
    message = str(error.value)
    assert message.startswith(f"{path}: not a PyTorch checkpoint")
    assert "weights_only" not in message and "\n" not in message


def test_a_checkpoint_of_another_variant_says_which_keys_and_shapes_differ(tmp_path):
    resnet = tmp_path / "resnet.pt"
    torch.save(build_model(Config(model_name="ResNet_Attention"), pretrained=False).state_dict(), resnet)
    with pytest.raises(CheckpointError) as error:
        CstaScorer(resnet, "cpu")
    message = str(error.value)
    assert "missing key(s) (googlenet." in message and "unexpected key(s) (resnet." in message
    assert "shape(s) differ" in message and "\n" not in message


def test_inference_names_the_differing_keys(finished_run, tmp_path, capsys):
    weights = tmp_path / "weights" / "SumMe"
    weights.mkdir(parents=True)
    torch.save(build_model(Config(Positional_encoding=None), pretrained=False).state_dict(), weights / "split1.pt")
    argv = [*finished_run.dirs.flags(), "--weights-dir", str(tmp_path / "weights"), "--datasets", "SumMe",
            "--splits", "1", "--device", "cpu", "--out", str(tmp_path / "out.json")]
    assert inference.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "missing key(s) (Positional_encoding_op.pe)" in err and len(err.splitlines()) == 1


def test_an_output_folder_that_cannot_be_created_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    status = summarize.main([str(tmp_path), "--out", str(blocker / "sub"), "--no-pretrained", "--device", "cpu"])
    stderr = capsys.readouterr().err
    assert status == 2
    assert stderr.strip().startswith(f"error: --out {blocker / 'sub'}: cannot create the folder")
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1


def test_write_errors_name_the_target_not_the_temporary_file(tmp_path):
    target = tmp_path / "result.json"
    (target / "inside").mkdir(parents=True)               # a folder where the file should go: rename fails
    with pytest.raises(OSError) as error:
        write_atomically(target, lambda f: f.write(b"{}"))
    assert str(target) in str(error.value) and ".tmp" not in str(error.value)
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]        # no temporary left behind


def test_cudnn_is_deterministic_in_every_run_as_in_the_original():
    saved = torch.backends.cudnn.deterministic, torch.are_deterministic_algorithms_enabled()
    try:
        set_deterministic(False)
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.backends.cudnn.deterministic = saved[0]
        torch.use_deterministic_algorithms(saved[1])
