"""Your own videos as a dataset: generated videos with planted cuts and annotations in both formats,
through ``python -m video.make_dataset``, then train.py and inference.py like SumMe."""

from __future__ import annotations

import json

import numpy as np
import pytest

import inference
import train
from dataset import load_h5
from evaluation.annotations import load_tvsum_annotations
from evaluation.summary import keyshot_summary
from video.make_dataset import main as make_dataset

from tests.test_summarize import write_planted_video

SCENES = {"alpha": [24, 16, 20, 28], "beta": [32, 20, 24], "gamma": [20, 28, 16, 24], "delta": [28, 24, 20]}
SAMPLE_EVERY = 4
VMAX = "0.02"   # random-network features tell scenes apart by a few percent of cosine similarity


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    for seed, (name, scenes) in enumerate(SCENES.items()):
        write_planted_video(folder / f"{name}.mp4", scenes, seed=seed)
    return folder


def cuts(scenes):
    return np.cumsum([0, *scenes[:-1]]).tolist()


def build(videos, tmp_path, fmt: str, annotations) -> tuple[int, object]:
    out = tmp_path / "mine.h5"
    status = make_dataset([*(str(videos / f"{name}.mp4") for name in SCENES), "--out", str(out),
                           "--annotations", str(annotations), "--format", fmt, "--sample-every", str(SAMPLE_EVERY),
                           "--vmax", VMAX, "--no-pretrained", "--device", "cpu", "--folds", "2", "--seed", "3"])
    return status, out


def train_and_score(description, tmp_path) -> dict:
    common = ["--datasets", str(description), "--device", "cpu", "--splits", "1", "2",
              "--weights-dir", str(tmp_path / "w"), "--results-dir", str(tmp_path / "r")]
    assert train.main([*common, "--epochs", "1", "--no-pretrained", "--quiet"]) == 0
    assert inference.main([*common, "--out", str(tmp_path / "scores.json")]) == 0
    return json.loads((tmp_path / "scores.json").read_text())["datasets"]["mine"]


@pytest.mark.slow
def test_per_frame_scores_tvsum_layout(videos, tmp_path):
    rng = np.random.default_rng(0)
    annotations = tmp_path / "anno.tsv"
    annotations.write_text("".join(f"{name}\tcat\t{','.join(map(str, rng.integers(1, 6, sum(scenes))))}\n"
                                   for name, scenes in reversed(SCENES.items()) for _ in range(3)))
    status, out = build(videos, tmp_path, "scores", annotations)
    assert status == 0
    records = load_h5(out)
    given = load_tvsum_annotations(annotations, by_id=True)
    written = load_tvsum_annotations(out.with_name("mine_anno.tsv"))        # keyed video_1.. in the h5's order
    for index, (name, scenes) in enumerate(SCENES.items(), start=1):
        record = records[f"video_{index}"]
        assert record.change_points[:, 0].tolist() == cuts(scenes)           # the shots are the planted scenes
        assert np.array_equal(written[f"video_{index}"], given[name])         # the ground truth read back
        expected = given[name].mean(axis=0)[record.picks]
        expected = (expected - expected.min()) / (expected.max() - expected.min())
        assert np.allclose(record.gtscore, expected, atol=1e-6)
        for user, scores in zip(record.user_summary, given[name]):
            assert np.array_equal(user, keyshot_summary(scores[record.picks], record.change_points,
                                                        record.n_frames, record.picks))
    description = json.loads(out.with_suffix(".json").read_text())
    assert description == {"name": "mine", "h5": "mine.h5", "splits": "mine_splits.json", "protocol": "TVSum",
                           "annotations": "mine_anno.tsv"}
    splits = json.loads(out.with_name("mine_splits.json").read_text())
    assert sorted(k for s in splits for k in s["test_keys"]) == sorted(f"video_{i}" for i in range(1, 5))
    scored = train_and_score(out.with_suffix(".json"), tmp_path)
    assert scored["protocol"] == "TVSum" and set(scored["splits"]) == {"1", "2"}


@pytest.mark.slow
def test_keyshot_intervals_summe_style(videos, tmp_path):
    selections = {name: [[[0, 9], [40, 47]], [[10, 19]], [[sum(scenes) - 8, sum(scenes) - 1]]]
                  for name, scenes in SCENES.items()}
    annotations = tmp_path / "selections.json"
    annotations.write_text(json.dumps(selections))
    status, out = build(videos, tmp_path, "intervals", annotations)
    assert status == 0
    records = load_h5(out)
    for index, (name, scenes) in enumerate(SCENES.items(), start=1):
        record = records[f"video_{index}"]
        assert record.change_points[:, 0].tolist() == cuts(scenes)
        for row, intervals in zip(record.user_summary, selections[name]):
            assert np.flatnonzero(row).tolist() == [f for a, b in intervals for f in range(a, b + 1)]
    assert json.loads(out.with_suffix(".json").read_text())["protocol"] == "SumMe"
    scored = train_and_score(out.with_suffix(".json"), tmp_path)
    assert scored["protocol"] == "SumMe" and 0 <= scored["final"]["f1"] <= 100


def test_an_annotation_past_the_last_frame_is_named(videos, tmp_path, capsys):
    annotations = tmp_path / "selections.json"
    annotations.write_text(json.dumps({name: [[[0, 500]]] for name in SCENES}))
    status, out = build(videos, tmp_path, "intervals", annotations)
    assert status == 2 and not out.exists()
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {annotations}: video 'alpha': field 'intervals'") and "last frame 87" in err


def test_a_video_without_annotations_is_named(videos, tmp_path, capsys):
    annotations = tmp_path / "anno.tsv"
    annotations.write_text("alpha\tcat\t" + ",".join(["3"] * 88) + "\n")
    status, _ = build(videos, tmp_path, "scores", annotations)
    assert status == 2
    assert "video 'beta': no annotations for it" in capsys.readouterr().err


def test_folds_are_seeded_and_test_every_video_once():
    from video.make_dataset import folds

    keys = [f"video_{i}" for i in range(1, 11)]
    assert folds(keys, 5, 1) == folds(keys, 5, 1) != folds(keys, 5, 2)
    assert sorted(k for split in folds(keys, 5, 1) for k in split["test_keys"]) == sorted(keys)


# ------------------------------------------------------------------ options checked first, files replaced together


def dataset_files(folder) -> dict[str, bytes]:
    """Every file in the folder the builds write to (temporaries included, which must never stay)."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture(scope="module")
def built(videos, tmp_path_factory):
    """A good build (TVSum layout) in a folder ``out``, and the arguments that made it; the tests that use it
    leave it as it was (what each of them checks)."""
    tmp_path = tmp_path_factory.mktemp("built")
    rng = np.random.default_rng(4)
    annotations = tmp_path / "anno.tsv"
    annotations.write_text("".join(f"{name}\tcat\t{','.join(map(str, rng.integers(1, 6, sum(scenes))))}\n"
                                   for name, scenes in SCENES.items() for _ in range(2)))
    out = tmp_path / "out" / "mine.h5"
    argv = [*(str(videos / f"{name}.mp4") for name in SCENES), "--out", str(out), "--annotations", str(annotations),
            "--sample-every", str(SAMPLE_EVERY), "--vmax", VMAX, "--no-pretrained", "--device", "cpu"]
    assert make_dataset([*argv, "--folds", "2"]) == 0
    assert sorted(dataset_files(out.parent)) == ["mine.h5", "mine.json", "mine_anno.tsv", "mine_splits.json"]
    return out, argv


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.slow
def test_a_rerun_with_impossible_folds_leaves_the_previous_dataset_as_it_was(built, capsys):
    out, argv = built
    before = dataset_files(out.parent)
    capsys.readouterr()
    assert make_dataset(argv) == 2                               # 5 folds (the default) of 4 videos
    assert "--folds 5: need 2 <= folds <= the number of videos (4)" in one_line_error(capsys)
    assert dataset_files(out.parent) == before


@pytest.mark.slow
@pytest.mark.parametrize("fails", ["h5", "description"])
def test_a_write_that_fails_leaves_every_previous_file_as_it_was(built, capsys, monkeypatch, fails):
    import errno

    import h5py

    import video.make_dataset as module

    out, argv = built
    before = dataset_files(out.parent)
    no_space = OSError(errno.ENOSPC, "No space left on device")
    if fails == "h5":
        real_file = h5py.File

        def full_disk(file, mode):
            with real_file(file, mode) as h5:
                h5.create_group("video_1")["features"] = np.zeros((40, 1024), np.float32)
            raise no_space

        monkeypatch.setattr(h5py, "File", full_disk)
    else:
        real_text = module._text

        def text(content):
            if '"protocol"' not in content:
                return real_text(content)

            def write(file):
                file.write(b"{")
                raise no_space

            return write

        monkeypatch.setattr(module, "_text", text)
    capsys.readouterr()
    assert make_dataset([*argv, "--folds", "3", "--seed", "9"]) == 2
    err = one_line_error(capsys)
    assert "No space left on device" in err
    assert str(out if fails == "h5" else out.with_suffix(".json")) in err
    assert dataset_files(out.parent) == before                    # byte for byte, no temporary left


@pytest.mark.parametrize("option, value, message", [
    ("--sample-every", "0", "argument --sample-every: must be at least 1, got 0"),
    ("--seed", "-1", "argument --seed: must be 0 or more, got -1"),
    ("--vmax", "nan", "argument --vmax: must be a positive number, got nan"),
    ("--folds", "1", "--folds 1: need 2 <= folds"),
    ("--device", "tpu", "--device tpu: expected 'auto', 'cpu', 'cuda' or 'cuda:N'"),
])
def test_every_bad_option_is_one_line_before_any_work(videos, tmp_path, capsys, option, value, message):
    annotations = tmp_path / "anno.tsv"
    annotations.write_text("alpha\tcat\t" + ",".join(["3"] * 88) + "\n")
    argv = [str(videos / "alpha.mp4"), str(videos / "beta.mp4"), "--out", str(tmp_path / "mine.h5"), "--annotations",
            str(annotations), "--no-pretrained", "--folds", "2", option, value]
    try:
        status = make_dataset(argv)
    except SystemExit as exit_:
        status = exit_.code
    assert status == 2
    assert message in one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anno.tsv"]


def test_outputs_never_overwrite_the_annotations(videos, tmp_path, capsys):
    selections = tmp_path / "mine.json"                           # the description of mine.h5 would be mine.json
    selections.write_text(json.dumps({name: [[[0, 9]]] for name in SCENES}))
    before = selections.read_bytes()
    status = make_dataset([*(str(videos / f"{name}.mp4") for name in SCENES), "--out", str(tmp_path / "mine.h5"),
                           "--annotations", str(selections), "--format", "intervals", "--folds", "2",
                           "--no-pretrained", "--device", "cpu"])
    assert status == 2
    assert f"refusing to write {selections}: that is an input file" in one_line_error(capsys)
    assert selections.read_bytes() == before and not (tmp_path / "mine.h5").exists()
