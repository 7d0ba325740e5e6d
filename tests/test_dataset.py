"""dataset.py: loading and checking eccv16 files, split files, default paths."""
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import dataset
from dataset import DatasetError, Split, VideoRecord
from demo.eccv16 import make_demo_dataset

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_dataset(tmp_path_factory.mktemp("demo"), n_videos=5, min_steps=20,
                             max_steps=30)


@pytest.fixture
def h5_copy(demo, tmp_path):
    path = tmp_path / "copy.h5"
    shutil.copy(demo.summe_h5, path)
    return path


def replace_field(path, key, field, value):
    with h5py.File(path, "a") as h5:
        del h5[key][field]
        h5[key].create_dataset(field, data=value)


def read_field(path, key, field):
    with h5py.File(path, "r") as h5:
        return h5[key][field][()]


def assert_names(error: DatasetError, path, video, field):
    message = str(error)
    assert str(path) in message
    assert f"'{video}'" in message and f"'{field}'" in message
    assert (error.video, error.field) == (video, field)


# ---------------------------------------------------------------------------------------------
# loading


def test_demo_file_loads_as_records(demo):
    videos = dataset.load_h5(demo.summe_h5)
    assert list(videos) == [f"video_{i}" for i in range(1, 6)]
    record = videos["video_1"]
    assert isinstance(record, VideoRecord)
    assert record.features.dtype == np.float32 and record.features.shape == (record.n_steps, 1024)
    assert record.gtscore.dtype == np.float32 and record.gtscore.shape == (record.n_steps,)
    assert record.picks.dtype == np.int64 and record.change_points.dtype == np.int64
    assert record.user_summary.shape == (record.n_users, record.n_frames)
    assert record.video_name == "summe_demo_01"
    assert np.array_equal(record.n_frame_per_seg,
                          record.change_points[:, 1] - record.change_points[:, 0] + 1)


def test_keys_in_natural_order(tmp_path, demo):
    path = tmp_path / "many.h5"
    with h5py.File(demo.summe_h5, "r") as source, h5py.File(path, "w") as target:
        for new_key in ("video_10", "video_2", "video_1"):
            source.copy(source["video_1"], target, name=new_key)
    assert list(dataset.load_h5(path)) == ["video_1", "video_2", "video_10"]


def test_load_only_requested_keys(demo):
    videos = dataset.load_h5(demo.tvsum_h5, keys=["video_3", "video_1"])
    assert list(videos) == ["video_3", "video_1"]


def test_evaluation_fixture_loads_without_features():
    videos = dataset.load_h5(FIXTURES / "eval_fixture_tvsum.h5", require_features=False)
    assert set(videos) == {"video_5", "video_13", "video_26", "video_32", "video_38", "video_45"}
    assert all(record.features is None for record in videos.values())
    assert videos["video_13"].video_name == "0tmA_C6XwfM"


def test_features_required_by_default():
    with pytest.raises(DatasetError) as caught:
        dataset.load_h5(FIXTURES / "eval_fixture_summe.h5")
    assert_names(caught.value, FIXTURES / "eval_fixture_summe.h5", "video_1", "features")
    assert "missing field" in str(caught.value)


def test_optional_fields_are_derived(h5_copy):
    with h5py.File(h5_copy, "a") as h5:
        for field in ("gtsummary", "n_frame_per_seg", "n_steps", "video_name"):
            del h5["video_2"][field]
    record = dataset.load_h5(h5_copy)["video_2"]
    assert record.gtsummary is None and record.video_name == "video_2"
    assert record.n_frame_per_seg.sum() == record.n_frames


def test_whole_floats_accepted_for_integer_fields(h5_copy):
    picks = read_field(h5_copy, "video_2", "picks")
    replace_field(h5_copy, "video_2", "picks", picks.astype(np.float64))
    loaded = dataset.load_h5(h5_copy)["video_2"].picks
    assert loaded.dtype == np.int64 and np.array_equal(loaded, picks)


def test_fixed_length_video_name(h5_copy):
    replace_field(h5_copy, "video_2", "video_name", np.bytes_(b"Air_Force_One"))
    assert dataset.load_h5(h5_copy)["video_2"].video_name == "Air_Force_One"


def test_other_feature_width_when_told(h5_copy):
    features = read_field(h5_copy, "video_2", "features")
    with h5py.File(h5_copy, "a") as h5:
        for key in h5:
            width_512 = h5[key]["features"][()][:, :512]
            del h5[key]["features"]
            h5[key].create_dataset("features", data=width_512)
    videos = dataset.load_h5(h5_copy, feature_dim=512)
    assert np.array_equal(videos["video_2"].features, features[:, :512])
    assert dataset.load_h5(h5_copy, feature_dim=None)["video_1"].features.shape[1] == 512


def test_any_width_must_be_shared(h5_copy):
    features = read_field(h5_copy, "video_3", "features")
    replace_field(h5_copy, "video_3", "features", features[:, :512])
    with pytest.raises(DatasetError) as caught:
        dataset.load_h5(h5_copy, feature_dim=None)
    assert_names(caught.value, h5_copy, "video_3", "features")


# ---------------------------------------------------------------------------------------------
# file-level errors


def test_missing_standard_file_says_where_to_get_it(tmp_path):
    path = dataset.default_h5_path("TVSum", tmp_path)
    with pytest.raises(DatasetError) as caught:
        dataset.load_h5(path)
    message = str(caught.value)
    assert str(path) in message and "not found" in message
    assert "github.com/e-apostolidis/PGL-SUM" in message and "github.com/li-plus/DSNet" in message


def test_missing_other_file_is_plain(tmp_path):
    with pytest.raises(DatasetError) as caught:
        dataset.load_h5(tmp_path / "mine.h5")
    assert "not found" in str(caught.value) and "PGL-SUM" not in str(caught.value)


def test_not_an_hdf5_file(tmp_path):
    path = tmp_path / "eccv16_dataset_summe_google_pool5.h5"
    path.write_text("not hdf5")
    with pytest.raises(DatasetError, match="not an HDF5 file") as caught:
        dataset.load_h5(path)
    assert str(path) in str(caught.value)


def test_missing_video_key(demo):
    with pytest.raises(DatasetError) as caught:
        dataset.load_h5(demo.summe_h5, keys=["video_1", "video_99"])
    assert str(demo.summe_h5) in str(caught.value) and "'video_99'" in str(caught.value)
    assert "missing video key" in str(caught.value) and caught.value.video == "video_99"


def test_dataset_error_is_a_value_error():
    assert issubclass(DatasetError, ValueError)


# ---------------------------------------------------------------------------------------------
# field-level errors: each corrupts video_2 of a demo copy


def _features(path):
    return read_field(path, "video_2", "features")


def _n_frames(path):
    return int(read_field(path, "video_2", "n_frames"))


CORRUPTIONS = {
    "missing field": ("gtscore", None, "missing field"),
    "features not 2-D": ("features", lambda p: _features(p)[:, 0], "expected 2-D"),
    "feature width": ("features", lambda p: _features(p)[:, :1000], "expected width 1024"),
    "feature rows": ("features", lambda p: _features(p)[:-1], "rows"),
    "features non-numeric": ("features", lambda p: np.array([b"a", b"b"]), "wrong dtype"),
    "features NaN": ("features", lambda p: np.where(np.arange(1024) == 7, np.nan, _features(p)),
                     "NaN or infinite"),
    "gtscore length": ("gtscore", lambda p: read_field(p, "video_2", "gtscore")[:-2], "wrong shape"),
    "gtscore infinite": ("gtscore", lambda p: np.append(read_field(p, "video_2", "gtscore")[:-1],
                                                        np.inf), "NaN or infinite"),
    "picks not increasing": ("picks", lambda p: read_field(p, "video_2", "picks")[::-1],
                             "not strictly increasing"),
    "picks beyond n_frames": ("picks", lambda p: read_field(p, "video_2", "picks") + _n_frames(p),
                              "[0, n_frames-1]"),
    "picks fractional": ("picks", lambda p: read_field(p, "video_2", "picks") + 0.5,
                         "whole numbers"),
    "change_points shape": ("change_points", lambda p: read_field(p, "video_2", "change_points")[:, 0],
                            "(S, 2)"),
    "change point past the end": ("change_points", lambda p: read_field(p, "video_2", "change_points")
                                  + [0, 1], "out of range"),
    "change point reversed": ("change_points", lambda p: read_field(p, "video_2", "change_points")[:, ::-1],
                              "reversed"),
    "change point negative": ("change_points", lambda p: read_field(p, "video_2", "change_points") - 1,
                              "out of range"),
    "user_summary width": ("user_summary", lambda p: read_field(p, "video_2", "user_summary")[:, 1:],
                           "n_frames="),
    "user_summary 1-D": ("user_summary", lambda p: read_field(p, "video_2", "user_summary")[0],
                         "wrong shape"),
    "n_frames not positive": ("n_frames", lambda p: np.int64(0), "positive"),
    "n_frames too large for int64": ("n_frames", lambda p: np.float64(1e30), "too large"),
    "change points in reverse order": ("change_points", lambda p: _shots(p)[::-1], "not in increasing order"),
    "last shot ends early": ("change_points", lambda p: _shots(p, (-1, 1), -1), "before the last frame"),
    "constant gtscore outside [0, 1]": ("gtscore", lambda p: read_field(p, "video_2", "gtscore") * 0 + 2,
                                        "cannot be min-max normalised"),
    "n_steps disagrees": ("n_steps", lambda p: np.int64(read_field(p, "video_2", "picks").size + 1),
                          "picks has"),
    "user_summary not 0/1": ("user_summary", lambda p: read_field(p, "video_2", "user_summary") * 0.5,
                             "0/1 values"),
    "user_summary negative": ("user_summary", lambda p: -read_field(p, "video_2", "user_summary"), "0/1 values"),
}


def _shots(path, at=None, delta=0):
    """video_2's change_points, with one entry (row, column) moved by delta frames."""
    shots = read_field(path, "video_2", "change_points").copy()
    if at is not None:
        shots[at] += delta
    return shots


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_corrupted_field_names_file_video_and_field(h5_copy, case):
    field, make_value, expected = CORRUPTIONS[case]
    if make_value is None:
        with h5py.File(h5_copy, "a") as h5:
            del h5["video_2"][field]
    else:
        replace_field(h5_copy, "video_2", field, make_value(h5_copy))
    with pytest.raises(DatasetError) as caught:
        dataset.load_h5(h5_copy)
    assert_names(caught.value, h5_copy, "video_2", field)
    assert expected in str(caught.value)


#: Layouts the reference code computes a well-defined result on (they were refused before the real files' layouts
#: were known): case -> (field, new value, the file's note, what the loaded video holds).
COMPUTED_WITH_A_NOTE = {
    "overlapping shots": ("change_points", lambda p: _shots(p, (1, 0), -1), "shots overlap",
                          lambda r, v: np.array_equal(r.change_points, v)),
    "a gap between shots": ("change_points", lambda p: _shots(p, (1, 0), +1), "uncovered",
                            lambda r, v: np.array_equal(r.change_points, v)),
    "first shot after frame 0": ("change_points", lambda p: _shots(p, (0, 0), +1), "starts after frame 0",
                                 lambda r, v: r.change_points[0, 0] == 1),
    "n_frame_per_seg disagrees": ("n_frame_per_seg", lambda p: read_field(p, "video_2", "n_frame_per_seg") + 1,
                                  "n_frame_per_seg disagrees",
                                  lambda r, v: np.array_equal(r.n_frame_per_seg, np.diff(r.change_points, axis=1)[:, 0] + 1)),
    "n_frame_per_seg length": ("n_frame_per_seg", lambda p: read_field(p, "video_2", "n_frame_per_seg")[1:],
                               "n_frame_per_seg disagrees", lambda r, v: r.n_frame_per_seg.size == len(r.change_points)),
    "gtscore above 1": ("gtscore", lambda p: read_field(p, "video_2", "gtscore") * 2, "min-max normalised",
                        lambda r, v: r.gtscore.min() == 0 and r.gtscore.max() == 1),
    "gtscore negative": ("gtscore", lambda p: read_field(p, "video_2", "gtscore") - 0.5, "min-max normalised",
                         lambda r, v: r.gtscore.min() == 0 and r.gtscore.max() == 1),
    "gtscore a float step above 1": ("gtscore", lambda p: np.where(np.arange(read_field(p, "video_2", "gtscore").size)
                                                                   == 0, np.float32(1 + 1e-7), read_field(p, "video_2",
                                                                                                          "gtscore")),
                                     "by at most 1e-06", lambda r, v: r.gtscore[0] == np.float32(1 + 1e-7)),
    "gtsummary not 0/1": ("gtsummary", lambda p: read_field(p, "video_2", "gtsummary") + 0.25, "'gtsummary' is malformed or cannot be checked",
                          lambda r, v: r.gtsummary is None),
    "video_name a number": ("video_name", lambda p: np.int64(5), "'video_name' is malformed or cannot be checked",
                            lambda r, v: r.video_name == "video_2"),
}


@pytest.mark.parametrize("case", list(COMPUTED_WITH_A_NOTE))
def test_layouts_the_reference_computes_on_load_with_one_note(h5_copy, case):
    field, make_value, note, holds = COMPUTED_WITH_A_NOTE[case]
    value = make_value(h5_copy)
    replace_field(h5_copy, "video_2", field, value)
    if field == "change_points":                    # the file's own segment lengths follow its shots
        replace_field(h5_copy, "video_2", "n_frame_per_seg", value[:, 1] - value[:, 0] + 1)
    with pytest.warns(dataset.DatasetNotice) as notes:
        record = dataset.load_h5(h5_copy)["video_2"]
    said = [str(n.message) for n in notes if issubclass(n.category, dataset.DatasetNotice)]
    assert len(said) == 1 and said[0].startswith(f"{h5_copy}: 1 of 5 videos: ") and note in said[0]
    assert holds(record, value)


def test_picks_length_mismatch_with_gtscore(h5_copy):
    picks = read_field(h5_copy, "video_2", "picks")
    replace_field(h5_copy, "video_2", "picks", picks[:-1])
    with pytest.raises(DatasetError) as caught:
        dataset.load_h5(h5_copy)
    assert_names(caught.value, h5_copy, "video_2", "features")


# ---------------------------------------------------------------------------------------------
# splits


@pytest.mark.parametrize("name, n_train, n_test", [("SumMe", 20, 5), ("TVSum", 40, 10)])
def test_shipped_splits(name, n_train, n_test):
    splits = dataset.load_splits(name)
    assert len(splits) == 5
    assert [split.name for split in splits] == [f"split{k}" for k in range(5)]
    assert all(len(split.train_keys) == n_train and len(split.test_keys) == n_test
               for split in splits)
    tested = sorted(key for split in splits for key in split.test_keys)
    assert len(tested) == len(set(tested)) == n_train + n_test


def test_dataset_name_is_case_insensitive():
    assert dataset.load_splits("summe") == dataset.load_splits("SumMe")


def write_splits(directory, *lines):
    path = dataset.splits_path("SumMe", directory)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_single_split_is_accepted(tmp_path):
    write_splits(tmp_path, "SumMe/split0/video_1, video_2/video_3", "")
    assert dataset.load_splits("SumMe", tmp_path) == [
        Split(("video_1", "video_2"), ("video_3",), "split0", tmp_path / "SumMe_splits.txt", number=1)]


@pytest.mark.parametrize("line, expected", [
    ("SumMe/split0/video_1,video_2/video_2", "both train and test"),
    ("SumMe/split0/video_1,video_2", "'/'-separated"),
    ("TVSum/split0/video_1/video_2", "expected 'SumMe'"),
    ("SumMe/split0//video_2", "at least one training"),
    ("SumMe/split0/video_1,video_1/video_2", "repeated: video_1"),
])
def test_bad_split_line(tmp_path, line, expected):
    path = write_splits(tmp_path, "SumMe/split0/video_1/video_2", line)
    with pytest.raises(DatasetError) as caught:
        dataset.load_splits("SumMe", tmp_path)
    assert str(path) in str(caught.value) and "line 2" in str(caught.value)
    assert expected in str(caught.value)


def test_empty_and_missing_split_files(tmp_path):
    write_splits(tmp_path)
    with pytest.raises(DatasetError, match="no splits"):
        dataset.load_splits("SumMe", tmp_path)
    with pytest.raises(DatasetError, match="not found"):
        dataset.load_splits("TVSum", tmp_path)


def test_split_keys_checked_against_the_loaded_file(demo):
    videos = dataset.load_h5(demo.summe_h5)
    split = Split(("video_1", "video_7"), ("video_2",), "split3")
    with pytest.raises(DatasetError) as caught:
        dataset.check_split_keys(split, videos, demo.summe_h5)
    message = str(caught.value)
    assert str(demo.summe_h5) in message and "video_7" in message and "split3" in message
    dataset.check_split_keys(Split(("video_1",), ("video_2",)), videos, demo.summe_h5)


def test_split_records_in_split_order(demo):
    videos = dataset.load_h5(demo.tvsum_h5)
    split = dataset.load_splits("TVSum", demo.splits_dir)[2]
    train, test = dataset.split_records(split, videos, demo.tvsum_h5)
    assert [record.key for record in train] == list(split.train_keys)
    assert [record.key for record in test] == list(split.test_keys)


# ---------------------------------------------------------------------------------------------
# paths and imports


def test_default_paths_do_not_depend_on_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert dataset.default_h5_path("SumMe") == REPO / "data" / "eccv16_dataset_summe_google_pool5.h5"
    assert dataset.default_h5_path("tvsum") == REPO / "data" / "eccv16_dataset_tvsum_google_pool5.h5"
    assert dataset.splits_path("tvsum") == REPO / "data" / "splits" / "TVSum_splits.txt"
    assert len(dataset.load_splits("SumMe")) == 5


def test_dataset_modules_do_not_import_torch():
    code = "import sys, dataset, demo.eccv16, demo.mrhisum; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_a_split_naming_a_missing_video_counts_splits_from_one(tmp_path):
    write_splits(tmp_path, "SumMe/split0/video_1,video_2/video_9", "")
    (split,) = dataset.read_splits_file(tmp_path / "SumMe_splits.txt", "SumMe")
    with pytest.raises(DatasetError) as error:
        dataset.check_split_keys(split, {"video_1": None, "video_2": None}, tmp_path / "x.h5")
    assert "(split 1 ('split0' in the file)) names 1 video(s) the file lacks: video_9" in str(error.value)
