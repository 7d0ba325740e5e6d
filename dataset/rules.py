"""What a video must hold, declared as data: per layout, a table of rules that one engine applies.

The principle: refuse what the reference code cannot compute, or computes as nonsense; where it computes a
well-defined result on a layout, compute exactly that and say so once per file, with a count.

A rule names a field, the roles that read it (``train``: what training reads; ``predict``: what the model reads to
score a video; ``score``: what the layout's protocol reads, for test and selection videos), what is checked, and
what happens when the check fails:

* ``refuse``: the video is refused, whatever its role;
* ``refuse if read``: refused when one of the video's roles reads the field; otherwise the field is set aside
  (None) and the file's note counts the videos where that happened;
* a field stored in another file (an external link) or nowhere (a dangling link) is refused whoever reads it;
* a rule's *quirks* are the layouts the reference code computes on: the reader computes what it computes
  and the file's note says so.

``docs/real-files.md`` quotes these tables (``python -m dataset.rules`` prints them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from .errors import DatasetError
from .fields import FieldReader

TRAIN, PREDICT, SCORE = "train", "predict", "score"
ROLES = (TRAIN, PREDICT, SCORE)
ALL_ROLES = frozenset(ROLES)
READS = {TRAIN: "training reads it", PREDICT: "the model predicts the video's scores from it",
         SCORE: "the protocol scores test and selection videos with it"}

REFUSE, REFUSE_IF_READ = "refuse", "refuse if read"


@dataclass(frozen=True)
class Quirk:
    """A layout the reference code computes a well-defined result on; ``says`` follows 'N of M videos: '."""

    name: str
    says: str


@dataclass(frozen=True)
class Rule:
    """One field of a layout: who reads it, what is checked, what a failed check does."""

    field: str
    read_by: frozenset
    check: str
    on_failure: str
    read: Callable[["VideoFields"], Any]
    quirks: tuple[Quirk, ...] = ()


@dataclass(frozen=True)
class Layout:
    """An h5 layout: its rules in reading order, how a video record is made of the values, and per role what a
    video of that role must hold (said when one lacks a field)."""

    name: str
    rules: tuple[Rule, ...]
    build: Callable[["VideoFields"], Any]
    needs: dict


@dataclass
class VideoFields:
    """The values read so far for one video, and the quirks met."""

    reader: FieldReader
    roles: frozenset
    feature_dim: Optional[int]
    load_features: bool
    values: dict = field(default_factory=dict)
    quirks: set = field(default_factory=set)
    steps: Optional[int] = None

    def note(self, quirk: Quirk) -> None:
        self.quirks.add(quirk)

    def error(self, name: str, problem: str) -> DatasetError:
        return self.reader.error(name, problem)

    def value(self, name: str, needed_for: str):
        """A field read earlier; a DatasetError naming ``needed_for`` when it is absent or was set aside."""
        value = self.values.get(name)
        if value is None:
            raise self.error(needed_for, f"cannot be checked without '{name}', which the video lacks or which was "
                                         f"set aside")
        return value


def unread_field(rule: Rule) -> Quirk:
    """The note for a field that is malformed but read by none of the video's roles."""
    return Quirk(f"unread:{rule.field}", f"'{rule.field}' is malformed or cannot be checked, and nothing these "
                                         f"videos are used for reads it; set aside")


def read_video(reader: FieldReader, layout: Layout, roles: frozenset, feature_dim: Optional[int],
               load_features: bool):
    """Apply a layout's rules to one video group: (the record, the quirks met); DatasetError when refused."""
    fields = VideoFields(reader, frozenset(roles), feature_dim, load_features)
    for rule in layout.rules:
        read = sorted(rule.read_by & fields.roles)
        if not reader.has(rule.field):
            if read:
                raise reader.error(rule.field, f"missing field (the video has: {', '.join(reader.group.keys())}); "
                                               f"{READS[read[-1]]}. {layout.needs[read[-1]]}")
            fields.values[rule.field] = None
            continue
        reader.check_link(rule.field)
        try:
            fields.values[rule.field] = rule.read(fields)
        except DatasetError:
            if rule.on_failure == REFUSE or read:
                raise
            fields.note(unread_field(rule))
            fields.values[rule.field] = None
    return layout.build(fields), fields.quirks


# ---------------------------------------------------------------------------------------------
# checks shared by the layouts

#: gtscore values this far outside [0, 1] are float rounding (8 float32 steps at 1): used as they are.
ROUNDING = 1e-6
#: gtscore values beyond this are damage, not a scale (TVSum's raw scores reach 5, frame counts thousands).
GTSCORE_MAGNITUDE_LIMIT = 1e6

GTSCORE_ROUNDING = Quirk("gtscore-rounding", f"gtscore lies outside [0, 1] by at most {ROUNDING:g} (float rounding); "
                                             "used as is, as the reference code does")
GTSCORE_NORMALISED = Quirk("gtscore-normalised", "gtscore lies outside [0, 1]; min-max normalised per video to "
                                                 "[0, 1], as DSNet does at load")


def read_gtscore(fields: VideoFields) -> np.ndarray:
    """One finite importance score per step, in [0, 1]; the step count comes from it when nothing earlier gave one."""
    reader = fields.reader
    steps = fields.steps if fields.steps is not None else vector_length(reader, "gtscore")
    values = reader.step_vector("gtscore", steps)
    if fields.steps is None:
        fields.steps = steps
    outside = (values < 0) | (values > 1)
    if not np.any(outside):
        return values
    largest = float(np.abs(values).max())
    if largest > GTSCORE_MAGNITUDE_LIMIT:
        at = int(np.argmax(np.abs(values)))
        raise fields.error("gtscore", f"value {values[at]:.3g} at index {at} is beyond ±{GTSCORE_MAGNITUDE_LIMIT:.0e}; "
                                      f"importance scores never are, so the file is damaged or mis-scaled")
    excess = float(max(-values.min(), values.max() - 1))
    if excess <= ROUNDING:
        fields.note(GTSCORE_ROUNDING)
        return values
    low, high = float(values.min()), float(values.max())
    if high == low:
        at = int(np.argmax(outside))
        raise fields.error("gtscore", f"values must lie in [0, 1], got {values[at]:.9g} at index {at}, and a "
                                      f"constant score cannot be min-max normalised")
    fields.note(GTSCORE_NORMALISED)
    return ((values.astype(np.float64) - low) / (high - low)).astype(np.float32)


def vector_length(reader: FieldReader, name: str) -> int:
    shape = reader.dataset_shape(name)
    if len(shape) != 1:
        raise reader.error(name, f"wrong shape {shape}: expected (T,), one value per step")
    return int(shape[0])


def read_video_name(fields: VideoFields) -> str:
    return fields.reader.video_name()


def read_features(fields: VideoFields) -> Optional[np.ndarray]:
    """Features of the video's steps; the step count comes from their rows when nothing earlier gave one."""
    reader = fields.reader
    shape = reader.dataset_shape("features")
    if fields.steps is None and len(shape) == 2:
        fields.steps = int(shape[0])
    return reader.features(fields.steps, fields.feature_dim, fields.load_features)


def describe(layouts) -> str:
    """The rule tables as Markdown, one per layout (quoted by docs/real-files.md)."""
    lines = []
    for layout in layouts:
        lines += [f"### {layout.name}", "", "| field | read by | checked | when the check fails |",
                  "| --- | --- | --- | --- |"]
        for rule in layout.rules:
            who = ", ".join(sorted(rule.read_by)) or "nothing"
            then = "refused" if rule.on_failure == REFUSE else (
                "refused when read; otherwise set aside, with a note" if rule.read_by else "set aside, with a note")
            quirks = "".join(f"<br>computed as the reference does, with a note: {q.says}" for q in rule.quirks)
            lines.append(f"| `{rule.field}` | {who} | {rule.check} | {then}{quirks} |")
        lines.append("")
    return "\n".join(lines)
