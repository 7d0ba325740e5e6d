"""SumMe's official ground truth as the project ships it (data/summe_gt/), its reader, and how well SumMe's users
agree with each other (leave-one-out keyshot F1): small cases computed by hand, then the real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from evaluation.human_agreement import main as human_agreement_main
from evaluation.human_agreement import summe_human_agreement, summe_video_agreement
from evaluation.summe_gt import SUMME_VIDEOS, default_summe_gt_path, load_summe_gt, summe_truth

ROOT = Path(__file__).resolve().parents[1]


def selections(frames: int, *selected) -> np.ndarray:
    """(users, frames) 0/1: one row per user, selecting the frames of its ranges [first, stop)."""
    rows = np.zeros((len(selected), frames))
    for row, ranges in zip(rows, selected):
        for first, stop in ranges:
            row[first:stop] = 1
    return rows


# ------------------------------------------------------------------------------------------------ the shipped files


def test_the_project_ships_the_ground_truth_of_all_25_videos():
    folder = default_summe_gt_path()
    assert folder == ROOT / "data" / "summe_gt"
    truths = load_summe_gt()
    assert tuple(truths) == SUMME_VIDEOS                        # the eccv16 order: video_1 .. video_25
    users = {name: truth.selections.shape[0] for name, truth in truths.items()}
    assert set(users.values()) == {15, 16, 17, 18} and users["Base jumping"] == 18
    assert {truth.fps for truth in truths.values()} == {15.0, 24.0, 25.0, 30.0, 30000 / 1001, 24000 / 1001}
    assert (truths["Cooking"].n_frames, truths["Cooking"].fps) == (1286, 15.0)
    for name, truth in truths.items():
        raw = scipy.io.loadmat(str(folder / f"{name}.mat"))
        # uint8 ordinals: 0 where a user did not select the frame, else the number of the user's selection
        assert raw["user_score"].dtype == np.uint8 and raw["user_score"].shape == (truth.n_frames, users[name])
        assert int(raw["nFrames"][0, 0]) == truth.n_frames
        assert np.array_equal(truth.selections, (raw["user_score"] > 0).T)
        assert truth.selections.dtype == np.float32
        # each user kept at most about 15 % of the video, as SumMe asked
        assert np.all(truth.selections.mean(axis=1) <= 0.16)
    assert scipy.io.loadmat(str(folder / "Excavators river crossing.mat"))["user_score"].max() == 18


def test_a_release_folder_reads_through_its_gt_folder(tmp_path):
    (tmp_path / "GT").mkdir()
    for name in ("Jumps", "Bike Polo"):
        (tmp_path / "GT" / f"{name}.mat").write_bytes((default_summe_gt_path() / f"{name}.mat").read_bytes())
    truths = load_summe_gt(tmp_path)
    assert list(truths) == ["Bike Polo", "Jumps"]
    assert np.array_equal(truths["Jumps"].selections, load_summe_gt()["Jumps"].selections)


def test_ordinals_become_selections_and_a_float_fps_is_kept(tmp_path):
    user_score = np.array([[0, 1, 0], [2, 1, 0], [2, 0, 3], [0, 0, 3]], dtype=np.uint8)
    scipy.io.savemat(tmp_path / "St Maarten Landing.mat", {
        "user_score": user_score, "nFrames": np.array([[4]], dtype=np.uint16), "FPS": np.array([[30000 / 1001]])})
    truth = summe_truth(tmp_path / "St Maarten Landing.mat")
    assert np.array_equal(truth.selections, [[0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1]])
    assert truth.n_frames == 4 and truth.fps == pytest.approx(29.97002997)


@pytest.mark.parametrize("content, message", [
    ({"nFrames": 3}, "field 'user_score': missing"),
    ({"user_score": np.ones((3, 2)), "nFrames": 4}, "field 'nFrames': 4, but user_score has 3 rows"),
    ({"user_score": np.full((3, 2), np.nan)}, "field 'user_score': contains NaN"),
])
def test_a_damaged_ground_truth_names_the_file_and_the_field(tmp_path, content, message):
    path = tmp_path / "Jumps.mat"
    scipy.io.savemat(path, content)
    with pytest.raises(ValueError, match=message) as refused:
        summe_truth(path)
    assert str(refused.value).startswith(f"{path}: ")


# ------------------------------------------------------------------------------------------------ agreement by hand


def test_three_users_by_hand():
    # user 0 frames 0-3, user 1 frames 2-5 (2 of 4 in common: P = R = 1/2, F1 = 50), user 2 frames 6-9 (no overlap)
    users = selections(10, [(0, 4)], [(2, 6)], [(6, 10)])
    mean, best = summe_video_agreement(users)
    # per user, mean / max over the others: 0: (50 + 0) / 2, 50; 1: 25, 50; 2: 0, 0
    assert mean == pytest.approx((25 + 25 + 0) / 3)
    assert best == pytest.approx((50 + 50 + 0) / 3)


def test_unequal_lengths_and_ordinals_by_hand():
    # 2 frames inside 4: precision 1, recall 1/2, F1 = 2 * 1 * 0.5 / 1.5 = 66.67 for both users
    users = np.array([[1, 2, 0, 0, 0, 0], [3, 3, 4, 4, 0, 0]])              # ordinals, as user_score holds them
    assert summe_video_agreement(users) == pytest.approx((200 / 3, 200 / 3))
    # averaged over videos, each video counting once
    mean, best, per_video = summe_human_agreement({"a": selections(10, [(0, 4)], [(2, 6)], [(6, 10)]), "b": users})
    assert per_video["b"] == pytest.approx((200 / 3, 200 / 3))
    assert mean == pytest.approx((50 / 3 + 200 / 3) / 2) and best == pytest.approx((100 / 3 + 200 / 3) / 2)


def test_a_user_who_selected_nothing_scores_zero_against_the_others():
    users = selections(8, [(0, 4)], [(0, 4)], [])
    # 0: vs 1 = 100, vs 2 = 0; 1: the same; 2: 0 against everyone
    assert summe_video_agreement(users) == pytest.approx(((50 + 50 + 0) / 3, (100 + 100 + 0) / 3))


def test_agreement_needs_two_users_and_a_video():
    with pytest.raises(ValueError, match="at least two users"):
        summe_video_agreement(np.ones((1, 5)))
    with pytest.raises(ValueError, match="shape"):
        summe_video_agreement(np.ones(5))
    with pytest.raises(ValueError, match="at least one video"):
        summe_human_agreement({})


# ------------------------------------------------------------------------------------------------ the real figures


def test_the_command_prints_the_readme_figures_for_summe():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "evaluation.human_agreement", "--dataset", "SumMe", "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[:3] == [
        "SumMe human agreement: 25 videos, 15-18 users each, full frame rate, leave-one-out keyshot F1 (%)",
        "F1, mean over the other users: 31.1",
        "F1, max over the other users:  54.3",
    ]
    figures = json.loads(lines[-1])
    assert set(figures) == {"f1_mean", "f1_max"}
    assert round(figures["f1_mean"], 1) == 31.1 and round(figures["f1_max"], 1) == 54.3
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "31.1" in readme and "54.3" in readme


def test_the_figures_are_the_per_pair_f1_of_the_metric():
    from evaluation.metrics import f1_against_users

    users = load_summe_gt()["Fire Domino"].selections
    pairs = np.array([[f1_against_users(users[i], users[j])[0] for j in range(len(users))] for i in range(len(users))])
    off = ~np.eye(len(users), dtype=bool)
    assert np.allclose(pairs, pairs.T)                                            # F1 is symmetric
    expected = (np.mean([pairs[i][off[i]].mean() for i in range(len(users))]),
                np.mean([pairs[i][off[i]].max() for i in range(len(users))]))
    assert summe_video_agreement(users) == pytest.approx(expected)


def test_a_missing_or_empty_folder_is_one_line_and_exit_2(tmp_path, capsys):
    assert human_agreement_main(["--dataset", "SumMe", "--summe-gt", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path / 'nowhere'}: no such folder (SumMe's ground truth, GT/NAME.mat)")
    assert human_agreement_main(["--dataset", "SumMe", "--summe-gt", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path}: holds no NAME.mat file (SumMe's ground truth)"
    (tmp_path / "Jumps.mat").write_text("not a MATLAB file")
    assert human_agreement_main(["--dataset", "SumMe", "--summe-gt", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {tmp_path / 'Jumps.mat'}: cannot be read as a MATLAB file")
