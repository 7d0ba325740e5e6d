"""Mr.HiSum's layout (`mr_hisum.h5`): one step per second, every step scored; shots as rows
`[start_i, start_{i+1}]` whose last row ends at n − 1 in the real file (n in some generated copies).

A video is held like an eccv16 video whose frames are its steps (`picks` = 0..n−1, `n_frames` = n), with
inclusive shot ends and `gt_summary` as the single user summary. Shot lengths follow the field's rule for the
real file (SummDiff's `MrSumDataset`, TripleSumm): `end − start` per row, plus 1 on a last row that does not end
at n, so that the shots cover all n steps.
"""

from __future__ import annotations

import numpy as np

from .records import VideoRecord
from .rules import (ALL_ROLES, PREDICT, REFUSE, REFUSE_IF_READ, SCORE, TRAIN, GTSCORE_NORMALISED, GTSCORE_ROUNDING, Layout, Rule,
                    VideoFields, read_gtscore, read_video_name)


def _features(fields: VideoFields):
    reader = fields.reader
    shape = reader.dataset_shape("features")
    if len(shape) != 2 or shape[0] == 0:
        raise reader.error("features", f"wrong shape {shape}: expected 2-D (n, D) with n >= 1")
    fields.steps = int(shape[0])
    return reader.features(fields.steps, fields.feature_dim, fields.load_features)


def _change_points(fields: VideoFields) -> np.ndarray:
    """Rows `[start_i, start_{i+1}]` from step 0, the last ending at n − 1 or n; returned as inclusive shots."""
    reader = fields.reader
    n = fields.steps
    rows = reader.integers("change_points", reader.numeric("change_points"))
    reader.shape("change_points", rows, (None, 2), "(S, 2) [start, next start] steps")
    if rows.shape[0] == 0:
        raise reader.error("change_points", "has no shots")
    starts, ends = rows[:, 0], rows[:, 1]
    expected_starts = np.concatenate(([0], ends[:-1]))
    empty = ends[:-1] <= starts[:-1]
    wrong = (starts != expected_starts) | np.concatenate((empty, [False]))
    if np.any(wrong):
        shot = int(np.argmax(wrong))
        raise reader.error("change_points", f"shot {shot} = {rows[shot].tolist()}: expected rows [start, next start] "
                                            f"from step 0, each starting where the previous one ends")
    if ends[-1] not in (n - 1, n) or starts[-1] > n - 1:
        raise reader.error("change_points", f"shot {len(rows) - 1} = {rows[-1].tolist()}: the last row must end at "
                                            f"n - 1 = {n - 1} (the real file) or n = {n}, after its start")
    return np.stack((starts, np.concatenate((ends[:-1] - 1, [n - 1]))), axis=1)


def _gt_summary(fields: VideoFields) -> np.ndarray:
    reader = fields.reader
    return reader.zero_one("gt_summary", reader.step_vector("gt_summary", fields.steps))


def _build(fields: VideoFields) -> VideoRecord:
    values = fields.values
    shots, summary, n = values["change_points"], values["gt_summary"], fields.steps
    return VideoRecord(key=fields.reader.key, video_name=values["video_name"] or fields.reader.key,
                       features=values["features"], gtscore=values["gtscore"], gtsummary=summary,
                       change_points=shots, n_frame_per_seg=None if shots is None else shots[:, 1] - shots[:, 0] + 1,
                       n_frames=n, picks=np.arange(n, dtype=np.int64),
                       user_summary=None if summary is None else summary[None, :], n_steps=n, path=fields.reader.path)


BOTH = ALL_ROLES

MRHISUM = Layout(
    name="mrhisum",
    rules=(
        Rule("features", BOTH, "(n, D) finite floating-point numbers, n ≥ 1, D = 1024 unless told otherwise, magnitude ≤ 1e6; n is the "
                               "video's step count", REFUSE, _features),
        Rule("gtscore", frozenset({TRAIN, SCORE}), "(n,) finite numbers, magnitude ≤ 1e6; a constant score must lie in [0, 1]", REFUSE_IF_READ, read_gtscore,
             (GTSCORE_ROUNDING, GTSCORE_NORMALISED)),
        Rule("change_points", frozenset({SCORE}), "(S, 2) whole steps [start_i, start_{i+1}] from 0, each row "
                                                  "starting where the previous one ends, the last ending at n − 1 "
                                                  "(the real file) or n", REFUSE_IF_READ, _change_points),
        Rule("gt_summary", frozenset({SCORE}), "(n,) 0/1", REFUSE_IF_READ, _gt_summary),
        Rule("video_name", frozenset(), "one string", REFUSE_IF_READ, read_video_name),
    ),
    build=_build,
    needs={TRAIN: "Training videos need features and gtscore",
           PREDICT: "Every video a model scores needs its features",
           SCORE: "Test and selection videos need gtscore, change_points and gt_summary (Mr.HiSum's protocol)"},
)
