"""Hostile inputs end to end: the shipped files pass every check, Mr.HiSum's value ranges, split files without
training videos for scoring only, and the commands' one-line errors (exit status 2) for JSON that Python's
parser itself cannot take (a 5,000-digit integer, nesting 100,000 deep)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

import inference
import train
from dataset import DatasetError, DatasetNotice, load_h5, read_splits_file
from evaluation.__main__ import main as evaluation_main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SUMME_H5 = FIXTURES / "eval_fixture_summe.h5"
MRHISUM_H5 = FIXTURES / "mrhisum_fixture.h5"
MRHISUM_SPLIT = json.loads((FIXTURES / "mrhisum_fixture_split.json").read_text())
REFERENCE = json.loads((FIXTURES / "eval_reference.json").read_text())
MRHISUM_REFERENCE = json.loads((FIXTURES / "mrhisum_reference.json").read_text())


def one_error_line(err: str, *parts) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for part in parts:
        assert str(part) in lines[0], (part, lines[0])
    return lines[0]


def write_json(path: Path, value) -> Path:
    path.write_text(json.dumps(value))
    return path


# ---------------------------------------------------------------------------------------------
# what real-like files hold passes, without a warning


def test_every_shipped_fixture_and_split_file_passes_every_check():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("eval_fixture_summe.h5", "eval_fixture_tvsum.h5"):
            assert load_h5(FIXTURES / name, require_features=False)
        assert len(load_h5(FIXTURES / "rng_parity_summe.h5")) == 25
        assert len(load_h5(MRHISUM_H5, schema="mrhisum")) == 12
        for path in sorted((ROOT / "data" / "splits").iterdir()):
            assert len(read_splits_file(path)) == 5
        assert read_splits_file(FIXTURES / "mrhisum_fixture_split.json")[0].val_keys


def test_shots_of_the_fixtures_tile_their_videos():
    """The rule the checks enforce, read off the files recorded from the original code."""
    for name in ("eval_fixture_summe.h5", "eval_fixture_tvsum.h5", "rng_parity_summe.h5"):
        for record in load_h5(FIXTURES / name, require_features=False).values():
            shots = record.change_points
            assert shots[0, 0] == 0 and shots[-1, 1] == record.n_frames - 1
            assert np.array_equal(shots[1:, 0], shots[:-1, 1] + 1)


# ---------------------------------------------------------------------------------------------
# Mr.HiSum's ranges


def mrhisum_copy(tmp_path: Path, field: str, change) -> Path:
    path = tmp_path / "mr.h5"
    with h5py.File(MRHISUM_H5) as source, h5py.File(path, "w") as target:
        source.copy("video_359", target)
        value = change(target["video_359"][field][()])
        del target["video_359"][field]
        target["video_359"][field] = value
    return path


@pytest.mark.parametrize("change", [lambda v: v * 1.5, lambda v: v - 0.5])
def test_mrhisum_gtscore_outside_the_unit_interval_is_normalised_and_scores_the_same(tmp_path, change):
    """Min-max normalising (DSNet's rule) keeps the order of the scores, so tau, rho and the clips' ranking."""
    from evaluation.mrhisum import evaluate_mrhisum_video

    path = mrhisum_copy(tmp_path, "gtscore", change)
    plain = load_h5(MRHISUM_H5, keys=["video_359"], schema="mrhisum")["video_359"]
    with pytest.warns(DatasetNotice, match="1 of 1 videos: gtscore lies outside"):
        normalised = load_h5(path, schema="mrhisum")["video_359"]
    assert normalised.gtscore.min() == 0 and normalised.gtscore.max() == 1
    scores = np.random.default_rng(0).random(plain.n_steps)
    results = [evaluate_mrhisum_video(scores, gtscore=r.gtscore, change_points=r.change_points,
                                      gt_summary=r.user_summary[0]) for r in (plain, normalised)]
    for metric in ("f1", "map50", "map15", "kendall", "spearman"):
        assert getattr(results[0], metric) == pytest.approx(getattr(results[1], metric), abs=1e-12), metric


@pytest.mark.parametrize("field, change, words", [
    ("gtscore", lambda v: np.where(np.arange(v.size) == 3, np.nan, v), "NaN"),
    ("gt_summary", lambda v: v * 0.5, "0/1 values"),
    ("gt_summary", lambda v: v.astype(np.int64) * 2, "0/1 values"),
])
def test_mrhisum_values_out_of_range_are_refused(tmp_path, field, change, words):
    path = mrhisum_copy(tmp_path, field, change)
    with pytest.raises(DatasetError) as error:
        load_h5(path, schema="mrhisum")
    assert (error.value.video, error.value.field) == ("video_359", field)
    assert words in str(error.value) and str(path) in str(error.value)


def test_a_key_with_a_newline_is_named_on_one_line(tmp_path):
    with pytest.raises(DatasetError) as error:
        load_h5(SUMME_H5, keys=["video_1\nvideo_2"], require_features=False)
    assert len(str(error.value).splitlines()) == 1 and "video_1\\nvideo_2" in str(error.value)


# ---------------------------------------------------------------------------------------------
# split files for scoring only


def mrhisum_scores(tmp_path: Path) -> Path:
    return write_json(tmp_path / "scores.json",
                      {key: value["uniform"]["scores"] for key, value in MRHISUM_REFERENCE["videos"].items()})


def test_scoring_accepts_a_split_file_without_training_videos(tmp_path, capsys):
    split = write_json(tmp_path / "test_only.json", {"test_keys": MRHISUM_SPLIT["test_keys"]})
    out = tmp_path / "out.json"
    code = evaluation_main(["--dataset", "MrHiSum", "--h5", str(MRHISUM_H5), "--split-file", str(split),
                            "--subset", "test", "--scores", str(mrhisum_scores(tmp_path)), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert sorted(json.loads(out.read_text())["videos"]) == sorted(MRHISUM_SPLIT["test_keys"])


def test_scoring_a_subset_the_split_file_lacks_is_one_line(tmp_path, capsys):
    split = write_json(tmp_path / "test_only.json", {"train_keys": [], "test_keys": MRHISUM_SPLIT["test_keys"]})
    code = evaluation_main(["--dataset", "MrHiSum", "--h5", str(MRHISUM_H5), "--split-file", str(split),
                            "--subset", "train", "--scores", str(mrhisum_scores(tmp_path))])
    assert code == 2
    one_error_line(capsys.readouterr().err, split, "'train_keys'", "no train videos")


def test_training_still_needs_training_videos(tmp_path, capsys):
    split = write_json(tmp_path / "test_only.json", {"val_keys": MRHISUM_SPLIT["val_keys"],
                                                     "test_keys": MRHISUM_SPLIT["test_keys"]})
    description = write_json(tmp_path / "mr.json", {"name": "mr", "h5": str(MRHISUM_H5), "splits": split.name,
                                                    "protocol": "MrHiSum"})
    code = train.main(["--datasets", str(description), "--epochs", "1", "--no-pretrained", "--device", "cpu",
                       "--weights-dir", str(tmp_path / "w"), "--results-dir", str(tmp_path / "r"), "--quiet"])
    assert code == 2
    one_error_line(capsys.readouterr().err, split, "at least one training and one test video")


def test_dsnet_keys_of_the_scored_file_are_its_videos(tmp_path, capsys):
    h5 = tmp_path / "eccv16_dataset_summe_google_pool5.h5"
    shutil.copy(SUMME_H5, h5)
    keys = sorted(REFERENCE["SumMe"])
    split = tmp_path / "summe_aug.yml"
    split.write_text(f"- train_keys: [../datasets/eccv16_dataset_ovp_google_pool5.h5/video_1]\n"
                     f"  test_keys: [{', '.join('../datasets/' + h5.name + '/' + k for k in keys)}]\n")
    scores = write_json(tmp_path / "scores.json", {k: REFERENCE["SumMe"][k]["uniform"]["scores"] for k in keys})
    common = ["--dataset", "SumMe", "--h5", str(h5), "--split-file", str(split), "--scores", str(scores)]
    assert evaluation_main([*common, "--subset", "test"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert evaluation_main([*common, "--subset", "train"]) == 2
    one_error_line(capsys.readouterr().err, split, "eccv16_dataset_ovp_google_pool5.h5/video_1", "another file")


# ---------------------------------------------------------------------------------------------
# scores JSON


def summe_scores() -> dict:
    return {key: list(value["uniform"]["scores"]) for key, value in REFERENCE["SumMe"].items()}


@pytest.mark.parametrize("text, words", [
    ('{"video_1": [' + "9" * 5000 + "]}", "4300 digits"),
    ('{"video_1": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ('{"video_1": [0.5], "video_1": [0.25]}', "appears twice"),
    ('{"video_1": [1e39]}', "float32"),
    ('{"video_1": [' + "9" * 400 + "]}", "float32"),
    ('{"\\ud800": [0.5]}', "lone surrogate"),
])
def test_scores_json_python_cannot_take_is_one_line(tmp_path, capsys, text, words):
    path = tmp_path / "scores.json"
    path.write_text(text)
    assert evaluation_main(["--dataset", "SumMe", "--h5", str(SUMME_H5), "--scores", str(path)]) == 2
    one_error_line(capsys.readouterr().err, path, words)


@pytest.mark.parametrize("text", [
    '{"video_1": [' + "9" * 5000 + "]}",
    '{"video_1": ' + "[" * 100_000 + "]" * 100_000 + "}",
])
def test_the_command_gives_one_line_and_status_2(tmp_path, text):
    path = tmp_path / "scores.json"
    path.write_text(text)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "evaluation", "--dataset", "SumMe", "--h5", str(SUMME_H5),
                           "--scores", str(path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    one_error_line(proc.stderr, path)


# ---------------------------------------------------------------------------------------------
# dataset descriptions through the commands


@pytest.mark.parametrize("change, field", [
    ({"protocol": "TVSum", "annotations": 5}, "annotations"),
    ({"protocol": "TVSum"}, "annotations"),              # never scored against the real TVSum annotators
    ({"schema": ["x"]}, "schema"),
    ({"name": "n" * 300}, "name"),
])
@pytest.mark.parametrize("command", ["train", "inference"])
def test_a_bad_description_stops_either_command_in_one_line(tmp_path, capsys, change, field, command):
    description = write_json(tmp_path / "d.json", {"name": "mine", "h5": "mine.h5", "splits": "s.json",
                                                   "protocol": "SumMe", **change})
    main = train.main if command == "train" else inference.main
    code = main(["--datasets", str(description), "--device", "cpu", "--weights-dir", str(tmp_path / "w"),
                 "--results-dir", str(tmp_path / "r")])
    assert code == 2
    one_error_line(capsys.readouterr().err, description, f"field '{field}'")
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").iterdir())


def test_a_data_dir_too_long_for_the_file_system_is_one_line(tmp_path, capsys):
    code = train.main(["--data-dir", str(tmp_path / ("d" * 300)), "--datasets", "TVSum", "--device", "cpu",
                       "--weights-dir", str(tmp_path / "w"), "--results-dir", str(tmp_path / "r")])
    assert code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines[0].startswith("error: ") and "File name too long" in lines[0]
