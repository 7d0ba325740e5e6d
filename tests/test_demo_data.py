"""demo/eccv16.py: the synthetic eccv16 dataset is faithful in form, deterministic and learnable."""
import inspect
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.stats import kendalltau, rankdata

import dataset
import demo.eccv16 as demo_data
from demo.eccv16 import DemoParameters, ensure_demo_dataset, make_demo_dataset

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_dataset(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def annotations(demo):
    """{youtube_id: (category, [scores per annotator])} in file order."""
    rows = {}
    for line in demo.tvsum_annotations.read_text().splitlines():
        youtube_id, category, scores = line.split("\t")
        rows.setdefault(youtube_id, (category, []))[1].append(np.array(scores.split(","), int))
    return rows


def all_files_bytes(paths):
    return [path.read_bytes() for path in paths.all_files]


# ---------------------------------------------------------------------------------------------
# form


@pytest.mark.parametrize("name, fixture", [("SumMe", "eval_fixture_summe.h5"),
                                           ("TVSum", "eval_fixture_tvsum.h5")])
def test_same_fields_dtypes_and_ranks_as_eccv16(demo, name, fixture):
    with h5py.File(FIXTURES / fixture, "r") as reference, h5py.File(demo.h5_path(name), "r") as h5:
        expected = reference[next(iter(reference))]
        for key in h5:
            group = h5[key]
            assert set(group) == set(expected) | {"features"}
            for field in expected:
                assert group[field].dtype == expected[field].dtype, (key, field)
                assert group[field].ndim == expected[field].ndim, (key, field)
            assert group["features"].dtype == np.float32
            assert group["features"].shape == (len(group["picks"]), 1024)


@pytest.mark.parametrize("name, users", [("SumMe", range(15, 19)), ("TVSum", [20])])
def test_videos_follow_the_eccv16_conventions(demo, name, users):
    videos = dataset.load_h5(demo.h5_path(name))
    assert list(videos) == [f"video_{i}" for i in range(1, 26)]
    for record in videos.values():
        assert 24 <= record.n_steps <= 60
        assert np.array_equal(record.picks, np.arange(0, record.n_frames, 15))
        starts, ends = record.change_points.T
        assert starts[0] == 0 and ends[-1] == record.n_frames - 1
        assert np.array_equal(starts[1:], ends[:-1] + 1)
        assert record.n_frame_per_seg.sum() == record.n_frames
        assert record.n_users in users
        assert set(np.unique(record.user_summary)) <= {0.0, 1.0}
        assert 0.05 < record.user_summary.mean() < 0.25
        assert record.gtscore.min() == 0.0 and record.gtscore.max() == 1.0
        assert set(np.unique(record.gtsummary)) == {0.0, 1.0}
        assert record.features.min() >= 0.0


def test_tvsum_annotations_in_ydata_format(demo, annotations):
    videos = dataset.load_h5(demo.tvsum_h5)
    assert list(annotations) == [record.video_name for record in videos.values()]
    for record, (category, scores) in zip(videos.values(), annotations.values()):
        assert category in demo_data.TVSUM_CATEGORIES and len(record.video_name) == 11
        assert len(scores) == 20
        for row in scores:
            assert len(row) == record.n_frames and row.min() >= 1 and row.max() <= 5
            assert len(row[::15]) == record.n_steps


@pytest.mark.parametrize("name", ["SumMe", "TVSum"])
def test_splits_test_every_video_once(demo, name):
    videos = dataset.load_h5(demo.h5_path(name))
    splits = dataset.load_splits(name, demo.splits_dir)
    assert len(splits) == 5
    for split in splits:
        dataset.check_split_keys(split, videos, demo.h5_path(name))
        assert sorted(split.keys) == sorted(videos)
    tested = sorted(key for split in splits for key in split.test_keys)
    assert tested == sorted(videos)


def test_paths_by_dataset_name(demo):
    assert demo.h5_path("summe") == demo.summe_h5 and demo.h5_path("TVSum") == demo.tvsum_h5
    assert demo.annotations_path("TVSum") == demo.tvsum_annotations
    assert demo.annotations_path("SumMe") is None
    assert demo.splits_path("tvsum") == demo.splits_dir / "TVSum_splits.txt"
    with pytest.raises(ValueError, match="unknown demo dataset"):
        demo.h5_path("OVP")


# ---------------------------------------------------------------------------------------------
# determinism, speed, idempotence


def test_same_seed_gives_identical_files(demo, tmp_path):
    again = make_demo_dataset(tmp_path)
    assert all_files_bytes(again) == all_files_bytes(demo)


def test_same_seed_gives_identical_arrays(demo, tmp_path):
    again = dataset.load_h5(make_demo_dataset(tmp_path).summe_h5)
    for key, record in dataset.load_h5(demo.summe_h5).items():
        assert np.array_equal(record.features, again[key].features)
        assert np.array_equal(record.user_summary, again[key].user_summary)


def test_other_seed_gives_other_data(demo, tmp_path):
    other = dataset.load_h5(make_demo_dataset(tmp_path, seed=1).summe_h5)
    first = dataset.load_h5(demo.summe_h5)
    assert not np.array_equal(first["video_1"].gtscore[:10], other["video_1"].gtscore[:10])


def test_generation_is_fast(tmp_path):
    started = time.process_time()
    make_demo_dataset(tmp_path)
    assert time.process_time() - started < 2.0


def test_ensure_generates_only_when_missing_or_stale(tmp_path, monkeypatch):
    paths = ensure_demo_dataset(tmp_path, n_videos=5, min_steps=20, max_steps=30)
    written = paths.summe_h5.stat().st_mtime_ns
    assert ensure_demo_dataset(tmp_path, n_videos=5, min_steps=20, max_steps=30) == paths
    assert paths.summe_h5.stat().st_mtime_ns == written

    monkeypatch.setattr(demo_data, "DEMO_GENERATOR_VERSION", demo_data.DEMO_GENERATOR_VERSION + 1)
    ensure_demo_dataset(tmp_path, n_videos=5, min_steps=20, max_steps=30)
    with h5py.File(paths.summe_h5, "r") as h5:
        assert h5.attrs["demo_generator_version"] == demo_data.DEMO_GENERATOR_VERSION

    ensure_demo_dataset(tmp_path, n_videos=6, min_steps=20, max_steps=30)
    assert len(dataset.load_h5(paths.tvsum_h5)) == 6

    paths.tvsum_annotations.unlink()
    ensure_demo_dataset(tmp_path, n_videos=6, min_steps=20, max_steps=30)
    assert paths.tvsum_annotations.is_file()
    assert not list(tmp_path.glob("**/*.tmp"))


@pytest.mark.parametrize("options, message", [
    (dict(n_videos=3), "n_splits"),
    (dict(min_steps=40, max_steps=30), "max_steps"),
    (dict(min_steps=10, max_steps=30), "summary budget"),
])
def test_impossible_parameters_are_refused(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        make_demo_dataset(tmp_path, **options)


def test_parameters_default_to_the_function_defaults():
    assert DemoParameters().n_videos == 25 and DemoParameters().n_tvsum_annotators == 20
    defaults = DemoParameters()
    for function in (make_demo_dataset, ensure_demo_dataset):
        for name, parameter in inspect.signature(function).parameters.items():
            if parameter.default is not inspect.Parameter.empty and name != "out_dir":
                assert parameter.default == getattr(defaults, name), (function.__name__, name)


# ---------------------------------------------------------------------------------------------
# the signal: learnable from the features, invisible to random scores


def ridge_predictor(train_records):
    features = np.concatenate([record.features for record in train_records]).astype(np.float64)
    targets = np.concatenate([record.gtscore for record in train_records]).astype(np.float64)
    mean = features.mean(axis=0)
    centred = features - mean
    weights = np.linalg.solve(centred.T @ centred + 10.0 * np.eye(centred.shape[1]),
                              centred.T @ (targets - targets.mean()))
    return lambda record: (record.features - mean) @ weights


def rank_tau(a, b):
    return kendalltau(rankdata(a), rankdata(b))[0]


def keyshot_summary(record, step_scores):
    """CSTA's summary: each step scores frames up to the next pick, shots by mean, 15% knapsack."""
    boundaries = np.append(record.picks, record.n_frames)
    frame_scores = np.repeat(step_scores, np.diff(boundaries))
    return demo_data._keyshot_summary(frame_scores, record.change_points)


def tvsum_tau(step_scores, annotator_scores):
    return np.mean([rank_tau(step_scores, (row / row.max())[::15]) for row in annotator_scores])


def summe_tau(record, step_scores):
    return rank_tau(keyshot_summary(record, step_scores), record.user_summary.mean(axis=0))


def protocol_taus(demo, name, annotations):
    """Mean τ over all splits' test videos for the ridge predictor and for random scores."""
    videos = dataset.load_h5(demo.h5_path(name))
    scores_per_video = list(annotations.values())
    rng = np.random.default_rng(7)
    learned, random = [], []
    for split in dataset.load_splits(name, demo.splits_dir):
        train, test = dataset.split_records(split, videos, demo.h5_path(name))
        predict = ridge_predictor(train)
        for record in test:
            predictions = {"learned": predict(record), "random": rng.random(record.n_steps)}
            if name == "TVSum":
                annotator_scores = scores_per_video[int(record.key.split("_")[1]) - 1][1]
                taus = {kind: tvsum_tau(scores, annotator_scores)
                        for kind, scores in predictions.items()}
            else:
                taus = {kind: summe_tau(record, scores) for kind, scores in predictions.items()}
            learned.append(taus["learned"])
            random.append(taus["random"])
    return np.mean(learned), np.mean(random)


@pytest.mark.parametrize("name", ["SumMe", "TVSum"])
def test_signal_is_learnable_and_random_scores_are_not(demo, annotations, name):
    learned, random = protocol_taus(demo, name, annotations)
    assert learned > 0.25
    assert abs(random) < 0.1


def test_gtscore_is_predictable_from_features(demo):
    videos = dataset.load_h5(demo.summe_h5)
    split = dataset.load_splits("SumMe", demo.splits_dir)[0]
    train, test = dataset.split_records(split, videos, demo.summe_h5)
    predict = ridge_predictor(train)
    assert np.mean([rank_tau(predict(record), record.gtscore) for record in test]) > 0.5
