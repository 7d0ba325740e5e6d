"""The project's warnings in its voice (storage.notices): one line ``warning: ...`` per cause and run, the
videos of a counted cause named and counted, other libraries' warnings left to Python."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from dataset import DatasetNotice
from evaluation.metrics import UndefinedCorrelationWarning, rank_correlations
from storage.checkpoints import ProgressWarning
from storage.notices import Notices, concerning, is_project_category, project_voice, video_subject
from storage.stopping import run_until_stopped

ROOT = Path(__file__).resolve().parents[1]
UNDEFINED = "tau/rho undefined (constant scores or reference)"
#: Python's own format: ``path.py:146: UndefinedCorrelationWarning: ...``.
PYTHON_FORMAT = re.compile(r"^\S+:\d+: \w+: ", re.M)


def undefined(what: str, meaning: str = "counted as 0") -> UndefinedCorrelationWarning:
    warning = UndefinedCorrelationWarning(f"{what} undefined for 1 of 1 comparison(s) (constant input); reported as 0.0")
    warning.meaning = meaning
    return warning


def test_a_counted_cause_is_one_line_naming_three_videos_and_counting_the_rest():
    notices = Notices()
    for video in range(1, 13):
        for what in ("Kendall tau", "Spearman rho"):              # two warnings per video, one video counted
            assert notices.add(undefined(what), f"demo_summe.h5 video_{video}") is None
    assert notices.summary() == [f"warning: {UNDEFINED} for 12 videos (demo_summe.h5 video_1, demo_summe.h5 "
                                 f"video_2, demo_summe.h5 video_3 and 9 more); counted as 0"]
    assert notices.summary() == []                                # said once


def test_one_video_is_named_before_the_cause():
    notices = Notices()
    notices.add(undefined("Kendall tau"), "a.h5 video_3")
    notices.add(undefined("Spearman rho"), "a.h5 video_3")
    assert notices.summary() == [f"warning: a.h5 video_3: {UNDEFINED}; counted as 0"]


def test_what_was_reported_instead_keeps_causes_apart_and_a_warning_outside_a_video_is_said_too():
    notices = Notices()
    notices.add(undefined("Kendall tau"), "a.h5 video_1")
    notices.add(undefined("Kendall tau"), "a.h5 video_2")
    notices.add(undefined("Kendall tau"), None)
    notices.add(undefined("Kendall tau", "reported as NaN"), None)
    assert notices.summary() == [f"warning: {UNDEFINED} for 2 videos (a.h5 video_1, a.h5 video_2) and elsewhere; "
                                 f"counted as 0",
                                 f"warning: {UNDEFINED}; reported as NaN"]


def test_other_warnings_are_said_at_once_and_only_once():
    notices = Notices()
    message = ProgressWarning("w/SumMe/split1.progress.pt: damaged progress file, moved to split1.progress.pt.damaged;\n"
                              "the split starts from epoch 1")
    assert notices.add(message) == ("warning: w/SumMe/split1.progress.pt: damaged progress file, moved to "
                                    "split1.progress.pt.damaged; the split starts from epoch 1")
    assert notices.add(message) is None
    assert notices.summary() == []


def test_a_video_is_named_by_its_file_and_key():
    class Record:
        key, path = "video_3", Path("/data/eccv16_dataset_summe_google_pool5.h5")

    assert video_subject(Record()) == "eccv16_dataset_summe_google_pool5.h5 video_3"
    assert video_subject(object()) is None


def test_the_projects_categories_are_told_from_other_libraries():
    assert is_project_category(UndefinedCorrelationWarning) and is_project_category(DatasetNotice)
    assert is_project_category(ProgressWarning)
    assert not is_project_category(UserWarning) and not is_project_category(RuntimeWarning)


def test_under_a_command_the_projects_warnings_are_one_line_each_and_others_keep_pythons_format(capsys):
    with pytest.warns(UserWarning, match="a library's own") as foreign:
        with project_voice():
            for video in (1, 2):
                with concerning(f"a.h5 video_{video}"):
                    assert rank_correlations(np.ones(5), np.arange(5.0)) == (0.0, 0.0)
            for _ in range(2):
                warnings.warn("a.h5: 3 of 25 videos: n_frame_per_seg disagrees with change_points", DatasetNotice)
            warnings.warn("a library's own", UserWarning)
            assert capsys.readouterr().err == "warning: a.h5: 3 of 25 videos: n_frame_per_seg disagrees with " \
                                              "change_points\n"
    assert [w.category for w in foreign] == [UserWarning]         # left to Python (here: pytest's record)
    assert capsys.readouterr().err == f"warning: {UNDEFINED} for 2 videos (a.h5 video_1, a.h5 video_2); counted as 0\n"


def test_filters_set_before_still_apply_and_quiet_says_nothing(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedCorrelationWarning)
        with project_voice():
            rank_correlations(np.ones(5), np.arange(5.0))
    with project_voice(quiet=True):
        rank_correlations(np.ones(5), np.arange(5.0))
        warnings.warn("a.h5: a note", DatasetNotice)
    assert capsys.readouterr().err == ""


def test_every_command_says_its_warnings_in_the_projects_voice(capsys):
    def body() -> int:
        warnings.warn("x.pt: written by a run with other options (seed)", ProgressWarning)
        with concerning("b.h5 video_7"):
            rank_correlations(np.arange(5.0), np.ones(5))
        return 0

    assert run_until_stopped(body, "nothing was written") == 0
    assert capsys.readouterr().err.splitlines() == ["warning: x.pt: written by a run with other options (seed)",
                                                    f"warning: b.h5 video_7: {UNDEFINED}; counted as 0"]


def test_the_demo_says_an_undefined_correlation_once_without_pythons_format(tmp_path):
    """``train.py --demo`` as a user runs it, its model's scores made constant: every test video's tau and rho
    are undefined, and stderr holds one line for them all."""
    constant_scores = ("import sys, numpy as np, training.scoring as scoring\n"
                       "scoring.predict = lambda model, features, config, device: np.zeros(len(features))\n"
                       "import train\n"
                       "sys.exit(train.main(sys.argv[1:]))\n")
    result = subprocess.run([sys.executable, "-c", constant_scores, "--demo", "--datasets", "SumMe", "--splits", "1",
                             "--epochs", "1", "--quiet", "--weights-dir", str(tmp_path / "w"),
                             "--results-dir", str(tmp_path / "r")],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert not PYTHON_FORMAT.search(result.stderr) and "Warning" not in result.stderr, result.stderr
    said = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(said) == 1 and re.fullmatch(rf"warning: {re.escape(UNDEFINED)} for 4 videos \((demo_summe\.h5 "
                                           rf"video_\d+, ){{2}}demo_summe\.h5 video_\d+ and 1 more\); counted as 0",
                                           said[0]), result.stderr
    assert "SumMe split 1: epoch 1 kept — tau 0.000, rho 0.000" in result.stdout
