"""inference.py and the scoring path: trained checkpoints, checkpoints with the original's keys, records
that carry the model options, and missing or broken weight files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import dataset as eccv16
import evaluation
import inference
from config import Config
from model import build_model
from storage.checkpoints import checkpoint_paths, load_checkpoint, save_checkpoint
from training import load_bundle, score_split

from tests.weight_fill import filled_state_dict

pytestmark = [pytest.mark.usefixtures("isolated_torch_state"),
              pytest.mark.filterwarnings("ignore::evaluation.UndefinedCorrelationWarning")]

VARIANTS = json.loads((Path(__file__).parent / "fixtures" / "csta_parity.json").read_text())["variants"]
CPU = torch.device("cpu")
MEANS = ("kendall", "spearman", "f1_max", "f1_avg")


def inference_argv(dirs, weights_dir: Path, out: Path, *extra: str) -> list[str]:
    return [*dirs.flags(), "--weights-dir", str(weights_dir), "--results-dir", str(out.parent / "results"),
            "--device", "cpu", "--splits", "1", "--out", str(out), *extra]


def originals_state_dict(variant_name: str) -> tuple[Config, dict[str, torch.Tensor]]:
    """The model options of a parity-fixture variant and a state dict with exactly the original's keys."""
    variant = VARIANTS[variant_name]
    config = Config.from_original(variant["config"], pretrained=False, device="cpu")
    own = build_model(config, pretrained=False).state_dict()
    return config, filled_state_dict(variant["state_dict"], set(variant["constant_buffers"]), own)


def bundle_of(dirs, dataset: str):
    return load_bundle(dirs.spec(dataset))


@pytest.mark.parametrize("dataset", ["SumMe", "TVSum"])
def test_inference_reproduces_the_metrics_of_the_selected_epoch(finished_run, tmp_path, dataset):
    out = tmp_path / "inference.json"
    assert inference.main(inference_argv(finished_run.dirs, finished_run.weights_dir, out)) == 0
    result = json.loads(out.read_text())["datasets"][dataset]
    weights_path, record_path = checkpoint_paths(finished_run.weights_dir, dataset, 1)
    record = json.loads(record_path.read_text())
    split = result["splits"]["1"]
    assert split["weights"] == str(weights_path)
    for key in MEANS:
        assert split["mean"][key] == pytest.approx(record["metrics"][key], abs=1e-9, rel=0)
    assert result["final"]["f1"] == pytest.approx(record["metrics"]["f1"], abs=1e-9, rel=0)
    test_keys = eccv16.read_splits_file(finished_run.dirs.splits_path(dataset), dataset)[0].test_keys
    assert sorted(split["videos"]) == sorted(test_keys)


def test_state_dict_with_the_originals_keys_loads_and_scores_like_the_model_itself(eccv16_dirs, tmp_path):
    config, state = originals_state_dict("default")
    path = tmp_path / "split1.pt"
    torch.save(state, path)
    loaded = load_checkpoint(path)
    assert {name: list(t.shape) for name, t in loaded.items()} == VARIANTS["default"]["state_dict"]

    bundle = bundle_of(eccv16_dirs, "TVSum")
    results = score_split(config, bundle, 1, loaded, device=CPU)

    model = build_model(config, pretrained=False)
    model.load_state_dict(state, strict=True)
    model.eval()
    test_records = bundle.split(1).test
    assert [r.key for r in results] == [record.key for record in test_records]
    for result, record in zip(results, test_records):
        with torch.no_grad():
            scores = model(torch.as_tensor(record.features, dtype=torch.float32)).numpy().astype(np.float64)
        expected = evaluation.evaluate_video("TVSum", scores, change_points=record.change_points,
                                             n_frames=record.n_frames, picks=record.picks,
                                             user_summary=record.user_summary,
                                             annotations=bundle.annotations_for(record.key))
        assert result.metrics == expected.as_dict()


def test_inference_scores_a_checkpoint_of_the_original_code_without_a_record(eccv16_dirs, tmp_path):
    config, state = originals_state_dict("default")
    weights_path, record_path = checkpoint_paths(tmp_path / "weights", "TVSum", 1)
    weights_path.parent.mkdir(parents=True)
    torch.save(state, weights_path)
    out = tmp_path / "inference.json"
    assert inference.main(inference_argv(eccv16_dirs, tmp_path / "weights", out, "--datasets", "TVSum")) == 0
    assert not record_path.exists()
    split = json.loads(out.read_text())["datasets"]["TVSum"]["splits"]["1"]
    expected = score_split(config, bundle_of(eccv16_dirs, "TVSum"), 1, state, device=CPU)
    assert split["videos"] == {r.key: r.metrics for r in expected}


def test_inference_takes_the_model_options_from_the_record_beside_the_checkpoint(eccv16_dirs, tmp_path, capsys):
    config, state = originals_state_dict("no_cls")
    assert config.CLS_on is False
    weights_path, _ = save_checkpoint(tmp_path / "weights", "SumMe", 1, state, {"config": config.to_dict()})
    out = tmp_path / "inference.json"
    argv = inference_argv(eccv16_dirs, tmp_path / "weights", out, "--datasets", "SumMe")
    assert inference.main(argv) == 0
    assert json.loads(out.read_text())["datasets"]["SumMe"]["splits"]["1"]["weights"] == str(weights_path)

    assert inference.main(argv + ["--options-from", "command-line"]) == 2
    err = capsys.readouterr().err
    assert str(weights_path) in err and "does not fit" in err


def test_missing_weight_file_is_reported_with_its_path(eccv16_dirs, tmp_path, capsys):
    out = tmp_path / "inference.json"
    assert inference.main(inference_argv(eccv16_dirs, tmp_path / "weights", out)) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "weights" / "SumMe" / "split1.pt") in err
    assert "checkpoint not found" in err
    assert not out.exists()


def test_a_split_the_split_file_lacks_is_named_before_any_checkpoint_is_read(eccv16_dirs, tmp_path, capsys):
    out = tmp_path / "inference.json"
    argv = inference_argv(eccv16_dirs, tmp_path / "weights", out, "--datasets", "SumMe")
    argv[argv.index("--splits") + 1] = "6"
    assert inference.main(argv) == 2
    err = capsys.readouterr().err
    assert "split 6 does not exist" in err and "checkpoint" not in err
    assert not out.exists()


def test_unreadable_weight_file_is_reported_with_its_path(eccv16_dirs, tmp_path, capsys):
    weights_path, _ = checkpoint_paths(tmp_path / "weights", "SumMe", 1)
    weights_path.parent.mkdir(parents=True)
    weights_path.write_bytes(b"not a checkpoint")
    out = tmp_path / "inference.json"
    assert inference.main(inference_argv(eccv16_dirs, tmp_path / "weights", out, "--datasets", "SumMe")) == 2
    err = capsys.readouterr().err
    assert str(weights_path) in err and "not a PyTorch checkpoint" in err


def test_missing_h5_file_is_reported_by_inference(tmp_path, capsys):
    argv = ["--data-dir", str(tmp_path), "--splits-dir", str(tmp_path), "--weights-dir", str(tmp_path),
            "--device", "cpu", "--datasets", "TVSum"]
    assert inference.main(argv) == 2
    assert str(tmp_path / "eccv16_dataset_tvsum_google_pool5.h5") in capsys.readouterr().err


@pytest.mark.parametrize("argv,named", [(["--splits=0"], "splits"), (["--model-name=CSTA"], "model_name"),
                                        (["--epochs=3"], "--epochs")])
def test_invalid_inference_option_exits_naming_it(argv, named, capsys):
    with pytest.raises(SystemExit) as exit_info:
        inference.main(argv)
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err
