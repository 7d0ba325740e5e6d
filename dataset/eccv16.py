"""The eccv16 layout (SumMe, TVSum, OVP, YouTube and the field's generators): one group per video, features of
sampled frames with their frame indices (`picks`), shots as inclusive `[first, last]` frame rows.

Which fields a video needs depends on its role: training reads `features` and `gtscore`; CSTA's protocol reads
`n_frames`, `picks`, `change_points` and `user_summary`. So OVP and YouTube load as training videos in both
public layouts (DSNet's, without `user_summary`; K. Zhang's, with only `features`, `gtscore`, `gtsummary`).
"""

from __future__ import annotations

import numpy as np

from .records import VideoRecord
from .rules import (PREDICT, REFUSE, REFUSE_IF_READ, SCORE, TRAIN, GTSCORE_NORMALISED, GTSCORE_ROUNDING, Layout, Quirk, Rule,
                    VideoFields, read_features, read_gtscore, read_video_name, vector_length)


def _n_frames(fields: VideoFields) -> int:
    return fields.reader.positive_int_scalar("n_frames")


def _picks(fields: VideoFields) -> np.ndarray:
    picks = fields.reader.picks(fields.value("n_frames", "picks"))
    fields.steps = int(picks.shape[0])
    return picks


def _gtsummary(fields: VideoFields) -> np.ndarray:
    reader = fields.reader
    steps = fields.steps if fields.steps is not None else vector_length(reader, "gtsummary")
    return reader.zero_one("gtsummary", reader.step_vector("gtsummary", steps))


SHOTS_FROM_LATER_FRAME = Quirk("shots-start-late", "the first shot starts after frame 0; the frames before it belong "
                                                   "to no shot and are never selected, as in the reference code")
SHOTS_WITH_GAPS = Quirk("shot-gaps", "shots leave frames between them uncovered; those frames are never selected, "
                                     "as in the reference code")
SHOTS_OVERLAP = Quirk("shot-overlaps", "shots overlap; each shot is scored over its own frames and weighed by its own "
                                       "length, as in the reference code")


def _change_points(fields: VideoFields) -> np.ndarray:
    """Whole [first, last] frames inside the video, in increasing order, the last ending on the last frame.

    A reversed or out-of-range shot, shots out of order (the budget is 15 % of the last row's end) and a last
    shot ending early (CSTA's SumMe tau/rho then compare arrays of different lengths and raise) are refused;
    gaps, overlaps and a first shot after frame 0 are computed on as the reference code does, with a note.
    """
    reader = fields.reader
    n_frames = fields.value("n_frames", "change_points")
    shots = reader.integers("change_points", reader.numeric("change_points"))
    reader.shape("change_points", shots, (None, 2), "(S, 2) [first, last] frames")
    if shots.shape[0] == 0:
        raise reader.error("change_points", "has no shots")
    starts, ends = shots[:, 0], shots[:, 1]
    rows = shots.tolist()
    reversed_ = starts > ends
    if np.any(reversed_):
        shot = int(np.argmax(reversed_))
        raise reader.error("change_points", f"shot {shot} = {rows[shot]} reversed (its first frame after its last): "
                                            f"expected [first, last] with first <= last")
    outside = (starts < 0) | (ends >= n_frames)
    if np.any(outside):
        shot = int(np.argmax(outside))
        raise reader.error("change_points", f"shot {shot} = {rows[shot]} out of range: expected 0 <= first <= last "
                                            f"<= n_frames-1 = {n_frames - 1}")
    backwards = np.diff(starts) <= 0
    if np.any(backwards):
        shot = int(np.argmax(backwards)) + 1
        raise reader.error("change_points", f"shot {shot} = {rows[shot]}: shots not in increasing order: it starts "
                                            f"at or before shot {shot - 1} = {rows[shot - 1]}")
    if ends[-1] != n_frames - 1:
        raise reader.error("change_points", f"shot {len(rows) - 1} = {rows[-1]}: the last shot ends before the last "
                                            f"frame, n_frames-1 = {n_frames - 1}: the summary would be shorter than "
                                            f"the user summaries")
    if starts[0] != 0:
        fields.note(SHOTS_FROM_LATER_FRAME)
    if np.any(starts[1:] > ends[:-1] + 1):
        fields.note(SHOTS_WITH_GAPS)
    if np.any(starts[1:] <= ends[:-1]):
        fields.note(SHOTS_OVERLAP)
    return shots


SEGMENT_LENGTHS_DIFFER = Quirk("n_frame_per_seg", "n_frame_per_seg disagrees with change_points; CSTA's protocol does "
                                                  "not read it: shot lengths are taken from change_points")


def _n_frame_per_seg(fields: VideoFields) -> np.ndarray:
    """The shots' lengths; the file's own values are not read by CSTA's protocol, so a disagreement is a note."""
    derived = _lengths(fields.value("change_points", "n_frame_per_seg"))
    reader = fields.reader
    values = reader.integers("n_frame_per_seg", reader.numeric("n_frame_per_seg"))
    if values.shape != derived.shape or np.any(values != derived):
        fields.note(SEGMENT_LENGTHS_DIFFER)
    return derived


def _lengths(shots: np.ndarray) -> np.ndarray:
    return shots[:, 1] - shots[:, 0] + 1


def _n_steps(fields: VideoFields) -> int:
    stored = fields.reader.positive_int_scalar("n_steps")
    if fields.steps is not None and stored != fields.steps:
        counted = "picks has" if fields.values.get("picks") is not None else "features and gtscore have"
        raise fields.error("n_steps", f"is {stored}, but {counted} {fields.steps} entries")
    return stored


def _user_summary(fields: VideoFields) -> np.ndarray:
    return fields.reader.user_summary(fields.value("n_frames", "user_summary"))


def _build(fields: VideoFields) -> VideoRecord:
    values = fields.values
    shots = values["change_points"]
    lengths = values["n_frame_per_seg"]
    if lengths is None and shots is not None:
        lengths = _lengths(shots)
    steps = fields.steps if fields.steps is not None else values["n_steps"]
    if steps is None:
        raise fields.error("features", "the video has no steps: none of picks, features, gtscore or n_steps")
    return VideoRecord(key=fields.reader.key, video_name=values["video_name"] or fields.reader.key,
                       features=values["features"], gtscore=values["gtscore"], gtsummary=values["gtsummary"],
                       change_points=shots, n_frame_per_seg=lengths, n_frames=values["n_frames"],
                       picks=values["picks"], user_summary=values["user_summary"], n_steps=int(steps),
                       path=fields.reader.path)


TRAINING, SCORING, NOBODY = frozenset({TRAIN}), frozenset({SCORE}), frozenset()
MODEL_INPUT = frozenset({TRAIN, PREDICT})

ECCV16 = Layout(
    name="eccv16",
    rules=(
        Rule("n_frames", SCORING, "a positive whole number", REFUSE_IF_READ, _n_frames),
        Rule("picks", SCORING, "strictly increasing whole frame indices in [0, n_frames − 1]; their count is the "
                               "video's step count T", REFUSE_IF_READ, _picks),
        Rule("features", MODEL_INPUT, "(T, D) finite floating-point numbers, D = 1024 (GoogLeNet pool5) unless told otherwise, "
                                   "magnitude ≤ 1e6; without picks, T is its row count", REFUSE_IF_READ, read_features),
        Rule("gtscore", TRAINING, "(T,) finite numbers, magnitude ≤ 1e6; a constant score must lie in [0, 1]", REFUSE_IF_READ, read_gtscore,
             (GTSCORE_ROUNDING, GTSCORE_NORMALISED)),
        Rule("gtsummary", NOBODY, "(T,) 0/1", REFUSE_IF_READ, _gtsummary),
        Rule("change_points", SCORING, "(S, 2) whole [first, last] frames, 0 ≤ first ≤ last ≤ n_frames − 1, in "
                                       "increasing order, the last ending at n_frames − 1", REFUSE_IF_READ,
             _change_points, (SHOTS_FROM_LATER_FRAME, SHOTS_WITH_GAPS, SHOTS_OVERLAP)),
        Rule("n_frame_per_seg", NOBODY, "whole numbers; the shots' lengths are always taken from change_points",
             REFUSE_IF_READ, _n_frame_per_seg, (SEGMENT_LENGTHS_DIFFER,)),
        Rule("n_steps", NOBODY, "a positive whole number equal to T", REFUSE, _n_steps),
        Rule("user_summary", SCORING, "(U, n_frames) 0/1, U ≥ 1", REFUSE_IF_READ, _user_summary),
        Rule("video_name", NOBODY, "one string", REFUSE_IF_READ, read_video_name),
    ),
    build=_build,
    needs={TRAIN: "Training videos need features and gtscore",
           PREDICT: "Every video a model scores needs its features",
           SCORE: "Test and selection videos need n_frames, picks, change_points and user_summary (OVP and YouTube "
                  "as DSNet and K. Zhang ship them lack some: use them as training videos only)"},
)
