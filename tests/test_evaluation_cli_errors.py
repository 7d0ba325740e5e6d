"""Every bad input of `python -m evaluation` is one readable error naming file, video and field."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from evaluation.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SUMME_H5 = FIXTURES / "eval_fixture_summe.h5"
TVSUM_H5 = FIXTURES / "eval_fixture_tvsum.h5"
REFERENCE = json.loads((FIXTURES / "eval_reference.json").read_text())


def scores_for(dataset):
    return {key: list(v["uniform"]["scores"]) for key, v in REFERENCE[dataset].items()}


def write_json(path, obj):
    path.write_text(json.dumps(obj))
    return path


def run_main(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_error(code, err, *parts):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for part in parts:
        assert str(part) in lines[0], (part, lines[0])


def copy_h5(tmp_path, source=SUMME_H5):
    target = tmp_path / "videos.h5"
    shutil.copy(source, target)
    return target


def test_malformed_json(tmp_path, capsys):
    bad = tmp_path / "scores.json"
    bad.write_text('{"video_1": [0.1, 0.2,')
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", SUMME_H5, "--scores", bad)
    assert_error(code, err, bad, "malformed JSON")


def test_json_that_is_not_an_object(tmp_path, capsys):
    bad = write_json(tmp_path / "scores.json", [[0.1, 0.2]])
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", SUMME_H5, "--scores", bad)
    assert_error(code, err, bad, "JSON object")


def test_empty_scores_file(tmp_path, capsys):
    bad = write_json(tmp_path / "scores.json", {})
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", SUMME_H5, "--scores", bad)
    assert_error(code, err, bad, "no videos")


@pytest.mark.parametrize("value", ["0.5", [0.1, "x"], [], [0.1, True]])
def test_scores_that_are_not_number_lists(tmp_path, capsys, value):
    bad = write_json(tmp_path / "scores.json", {"video_1": value})
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", SUMME_H5, "--scores", bad)
    assert_error(code, err, bad, "'video_1'", "'scores'")


def test_non_finite_score(tmp_path, capsys):
    scores = scores_for("SumMe")
    scores["video_8"][3] = float("nan")
    bad = write_json(tmp_path / "scores.json", scores)
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", SUMME_H5, "--scores", bad)
    assert_error(code, err, bad, "'video_8'", "'scores'", "entry 3", "finite")


def test_unknown_video_key(tmp_path, capsys):
    scores = scores_for("SumMe")
    scores["video_99"] = [0.5] * 10
    path = write_json(tmp_path / "scores.json", scores)
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", SUMME_H5, "--scores", path)
    assert_error(code, err, SUMME_H5, "'video_99'", "no such video")


@pytest.mark.parametrize("delta", [-1, +1])
def test_score_count_differs_from_picks(tmp_path, capsys, delta):
    scores = scores_for("SumMe")
    n = len(scores["video_12"])
    scores["video_12"] = scores["video_12"][:-1] if delta < 0 else scores["video_12"] + [0.5]
    path = write_json(tmp_path / "scores.json", scores)
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", SUMME_H5, "--scores", path)
    assert_error(code, err, path, "'video_12'", "'scores'", f"{n + delta} scores", f"{n} picks")


@pytest.mark.parametrize("field", ["change_points", "n_frames", "picks", "user_summary"])
def test_missing_h5_field(tmp_path, capsys, field):
    h5 = copy_h5(tmp_path)
    with h5py.File(h5, "r+") as hdf:
        del hdf["video_18"][field]
    path = write_json(tmp_path / "scores.json", scores_for("SumMe"))
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", h5, "--scores", path)
    assert_error(code, err, h5, "'video_18'", f"'{field}'", "missing")


@pytest.mark.parametrize(
    "field, value",
    [
        ("change_points", np.zeros((3, 3), dtype=np.int64)),
        ("change_points", np.array([[0, 10], [20, 5]])),
        ("n_frames", np.array([1, 2])),
        ("picks", np.array([0, 30, 15])),
        ("user_summary", np.zeros(10)),
    ],
)
def test_malformed_h5_field(tmp_path, capsys, field, value):
    h5 = copy_h5(tmp_path)
    with h5py.File(h5, "r+") as hdf:
        del hdf["video_18"][field]
        hdf["video_18"][field] = value
    path = write_json(tmp_path / "scores.json", scores_for("SumMe"))
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", h5, "--scores", path)
    assert_error(code, err, h5, "'video_18'", f"'{field}'")


def test_missing_h5_file(tmp_path, capsys):
    path = write_json(tmp_path / "scores.json", scores_for("SumMe"))
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", tmp_path / "none.h5", "--scores", path)
    assert_error(code, err, "none.h5", "no such file")


def test_not_an_h5_file(tmp_path, capsys):
    path = write_json(tmp_path / "scores.json", scores_for("SumMe"))
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", path, "--scores", path)
    assert_error(code, err, path, "HDF5")


def test_unknown_dataset(tmp_path, capsys):
    path = write_json(tmp_path / "scores.json", scores_for("SumMe"))
    code, _, err = run_main(capsys, "--dataset", "YouTube", "--h5", SUMME_H5, "--scores", path)
    assert_error(code, err, "--dataset", "YouTube")


def test_missing_annotation_file_for_tvsum(tmp_path, capsys):
    path = write_json(tmp_path / "scores.json", scores_for("TVSum"))
    missing = tmp_path / "ydata-anno.tsv"
    code, _, err = run_main(
        capsys, "--dataset", "TVSum", "--h5", TVSUM_H5, "--scores", path, "--annotations", missing
    )
    assert_error(code, err, missing, "not found")


def test_video_without_annotations(tmp_path, capsys):
    anno = tmp_path / "anno.tsv"
    anno.write_text("a\tX\t1,2,3\nb\tX\t3,2,1\n")  # only video_1 and video_2
    path = write_json(tmp_path / "scores.json", scores_for("TVSum"))
    code, _, err = run_main(capsys, "--dataset", "TVSum", "--h5", TVSUM_H5, "--scores", path, "--annotations", anno)
    assert_error(code, err, anno, "'video_5'", "'annotations'")


def test_annotations_of_the_wrong_length(tmp_path, capsys):
    anno = tmp_path / "anno.tsv"
    anno.write_text("".join(f"id{i}\tX\t1,2,3,4,5\n" for i in range(1, 6)))
    path = write_json(tmp_path / "scores.json", {"video_5": REFERENCE["TVSum"]["video_5"]["uniform"]["scores"]})
    code, _, err = run_main(capsys, "--dataset", "TVSum", "--h5", TVSUM_H5, "--scores", path, "--annotations", anno)
    assert_error(code, err, anno, "'video_5'", "'annotations'", "222 picks")


def test_unwritable_output(tmp_path, capsys):
    path = write_json(tmp_path / "scores.json", scores_for("SumMe"))
    out = tmp_path / "no" / "such" / "folder" / "out.json"
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", SUMME_H5, "--scores", path, "--out", out)
    assert_error(code, err, out, "cannot write")


def test_error_through_the_real_command_has_no_traceback(tmp_path):
    bad = tmp_path / "scores.json"
    bad.write_text("not json")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-m", "evaluation", "--dataset", "SumMe", "--h5", str(SUMME_H5), "--scores", str(bad)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: ") and str(bad) in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ scores that cannot be scored as they are


def test_negative_scores_are_refused_naming_the_video_and_the_smallest_score(tmp_path, capsys):
    scores = scores_for("SumMe")
    scores["video_8"] = [value - 0.75 for value in scores["video_8"]]      # logits, say
    smallest = min(scores["video_8"])
    path = write_json(tmp_path / "scores.json", scores)
    code, out, err = run_main(capsys, "--dataset", "SumMe", "--h5", SUMME_H5, "--scores", path)
    assert_error(code, err, path, "'video_8'", "'scores'", f"{smallest:g}", "sigmoid")
    assert out == ""


def test_the_originals_behaviour_on_negative_scores_needs_the_flag(tmp_path, capsys):
    scores = {key: [-1.0 - v for v in values] for key, values in scores_for("SumMe").items()}
    path = write_json(tmp_path / "scores.json", scores)
    code, out, err = run_main(capsys, "--dataset", "SumMe", "--h5", SUMME_H5, "--scores", path,
                              "--allow-negative-scores")
    assert code == 0
    # every shot's value is negative, so the original's knapsack selects nothing: F1 is 0 and the note says why
    assert "empty summary (no shot that fits the budget has a positive score)" in err
    assert "longer than the budget" not in err


def test_an_empty_summary_from_long_shots_names_that_cause(tmp_path, capsys):
    h5 = copy_h5(tmp_path)
    with h5py.File(h5, "r+") as hdf:
        n_frames = int(np.asarray(hdf["video_18"]["n_frames"][()]).reshape(-1)[0])
        del hdf["video_18"]["change_points"]
        hdf["video_18"]["change_points"] = np.array([[0, n_frames // 2 - 1], [n_frames // 2, n_frames - 1]])
        if "n_frame_per_seg" in hdf["video_18"]:
            del hdf["video_18"]["n_frame_per_seg"]
    path = write_json(tmp_path / "scores.json", {"video_18": scores_for("SumMe")["video_18"]})
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", h5, "--scores", path)
    assert code == 0
    assert "video_18: empty summary (every shot is longer than the budget" in err


# ------------------------------------------------------------------ the same checks as training


def _break(h5, field, change):
    with h5py.File(h5, "r+") as hdf:
        value = change(np.asarray(hdf["video_18"][field][()]))
        del hdf["video_18"][field]
        hdf["video_18"][field] = value


@pytest.mark.parametrize("field, change, words", [
    ("change_points", lambda cps: np.vstack([cps[:-1], [[cps[-1, 0], cps[-1, 1] + 40]]]), "out of range"),
    ("user_summary", lambda users: users[:, :-3], "wrong shape"),
    ("picks", lambda picks: np.append(picks[:-1], 10_000), "[0, n_frames-1]"),
])
def test_evaluation_rejects_what_training_rejects_with_the_same_message(tmp_path, capsys, field, change, words):
    import dataset

    h5 = copy_h5(tmp_path)
    _break(h5, field, change)
    with pytest.raises(dataset.DatasetError) as training_error:
        dataset.load_h5(h5, require_features=False)
    path = write_json(tmp_path / "scores.json", scores_for("SumMe"))
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", h5, "--scores", path)
    assert_error(code, err, h5, "'video_18'", f"'{field}'", words)
    assert err.strip() == f"error: {training_error.value}"


def test_picks_message_gives_the_last_valid_frame(tmp_path, capsys):
    h5 = copy_h5(tmp_path)
    with h5py.File(h5) as hdf:
        n_frames = int(np.asarray(hdf["video_18"]["n_frames"][()]).reshape(-1)[0])
    _break(h5, "picks", lambda picks: np.append(picks[:-1], n_frames))
    path = write_json(tmp_path / "scores.json", scores_for("SumMe"))
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", h5, "--scores", path)
    assert_error(code, err, f"[0, {n_frames - 1}]")


def test_an_output_that_cannot_be_written_is_found_before_scoring(tmp_path, capsys, monkeypatch):
    import evaluation.__main__ as command

    path = write_json(tmp_path / "scores.json", scores_for("SumMe"))
    scored = []
    monkeypatch.setattr(command, "evaluate_files", lambda *a, **k: scored.append(a))
    code, _, err = run_main(capsys, "--dataset", "SumMe", "--h5", SUMME_H5, "--scores", path, "--out", tmp_path)
    assert_error(code, err, tmp_path, "it is a folder")
    assert scored == []


def test_notes_of_one_cause_are_one_line_beyond_three_videos():
    from evaluation.__main__ import note_lines

    few = [f"video_{i}: empty summary (no shot fits the budget); F1 reported as 0" for i in range(3)]
    assert note_lines(few) == [f"note: {note}" for note in few]
    many = few + [f"video_{i}: empty summary (every shot is longer); F1 reported as 0" for i in range(3, 9)] + \
        ["video_2: Kendall tau undefined for 2 of 20 comparison(s) (constant input); reported as 0.0"]
    assert note_lines(many) == [
        "note: video_0: empty summary (no shot fits the budget); F1 reported as 0",
        "note: video_1: empty summary (no shot fits the budget); F1 reported as 0",
        "note: video_2: empty summary (no shot fits the budget); F1 reported as 0",
        "note: 6 videos (video_3, video_4, video_5 and 3 more): empty summary (every shot is longer); F1 reported as 0",
        "note: video_2: Kendall tau undefined for 2 of 20 comparison(s) (constant input); reported as 0.0"]
    varied = [f"video_{i}: empty summary (shots of {i} frames); F1 reported as 0" for i in range(5)]
    assert note_lines(varied) == ["note: 5 videos (video_0, video_1, video_2 and 2 more): empty summary; "
                                  "F1 reported as 0"]
