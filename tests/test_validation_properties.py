"""Properties of the readers of every input: a file with one thing wrong is refused with one line that names it,
or it reads exactly as the file without the change, or (h5 files) it is computed on as the reference code
computes and the file's one note names the change: a field the reader's role does not read set aside, shots
with gaps or overlaps, segment lengths that disagree. Layouts of the real public files are not mutations here:
tests/test_real_files.py generates them as valid inputs.

Each property starts from a valid file (an eccv16 and a Mr.HiSum h5 file generated as the demo data is, the
scores of the evaluation fixture, a split file in each of the four formats, a dataset description), changes
one thing drawn by hypothesis (a field's dtype, shape, order or one of its values, a missing field, a field
that is not a dataset, JSON or YAML that is malformed, nested deep or holds a 5,000-digit number, text that
means the same written otherwise) and reads it again in the process. Examples are derandomized: every run
draws the same ones.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import catalog
import dataset
import demo.eccv16 as demo_data
from dataset import DatasetError
from demo.mrhisum import make_mrhisum_like
from evaluation.__main__ import InputError, read_scores

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFERENCE = json.loads((FIXTURES / "eval_reference.json").read_text())

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
TEXT_PROPERTY = settings(PROPERTY, max_examples=100)

KEY = "video_2"                 #: the video that is changed; video_1 stays as it is


def one_line(message: str, path: Path) -> None:
    assert len(message.splitlines()) == 1 and "\r" not in message, message
    assert message.startswith(str(path)), message


# ---------------------------------------------------------------------------------------------
# h5 files


@dataclass(frozen=True)
class Mutation:
    """One change to one field of video_2: `kind` with its drawn `arg`."""

    field: str
    kind: str
    arg: object = None

    def apply(self, group: h5py.Group) -> None:
        if self.kind == "delete":
            del group[self.field]
            return
        if self.kind == "group":
            del group[self.field]
            group.create_group(self.field)
            return
        value = group[self.field][()]
        del group[self.field]
        if self.field == "video_name":
            group.create_dataset(self.field, data=_name_value(value, self.kind, self.arg))
        else:
            group.create_dataset(self.field, data=_changed(np.asarray(value), self.kind, self.arg,
                                                           LENGTH_AXIS.get(self.field, 0)))


#: The axis along which dropping or adding an entry breaks a field (user_summary: the frames, not the users).
LENGTH_AXIS = {"user_summary": 1}

NON_NUMERIC = ("S8", "complex64")
NUMERIC = ("float64", "float32", "float16", "int64", "int32", "int16", "uint8", "bool")


def _changed(value: np.ndarray, kind: str, arg, axis: int) -> np.ndarray:
    if kind == "dtype":
        return _cast(value, arg)
    if kind == "shape":
        return _reshaped(value, arg, axis)
    if kind == "swap":
        rows = value.copy()
        i, j = arg[0] % len(value), arg[1] % len(value)
        j = (i + 1) % len(value) if i == j else j
        rows[[i, j]] = rows[[j, i]]
        return rows
    if kind == "nudge":
        changed = value.copy()
        changed.reshape(-1)[arg[0] % changed.size] += arg[1]
        return changed
    if kind == "set":
        at, what = arg
        changed = value.astype(np.float64) if what in ("nan", "inf", "-inf", "half", "1e300", "1e30") else value.copy()
        flat = changed.reshape(-1)
        at %= flat.size
        if what == "half":
            flat[at] += 0.5
        elif what == "dup":
            flat[at] = flat[at - 1] if at else flat[1]
        else:
            flat[at] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "1e300": 1e300, "1e30": 1e30}.get(what, what)
        return changed
    raise AssertionError(kind)


def _cast(value: np.ndarray, dtype: str) -> np.ndarray:
    """The value in another dtype: exactly the same numbers, or a dtype that is not a number at all."""
    if dtype in NON_NUMERIC:
        return value.astype(dtype)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cast = value.astype(dtype)
        exact = np.array_equal(cast.astype(np.float64), value.astype(np.float64))
    return cast if exact else value.astype("S8")


def _reshaped(value: np.ndarray, how: str, axis: int) -> np.ndarray:
    if how == "extra_last":
        return value[..., None]
    if how == "extra_first":
        return value[None]
    if how == "flatten":
        return value.reshape(-1)
    if how == "transpose":
        return value.T.copy()
    if how == "drop_last":
        return np.delete(value, -1, axis=axis)
    if how == "drop_first":
        return np.delete(value, 0, axis=axis)
    if how == "append":
        return np.concatenate([value, np.take(value, [-1], axis=axis)], axis=axis)
    if how == "scalar":
        return value.reshape(-1)[0]
    if how == "wrap1":
        return value.reshape(1)
    if how == "wrap11":
        return value.reshape(1, 1)
    if how == "pair":
        return np.stack([value, value])
    if how == "empty":
        return np.zeros((0,) + value.shape[1:], dtype=value.dtype)
    raise AssertionError(how)


def _name_value(value, kind: str, arg):
    text = value.decode() if isinstance(value, bytes) else str(value)
    if kind == "dtype":
        return {"fixed": np.bytes_(text.encode()), "int": np.int64(5), "float": np.float32(5)}[arg]
    if kind == "shape":
        return {"pair": np.array([text.encode(), text.encode()]), "empty": np.array([], dtype="S4")}[arg]
    raise AssertionError(kind)


ARRAY_SHAPES = ("extra_last", "extra_first", "drop_last", "append", "empty")
SCALAR_SHAPES = ("wrap1", "wrap11", "pair", "empty")
#: Values a score may not take. A finite score outside [0, 1] is not among them: it is min-max normalised with a
#: note, as DSNet does (tests/test_dataset.py).
BAD_UNIT_VALUES = ("nan", "inf", "-inf")
BAD_BINARY_VALUES = ("nan", "inf", 0.5, 2.0, -1.0)
BAD_INDEX_VALUES = ("nan", -1, 2 ** 40, "1e30", "half")

#: field -> what may change in it, with the arguments each change draws from. Every change either breaks
#: the file or keeps its meaning: changes that make another valid file (a different gtscore, one user less)
#: are not in the list.
ECCV16_CHANGES = {
    "features": {"delete": None, "group": None, "dtype": NUMERIC + NON_NUMERIC,
                 "shape": ARRAY_SHAPES + ("flatten", "transpose"), "set": ("nan", "inf", "-inf", "1e300")},
    "gtscore": {"delete": None, "group": None, "dtype": NUMERIC + NON_NUMERIC,
                "shape": ARRAY_SHAPES + ("scalar",), "set": BAD_UNIT_VALUES},
    "gtsummary": {"group": None, "dtype": NUMERIC + NON_NUMERIC, "shape": ARRAY_SHAPES + ("scalar",),
                  "set": BAD_BINARY_VALUES},
    "user_summary": {"delete": None, "group": None, "dtype": NUMERIC + NON_NUMERIC,
                     "shape": ARRAY_SHAPES + ("flatten", "transpose"), "set": BAD_BINARY_VALUES},
    "change_points": {"delete": None, "group": None, "dtype": NUMERIC + NON_NUMERIC,
                      "shape": ARRAY_SHAPES + ("flatten", "transpose", "drop_first"), "swap": None,
                      "nudge": None, "set": BAD_INDEX_VALUES},
    "n_frame_per_seg": {"delete": None, "group": None, "dtype": NUMERIC + NON_NUMERIC,
                        "shape": ARRAY_SHAPES + ("scalar",), "swap": None, "nudge": None, "set": BAD_INDEX_VALUES},
    "n_frames": {"delete": None, "group": None, "dtype": NUMERIC + NON_NUMERIC, "shape": SCALAR_SHAPES,
                 "nudge": None, "set": BAD_INDEX_VALUES + (0,)},
    "n_steps": {"delete": None, "group": None, "dtype": NUMERIC + NON_NUMERIC, "shape": SCALAR_SHAPES,
                "nudge": None, "set": BAD_INDEX_VALUES + (0,)},
    "picks": {"delete": None, "group": None, "dtype": NUMERIC + NON_NUMERIC,
              "shape": ARRAY_SHAPES + ("scalar", "drop_first"), "swap": None, "set": BAD_INDEX_VALUES + ("dup",)},
    "video_name": {"group": None, "dtype": ("fixed", "int", "float"), "shape": ("pair", "empty")},
}

MRHISUM_CHANGES = {
    "features": {"delete": None, "group": None, "dtype": NUMERIC + NON_NUMERIC,
                 "shape": ARRAY_SHAPES + ("flatten", "transpose"), "set": ("nan", "inf", "-inf", "1e300")},
    "gtscore": ECCV16_CHANGES["gtscore"],
    "gt_summary": {**ECCV16_CHANGES["gtsummary"], "delete": None},
    "change_points": ECCV16_CHANGES["change_points"],
}

#: field changed -> the fields whose check may be the one that fails (the fields checked against it).
ECCV16_BLAME = {"n_frames": {"n_frames", "picks", "change_points", "user_summary"},
                "picks": {"picks", "features", "gtscore", "gtsummary", "n_steps"}}
MRHISUM_BLAME = {"features": {"features", "gtscore", "change_points", "gt_summary"}}


@st.composite
def mutations(draw, changes: dict) -> Mutation:
    field = draw(st.sampled_from(sorted(changes)))
    kind = draw(st.sampled_from(sorted(changes[field])))
    options = changes[field][kind]
    index = st.integers(0, 10 ** 6)
    if kind in ("delete", "group"):
        arg = None
    elif kind == "swap":
        arg = (draw(index), draw(index))
    elif kind == "nudge":
        arg = (draw(index), draw(st.integers(1, 50)) * draw(st.sampled_from([-1, 1])))
    elif kind == "set":
        arg = (draw(index), draw(st.sampled_from(options)))
    else:
        arg = draw(st.sampled_from(options))
    return Mutation(field, kind, arg)


def records_equal(got: dict, expected: dict, fields) -> None:
    assert list(got) == list(expected)
    for key in expected:
        for name in fields:
            a, b = getattr(got[key], name), getattr(expected[key], name)
            if isinstance(b, np.ndarray):
                assert isinstance(a, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b), (key, name)
            else:
                assert a == b, (key, name, a, b)


RECORD_FIELDS = [f.name for f in dataclasses.fields(dataset.VideoRecord) if f.name != "path"]
EVALUATION_FIELDS = ["change_points", "n_frame_per_seg", "n_frames", "picks", "user_summary"]
ECCV16_MODES = {
    "training": (dict(), RECORD_FIELDS),
    "evaluation": (dict(feature_dim=None, require_features=False, require_gtscore=False, load_features=False),
                   EVALUATION_FIELDS),
}
MRHISUM_MODES = {
    "training": (dict(schema="mrhisum"), RECORD_FIELDS),
    "evaluation": (dict(schema="mrhisum", feature_dim=None, load_features=False),
                   [name for name in RECORD_FIELDS if name != "features"]),
}


class H5Case:
    """A valid two-video file, its records in every mode, and a scratch copy to change."""

    def __init__(self, source: Path, keys: list[str], folder: Path, modes: dict):
        self.valid = folder / "valid.h5"
        self.scratch = folder / "changed.h5"
        with h5py.File(source, "r") as h5, h5py.File(self.valid, "w") as out:
            for new, old in zip(("video_1", KEY), keys):
                h5.copy(h5[old], out, name=new)
        self.modes = modes
        self.expected = {mode: dataset.load_h5(self.valid, **options) for mode, (options, _) in modes.items()}

    def check(self, mutation: Mutation, blame: dict) -> None:
        shutil.copyfile(self.valid, self.scratch)
        with h5py.File(self.scratch, "a") as h5:
            mutation.apply(h5[KEY])
        for mode, (options, fields) in self.modes.items():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    got = dataset.load_h5(self.scratch, **options)
                except DatasetError as error:
                    message = str(error)
                    one_line(message, self.scratch)
                    assert error.video == KEY and f"video '{KEY}'" in message, message
                    assert error.field in blame.get(mutation.field, {mutation.field}), (mode, message)
                    assert f"field '{error.field}'" in message, message
                    event(f"{mode}: refused")
                    continue
            notes = [str(w.message) for w in caught if issubclass(w.category, dataset.DatasetNotice)]
            assert len(notes) == len(caught), [str(w.message) for w in caught]
            if not notes:
                records_equal(got, self.expected[mode], fields)
                event(f"{mode}: read the same")
                continue
            said = notes_of(mutation.field)
            for note in notes:
                one_line(note, self.scratch)
                assert note.startswith(f"{self.scratch}: 1 of 2 videos: "), note
                assert any(text in note for text in said), (mode, mutation, note)
            records_equal(got, self.expected[mode], [f for f in fields if f not in CHANGES_RECORD.get(
                mutation.field, {mutation.field})])
            event(f"{mode}: computed on, with a note")


def notes_of(field: str) -> list[str]:
    """What a file's note may say when ``field`` changed: the field set aside, or one of its rules' quirks."""
    checked_with = {"change_points": {"change_points", "n_frame_per_seg"}}.get(field, {field})
    rules = [rule for layout in dataset.SCHEMAS.values() for rule in layout.rules if rule.field in checked_with]
    return [f"'{field}' is malformed or cannot be checked"] + [quirk.says for rule in rules for quirk in rule.quirks]


#: field changed -> the record's fields that may then differ from the unchanged file's.
CHANGES_RECORD = {"change_points": {"change_points", "n_frame_per_seg"}, "gt_summary": {"gtsummary", "user_summary"},
                  "n_frame_per_seg": set()}


@pytest.fixture(scope="module")
def eccv16_case(tmp_path_factory) -> H5Case:
    folder = tmp_path_factory.mktemp("eccv16_property")
    demo = demo_data.make_demo_dataset(folder / "demo", n_videos=5, min_steps=15, max_steps=18)
    return H5Case(demo.summe_h5, ["video_1", "video_2"], folder, ECCV16_MODES)


@pytest.fixture(scope="module")
def mrhisum_case(tmp_path_factory) -> H5Case:
    folder = tmp_path_factory.mktemp("mrhisum_property")
    h5_path, _ = make_mrhisum_like(folder / "demo", n_videos=3, min_steps=12, max_steps=40, seed=1)
    with h5py.File(h5_path, "r") as h5:
        keys = sorted(h5)[:2]
    return H5Case(h5_path, keys, folder, MRHISUM_MODES)


@PROPERTY
@given(mutation=mutations(ECCV16_CHANGES))
def test_a_changed_eccv16_field_is_refused_naming_it_or_reads_the_same(eccv16_case, mutation):
    eccv16_case.check(mutation, ECCV16_BLAME)


@PROPERTY
@given(mutation=mutations(MRHISUM_CHANGES))
def test_a_changed_mrhisum_field_is_refused_naming_it_or_reads_the_same(mrhisum_case, mutation):
    mrhisum_case.check(mutation, MRHISUM_BLAME)


# ---------------------------------------------------------------------------------------------
# text files: the same idea, on the bytes of a JSON or YAML file


def digits(n: int) -> str:
    return "9" * n


#: JSON values that are neither a video key nor a video's list of scores.
NOT_A_STRING = [None, True, 0, 1.5, [], {}, ["a"], {"a": 1}]
DEEP = st.sampled_from([2, 50, 2_000, 100_000])


def nested(depth: int, inner: str = "0") -> str:
    return "[" * depth + inner + "]" * depth


# ------------------------------------------------------------------ scores JSON


SCORES = {key: value["uniform"]["scores"] for key, value in REFERENCE["SumMe"].items()}
SCORE_KEYS = sorted(SCORES)


@st.composite
def scores_texts(draw):
    """(text or bytes, video the change is about or None, whether the text means the valid scores)."""
    scores = {key: list(values) for key, values in SCORES.items()}
    key = draw(st.sampled_from(SCORE_KEYS))
    at = draw(st.integers(0, 10 ** 6)) % len(scores[key])
    kind = draw(st.sampled_from(["value", "entry", "top", "repeat", "deep", "digits", "bytes", "cut",
                                 "same_layout", "same_numbers", "same_order"]))
    if kind == "value":
        scores[key] = draw(st.sampled_from(NOT_A_STRING + ["0.5"]))
        return json.dumps(scores), key, False
    if kind == "entry":
        bad = draw(st.sampled_from(["x", None, True, [0.5], {"a": 1}, float("nan"), float("inf"), -float("inf"),
                                    -0.25, 1e39, -1e39, 10 ** 39, 10 ** 400]))
        scores[key][at] = bad
        return json.dumps(scores), key, False
    if kind == "top":
        text = draw(st.sampled_from(["[]", "null", "3", '"x"', "{}", json.dumps(list(scores.values()))]))
        return text, None, False
    if kind == "repeat":
        text = json.dumps(scores)
        return text[:-1] + f", {json.dumps(key)}: {json.dumps(scores[key])}}}", key, False
    if kind == "deep":
        return json.dumps(scores).replace(json.dumps(scores[key]), nested(draw(DEEP), "0.5")), None, False
    if kind == "digits":
        big = f"[{digits(draw(st.sampled_from([4301, 5000])))}]"
        return json.dumps(scores).replace(json.dumps(scores[key]), big, 1), None, False
    if kind == "bytes":
        raw = json.dumps(scores).encode()
        cut = draw(st.integers(0, len(raw)))
        return raw[:cut] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"])) + raw[cut:], None, False
    if kind == "cut":
        text = json.dumps(scores)
        return text[: draw(st.integers(0, len(text) - 1))], None, False
    if kind == "same_layout":
        return json.dumps(scores, indent=draw(st.sampled_from([None, 0, 2, "\t"])),
                          separators=draw(st.sampled_from([(",", ":"), (" , ", " : ")]))), None, True
    if kind == "same_numbers":
        # every score written with 17 significant digits in exponent form: the same float64 values
        body = ", ".join(f"{json.dumps(k)}: [{', '.join(f'{v:.16e}' for v in values)}]" for k, values in scores.items())
        return "{" + body + "}", None, True
    order = draw(st.permutations(SCORE_KEYS))
    return json.dumps({k: scores[k] for k in order}), None, True


@pytest.fixture(scope="module")
def scores_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("scores_property") / "scores.json"


@PROPERTY
@given(change=scores_texts())
def test_a_changed_scores_file_is_refused_in_one_line_or_reads_the_same(scores_path, change):
    text, key, same = change
    path = scores_path
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        got = read_scores(path)
    except InputError as error:
        message = str(error)
        one_line(message, path)
        assert not same, message
        if key is not None:
            assert f"video {key!r}" in message, message
        event("refused")
        return
    assert sorted(got) == SCORE_KEYS
    for name in SCORE_KEYS:
        assert got[name].dtype == np.float64 and np.array_equal(got[name], np.asarray(SCORES[name])), name
    event("read the same")


# ------------------------------------------------------------------ split files, four formats


POOL = [f"video_{i}" for i in range(1, 13)]


@st.composite
def valid_splits(draw, with_val: bool, count=st.integers(1, 3)) -> list[dict]:
    splits = []
    for _ in range(1 if with_val else draw(count)):
        keys = draw(st.permutations(POOL))
        n_test = draw(st.integers(1, 3))
        n_val = draw(st.integers(1, 2)) if with_val else 0
        split = {"train_keys": keys[n_test + n_val:], "test_keys": keys[:n_test]}
        if with_val:
            split["val_keys"] = keys[n_test: n_test + n_val]
        splits.append(split)
    return splits


def csta_text(splits: list[dict], spaced: bool = False, crlf: bool = False, blank: bool = False) -> str:
    comma = ", " if spaced else ","
    end = "\r\n" if crlf else "\n"
    lines = [f"SumMe/split{i}/{comma.join(s['train_keys'])}/{comma.join(s['test_keys'])}" for i, s in enumerate(splits)]
    return (end * 2 if blank else end).join(lines) + end


def structured_text(data, kind: str, style: int = 0) -> str:
    if kind == "yaml":
        return yaml.safe_dump(data, default_flow_style=bool(style))
    return json.dumps(data, indent=style or None)


SPLIT_FORMATS = {"csta": ("splits.txt", False), "pgl_sum": ("splits.json", False), "dsnet": ("splits.yml", False),
                 "mrhisum": ("mr_hisum_split.json", True)}


@st.composite
def split_texts(draw, layout: str):
    """(the splits the changed file must read as, its text or bytes, whether it means the valid splits)."""
    with_val = SPLIT_FORMATS[layout][1]
    splits = draw(valid_splits(with_val))
    kind = "yaml" if layout == "dsnet" else "json"
    change = draw(st.sampled_from(["key", "role", "both", "repeat_key", "unknown", "no_test", "empty_test",
                                   "top", "repeat_field", "deep", "digits", "bytes", "same_spacing",
                                   "same_layout", "same_order", "same_prefix"]))
    target = draw(st.integers(0, len(splits) - 1))
    role = draw(st.sampled_from(sorted(splits[target])))
    if layout == "csta":
        return (splits, *csta_split_text(draw, splits, change, target))

    def written(value, as_kind: str = kind, style: int = 0) -> str:
        return structured_text(value[0] if layout == "mrhisum" else value, as_kind, style)

    edited = json.loads(json.dumps(splits))
    entry = edited[target]
    if change == "key":
        bad = draw(st.sampled_from(NOT_A_STRING + ["", "   ", "a\nb", "a\x00b", "x.h5/", ".h5/video_1"]))
        entry[role][draw(st.integers(0, len(entry[role]) - 1))] = bad
    elif change == "role":
        entry[role] = draw(st.sampled_from([None, "video_1", 3, {"a": []}]))
    elif change == "both":
        other = "train_keys" if role != "train_keys" else "test_keys"
        entry[other] = entry[other] + [entry[role][0]]
    elif change == "repeat_key":
        entry[role] = entry[role] + [entry[role][0]]
    elif change == "unknown":
        entry[draw(st.sampled_from(["dev_keys", "keys", "train"]))] = []
    elif change == "no_test":
        del entry["test_keys"]
    elif change == "empty_test":
        entry["test_keys"] = []
    elif change == "top":
        return splits, draw(st.sampled_from(["[]", "null", "3", '"x"', "[3]", "[[]]"])), False
    elif change == "repeat_field":                # JSON is YAML too: the same text serves both
        head, _, tail = written(edited, "json").partition("{")
        return splits, head + '{"test_keys": ["video_1"], ' + tail, False
    elif change == "deep":
        depth = draw(st.sampled_from([50, 5_000, 100_000]))
        return splits, nested(depth, '"video_1"') if kind == "json" else "[" * depth + "]" * depth, False
    elif change == "digits":
        return splits, written(edited, "json").replace('"video_', digits(5000) + ', "video_', 1), False
    elif change == "bytes":
        raw = written(splits).encode()
        cut = draw(st.integers(0, len(raw)))
        return splits, raw[:cut] + b"\xff" + raw[cut:], False
    elif change == "same_spacing":
        entry[role] = [f"  {k} " for k in entry[role]]
        return splits, written(edited), True
    elif change == "same_layout":
        return splits, written(splits, style=draw(st.sampled_from([0, 1, 2]))), True
    elif change == "same_order":
        return splits, written([dict(reversed(list(s.items()))) for s in splits]), True
    else:                                  # DSNet's keys name the file: ../datasets/FILE.h5/KEY reads as FILE.h5/KEY
        own = "eccv16_dataset_summe_google_pool5.h5"
        prefixed = [{r: [f"../datasets/{own}/{k}" for k in keys] for r, keys in s.items()} for s in splits]
        plain = [{r: [f"{own}/{k}" for k in keys] for r, keys in s.items()} for s in splits]
        return plain, written(prefixed), True
    return splits, written(edited), False


def csta_split_text(draw, splits: list[dict], change: str, target: int):
    """(text or bytes of a CSTA split file with one line changed, whether it means the valid splits)."""
    if change.startswith("same"):
        options = dict(spaced=draw(st.booleans()), crlf=draw(st.booleans()), blank=draw(st.booleans()))
        return csta_text(splits, **options), True
    lines = csta_text(splits).splitlines()
    line = lines[target]
    dataset_name, name, train, test = line.split("/")
    broken = {
        "key": f"{dataset_name}/{name}/{train},video\x01x/{test}",
        "role": f"{dataset_name}/{name}/{train}",
        "both": f"{dataset_name}/{name}/{train}/{test},{train.split(',')[0]}",
        "repeat_key": f"{dataset_name}/{name}/{train},{train.split(',')[0]}/{test}",
        "unknown": f"{line}/video_99",
        "no_test": f"{dataset_name}/{name}/{train}/",
        "empty_test": f"{dataset_name}/{name}/{train}/ , ",
        "top": f"TVSum/{name}/{train}/{test}",
    }.get(change)
    if broken is None:
        raw = csta_text(splits).encode()
        cut = draw(st.integers(0, len(raw)))
        return raw[:cut] + b"\xff" + raw[cut:], False
    lines[target] = broken
    return "\n".join(lines) + "\n", False


def expected_splits(splits: list[dict], path: Path, layout: str) -> list[dataset.Split]:
    return [dataset.Split(train_keys=tuple(s["train_keys"]), test_keys=tuple(s["test_keys"]),
                          val_keys=tuple(s.get("val_keys", ())), name=f"split{i if layout == 'csta' else i + 1}",
                          source=path, number=i + 1) for i, s in enumerate(splits)]


@pytest.fixture(scope="module")
def split_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("split_property")


@pytest.mark.parametrize("layout", sorted(SPLIT_FORMATS))
@TEXT_PROPERTY
@given(data=st.data())
def test_a_changed_split_file_is_refused_in_one_line_or_reads_the_same(split_folder, layout, data):
    splits, text, same = data.draw(split_texts(layout))
    path = split_folder / SPLIT_FORMATS[layout][0]
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    try:
        got = dataset.read_splits_file(path, "SumMe" if layout == "csta" else None)
    except DatasetError as error:
        one_line(str(error), path)
        assert not same, str(error)
        event("refused")
        return
    assert got == expected_splits(splits, path, layout)
    event("read the same")


# ------------------------------------------------------------------ dataset descriptions


DESCRIBED = {"name": "mine", "h5": "mine.h5", "splits": "mine_splits.json"}
PROTOCOL_FIELDS = {"SumMe": {}, "TVSum": {"annotations": "mine_anno.tsv"}, "MrHiSum": {"schema": "mrhisum"}}
BAD_TEXT = NOT_A_STRING + ["", "   ", "a\tb", "a\x00b", "\ud800", "x" * 300, "p" * 256 + ".h5"]


@st.composite
def description_texts(draw):
    """(the description the changed file must read as, its text, field the change is about or None, same meaning)."""
    protocol = draw(st.sampled_from(sorted(PROTOCOL_FIELDS)))
    valid = {**DESCRIBED, "protocol": protocol, **PROTOCOL_FIELDS[protocol]}
    field = draw(st.sampled_from(sorted(valid)))
    change = draw(st.sampled_from(["value", "delete", "unknown", "repeat", "top", "deep", "digits", "bytes",
                                   "same_layout", "same_order", "same_words"]))
    edited = dict(valid)
    if change == "value":
        edited[field] = draw(st.sampled_from(BAD_TEXT + {
            "name": ["../x", ".hidden", "a/b", "a\\b"], "protocol": ["OVP", "summe2"],
            "schema": ["MrHiSum", "eccv16"], "annotations": [[]]}.get(field, [])))
    elif change == "delete":
        del edited[field]
        if field in ("schema", "annotations"):           # optional: the description without it
            return edited, json.dumps(edited), None, True
    elif change == "unknown":
        field = draw(st.sampled_from(["fps", "Name", "h5 "]))
        edited[field] = "x"
    elif change == "repeat":
        text = json.dumps(valid)
        return valid, text[:-1] + f', {json.dumps(field)}: {json.dumps(valid[field])}}}', field, False
    elif change == "top":
        return valid, draw(st.sampled_from(["[]", "null", '"mine"', "3", json.dumps([valid])])), None, False
    elif change == "deep":
        return valid, json.dumps(valid)[:-1] + f', "extra": {nested(draw(DEEP))}}}', None, False
    elif change == "digits":
        return valid, json.dumps(valid)[:-1] + f', "extra": {digits(5000)}}}', None, False
    elif change == "bytes":
        raw = json.dumps(valid).encode()
        cut = draw(st.integers(0, len(raw)))
        return valid, raw[:cut] + b"\xff" + raw[cut:], None, False
    elif change == "same_layout":
        return valid, json.dumps(valid, indent=draw(st.sampled_from([0, 2, "\t"]))), None, True
    elif change == "same_order":
        return valid, json.dumps(dict(reversed(list(valid.items())))), None, True
    else:                                           # the protocol in any case, the name with spaces around it
        edited["protocol"] = draw(st.sampled_from([protocol.lower(), protocol.upper()]))
        edited["name"] = f"  {valid['name']} "
        return valid, json.dumps(edited), None, True
    return valid, json.dumps(edited), field, False


@pytest.fixture(scope="module")
def description_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("description_property") / "mine.json"


@PROPERTY
@given(change=description_texts())
def test_a_changed_description_is_refused_naming_the_field_or_reads_the_same(description_path, change):
    expected, text, field, same = change
    path = description_path
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        got = catalog.from_description(path)
    except DatasetError as error:
        message = str(error)
        one_line(message, path)
        assert not same, message
        if field is not None:
            assert error.field == field and f"field '{field}'" in message, message
        event("refused")
        return
    event("read the same")
    path.write_text(json.dumps(expected))
    assert got == catalog.from_description(path)
