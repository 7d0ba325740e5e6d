"""The real public files and the field's generators, each built here in exactly its layout (docs/real-files.md),
load and score as their reference code does: OVP and YouTube as DSNet and as K. Zhang ship them, with DSNet's
real split files; DSNet's make_shots.py and the DR-DSN generator; Mr.HiSum's last row; many videos, a few bad."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

import catalog
import dataset
import train
from dataset import DatasetError, DatasetNotice, InvalidVideos, load_h5
from demo.eccv16 import make_demo_dataset
from demo.layouts import write_layout
from demo.mrhisum import make_mrhisum_like
from evaluation.__main__ import main as evaluation_main
from training.data import load_bundle

REPO = Path(__file__).resolve().parent.parent
SPLITS_DIR = REPO / "data" / "splits"
PUBLIC_LAYOUTS = ("dsnet", "kz")
SETTINGS = [("SumMe", "augmented"), ("TVSum", "transfer"), ("SumMe", "transfer"), ("TVSum", "augmented")]


def eccv16_name(name: str) -> str:
    return f"eccv16_dataset_{name}_google_pool5.h5"


@pytest.fixture(scope="module")
def public_files(tmp_path_factory) -> dict[str, Path]:
    """Per public layout of OVP and YouTube, a data folder as DSNet's split files expect it: SumMe (25 videos)
    and TVSum (50, with its annotations) as the eccv16 files hold them, OVP and YouTube (50 each) in that layout."""
    root = tmp_path_factory.mktemp("public")
    summe = make_demo_dataset(root / "summe", n_videos=25, min_steps=16, max_steps=18)
    tvsum = make_demo_dataset(root / "tvsum", seed=1, n_videos=50, min_steps=16, max_steps=18)
    extra = make_demo_dataset(root / "extra", seed=2, n_videos=50, min_steps=16, max_steps=18)
    folders = {}
    for layout in PUBLIC_LAYOUTS:
        folder = root / layout
        folder.mkdir()
        shutil.copyfile(summe.summe_h5, folder / eccv16_name("summe"))
        shutil.copyfile(tvsum.tvsum_h5, folder / eccv16_name("tvsum"))
        shutil.copyfile(tvsum.tvsum_annotations, folder / "ydata-anno.tsv")
        write_layout(extra.summe_h5, folder / eccv16_name("ovp"), layout)
        write_layout(extra.tvsum_h5, folder / eccv16_name("youtube"), layout)
        folders[layout] = folder
    return folders


def spec(folder: Path, name: str, setting: str):
    return catalog.builtin(name, data_dir=folder, splits_dir=SPLITS_DIR, setting=setting)


def test_dsnets_split_files_ship_with_the_project():
    for name in ("summe_aug", "summe_trans", "tvsum_aug", "tvsum_trans"):
        splits = dataset.read_splits_file(SPLITS_DIR / f"{name}.yml")
        assert len(splits) == 5
        files = {key.split(".h5/")[0] for split in splits for key in split.train_keys}
        assert {"eccv16_dataset_ovp_google_pool5", "eccv16_dataset_youtube_google_pool5"} <= files


@pytest.mark.parametrize("name, setting", SETTINGS)
@pytest.mark.parametrize("layout", PUBLIC_LAYOUTS)
def test_ovp_and_youtube_load_as_training_videos_in_both_public_layouts(public_files, layout, name, setting):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatasetNotice)        # known layouts load without a note
        bundle = load_bundle(spec(public_files[layout], name, setting))
    train_videos, _, test_videos = bundle.split(1)
    ovp = [record for record in train_videos if "ovp" in str(record.path)]
    assert len(ovp) == 50 and all(record.user_summary is None for record in ovp)
    assert all(record.features.shape == (record.n_steps, 1024) and record.gtscore.shape == (record.n_steps,)
               for record in train_videos)
    assert all(record.user_summary is not None and name.lower() in record.path.name for record in test_videos)
    if layout == "kz":
        assert all(record.change_points is None and record.picks is None for record in ovp)


def test_a_test_video_without_its_protocols_fields_is_refused_with_the_remedy(public_files, tmp_path):
    folder = public_files["kz"]
    split = tmp_path / "splits.json"
    split.write_text(json.dumps([{"train_keys": [f"{eccv16_name('summe')}/video_1"],
                                  "test_keys": [f"{eccv16_name('ovp')}/video_4"]}]))
    description = tmp_path / "mine.json"
    description.write_text(json.dumps({"name": "mine", "h5": str(folder / eccv16_name("summe")),
                                       "splits": str(split), "protocol": "SumMe"}))
    with pytest.raises(DatasetError) as error:
        load_bundle(catalog.from_description(description))
    message = str(error.value)
    assert (error.value.video, error.value.field) == ("video_4", "n_frames")
    assert message.startswith(str(folder / eccv16_name("ovp"))) and "use them as training videos only" in message


@pytest.mark.slow
@pytest.mark.parametrize("layout, name, setting", [("dsnet", "SumMe", "augmented"), ("kz", "TVSum", "transfer")])
def test_augmented_and_transfer_train_with_dsnets_split_files(public_files, tmp_path, layout, name, setting):
    argv = ["--datasets", name, "--setting", setting, "--data-dir", str(public_files[layout]), "--splits", "1",
            "--epochs", "1", "--no-pretrained", "--device", "cpu", "--quiet", "--weights-dir", str(tmp_path / "w"),
            "--results-dir", str(tmp_path / "r")]
    assert train.main(argv) == 0
    label = f"{name}-{setting}"
    (line,) = [json.loads(text) for text in (tmp_path / "r" / f"{label}_split1.jsonl").read_text().splitlines()]
    files = {key.split(".h5/")[0] for key in line["order"]}
    assert {"eccv16_dataset_ovp_google_pool5", "eccv16_dataset_youtube_google_pool5"} <= files


# ---------------------------------------------------------------------------------------------
# the field's generators


@pytest.fixture(scope="module")
def summe_demo(tmp_path_factory) -> Path:
    return make_demo_dataset(tmp_path_factory.mktemp("generators"), n_videos=12, min_steps=20, max_steps=40).summe_h5


def scores_file(h5: Path, folder: Path) -> Path:
    rng = np.random.default_rng(7)
    with h5py.File(h5, "r") as file:
        scores = {key: rng.random(file[key]["picks"].shape[0]).tolist() for key in file}
    path = folder / "scores.json"
    path.write_text(json.dumps(scores))
    return path


def evaluate(h5: Path, scores: Path, out: Path, *options) -> dict:
    assert evaluation_main(["--dataset", "SumMe", "--h5", str(h5), "--scores", str(scores), "--out", str(out),
                            *options]) == 0
    return json.loads(out.read_text())


def test_a_drdsn_file_scores_as_its_consistent_twin_with_one_note(summe_demo, tmp_path, capsys):
    drdsn = write_layout(summe_demo, tmp_path / "drdsn.h5", "drdsn")
    with h5py.File(drdsn, "r") as h5:
        shots, lengths = h5["video_1"]["change_points"][()], h5["video_1"]["n_frame_per_seg"][()]
        assert np.array_equal(lengths, shots[:, 1] - shots[:, 0]) and "n_steps" not in h5["video_1"]
    scores = scores_file(summe_demo, tmp_path)
    twin = evaluate(summe_demo, scores, tmp_path / "twin.json")
    assert "warning" not in capsys.readouterr().err
    drdsn_result = evaluate(drdsn, scores, tmp_path / "drdsn.json")
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert said == [f"warning: {drdsn}: 12 of 12 videos: n_frame_per_seg disagrees with change_points; CSTA's "
                    f"protocol does not read it: shot lengths are taken from change_points"]
    assert drdsn_result == twin


def test_a_dsnet_make_shots_file_with_user_summaries_scores_as_its_consistent_twin(summe_demo, tmp_path):
    """make_shots.py's own fields are consistent (n_frames = 15 T - 1, shots on the 15-frame grid); with the user
    summaries a user adds, it loads without a note and scores as the same content written by this project."""
    shots_file = write_layout(summe_demo, tmp_path / "dsnet.h5", "dsnet")
    rng = np.random.default_rng(3)
    with h5py.File(shots_file, "a") as h5:
        for key in h5:
            n_frames = int(h5[key]["n_frames"][()])
            h5[key]["user_summary"] = (rng.random((3, n_frames)) < 0.15).astype(np.float32)
    loaded = load_h5(shots_file)
    twin = tmp_path / "twin.h5"
    dataset.write_eccv16(twin, loaded.values())
    scores = scores_file(shots_file, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatasetNotice)
        assert evaluate(shots_file, scores, tmp_path / "a.json") == evaluate(twin, scores, tmp_path / "b.json")
    record = loaded["video_1"]
    assert record.n_frames == 15 * record.n_steps - 1 and record.change_points[-1, 1] == record.n_frames - 1


# ---------------------------------------------------------------------------------------------
# Mr.HiSum's last row, and many videos with a few bad


def test_the_mrhisum_demo_writes_the_real_files_last_row(tmp_path):
    h5_path, _ = make_mrhisum_like(tmp_path, n_videos=5, min_steps=20, max_steps=40, seed=2)
    with h5py.File(h5_path, "r") as h5:
        for key in h5:
            rows, n = h5[key]["change_points"][()], h5[key]["features"].shape[0]
            assert rows[-1, 1] == n - 1 and np.array_equal(rows[1:, 0], rows[:-1, 1]) and rows[0, 0] == 0
    for record in load_h5(h5_path, schema="mrhisum").values():
        assert record.n_frame_per_seg.sum() == record.n_steps


@pytest.fixture(scope="module")
def many_videos_three_bad(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """A Mr.HiSum-layout file of 1,000 short videos, three of them damaged in three ways."""
    folder = tmp_path_factory.mktemp("many")
    h5_path, split_path = make_mrhisum_like(folder, n_videos=1000, min_steps=8, max_steps=12, seed=5)
    split = json.loads(split_path.read_text())
    bad = [split["train_keys"][3], split["test_keys"][1], split["val_keys"][0]]
    with h5py.File(h5_path, "a") as h5:
        scores = h5[bad[0]]["gtscore"][()]
        del h5[bad[0]]["gtscore"]
        h5[bad[0]]["gtscore"] = np.where(np.arange(scores.size) == 2, np.nan, scores)
        del h5[bad[1]]["gt_summary"]
        rows = h5[bad[2]]["change_points"][()]
        del h5[bad[2]]["change_points"]
        h5[bad[2]]["change_points"] = rows - np.array([0, 1])       # the last row ends at n - 2
    return h5_path, split_path, bad


def test_every_invalid_video_is_named_in_one_line(many_videos_three_bad):
    h5_path, _, bad = many_videos_three_bad
    with pytest.raises(InvalidVideos) as error:
        load_h5(h5_path, schema="mrhisum")
    message = str(error.value)
    assert len(message.splitlines()) == 1 and message.startswith(f"{h5_path}: 3 of 1000 videos cannot be used: ")
    assert all(f"'{key}'" in message for key in bad) and "--exclude-invalid-videos" in message
    assert [e.field for e in error.value.errors] == ["change_points" if k == bad[2] else
                                                    "gtscore" if k == bad[0] else "gt_summary"
                                                    for k in dataset.natural_sorted(bad)]


def test_more_than_twenty_invalid_videos_are_counted_after_the_first_twenty(tmp_path):
    h5_path, _ = make_mrhisum_like(tmp_path, n_videos=30, min_steps=8, max_steps=10, seed=4)
    with h5py.File(h5_path, "a") as h5:
        for key in h5:
            del h5[key]["gt_summary"]
    with pytest.raises(InvalidVideos) as error:
        load_h5(h5_path, schema="mrhisum")
    message = str(error.value)
    assert "30 of 30 videos cannot be used" in message and " and 10 more: field 'gt_summary': missing field" in message
    assert message.count("'video_") == 20


def test_the_exclusion_option_scores_the_others_and_says_how_many(many_videos_three_bad, tmp_path, capsys):
    h5_path, split_path, bad = many_videos_three_bad
    with h5py.File(h5_path, "r") as h5:
        scores = {key: np.linspace(0, 1, h5[key]["features"].shape[0]).tolist() for key in h5}
    scores_path = tmp_path / "scores.json"
    scores_path.write_text(json.dumps(scores))
    common = ["--dataset", "MrHiSum", "--h5", str(h5_path), "--scores", str(scores_path)]
    assert evaluation_main(common) == 2
    assert "3 of 1000 videos cannot be used" in capsys.readouterr().err
    assert evaluation_main([*common, "--exclude-invalid-videos", "--out", str(tmp_path / "out.json")]) == 0
    out, err = capsys.readouterr()
    assert "MrHiSum, 997 of 1000 videos (3 invalid, left out)" in out
    written = json.loads((tmp_path / "out.json").read_text())
    assert len(written["videos"]) == 997 and sorted(written["excluded"]) == sorted(bad)
    left_out = [line for line in err.splitlines() if line.startswith("warning: ") and "left out" in line]
    assert len(left_out) == 3 and all(any(f"'{key}'" in line for line in left_out) for key in bad)


def test_the_exclusion_option_trims_the_splits_and_counts_what_was_used(many_videos_three_bad):
    h5_path, split_path, bad = many_videos_three_bad
    mrhisum = catalog.DatasetSpec("MrHiSum", "MrHiSum", h5_path, split_path, schema="mrhisum")
    with pytest.raises(InvalidVideos):
        load_bundle(mrhisum)
    with pytest.warns(DatasetNotice):
        bundle = load_bundle(mrhisum, exclude_invalid=True)
    assert bundle.used == "997 of 1000" and sorted(bundle.excluded) == sorted(bad)
    assert not set(bad) & set(bundle.splits[0].keys)


def test_docs_real_files_quotes_the_current_rule_tables():
    from dataset.loading import SCHEMAS
    from dataset.rules import describe

    assert describe(SCHEMAS.values()) in (REPO / "docs" / "real-files.md").read_text()


@pytest.mark.slow
def test_train_and_inference_without_the_invalid_videos_say_how_many_were_used(tmp_path, capsys):
    import inference

    demo = make_demo_dataset(tmp_path / "demo", n_videos=6, min_steps=16, max_steps=20)
    (split,) = dataset.read_splits_file(demo.splits_path("SumMe"))[:1]
    bad = split.train_keys[0]
    with h5py.File(demo.summe_h5, "a") as h5:
        scores = h5[bad]["gtscore"][()]
        del h5[bad]["gtscore"]
        h5[bad]["gtscore"] = np.where(np.arange(scores.size) == 0, np.nan, scores)
    description = tmp_path / "mine.json"
    description.write_text(json.dumps({"name": "mine", "h5": str(demo.summe_h5),
                                       "splits": str(demo.splits_path("SumMe")), "protocol": "SumMe"}))
    common = ["--datasets", str(description), "--splits", "1", "--device", "cpu", "--weights-dir",
              str(tmp_path / "w"), "--results-dir", str(tmp_path / "r")]
    assert train.main([*common, "--epochs", "1", "--no-pretrained", "--quiet"]) == 2
    assert f"video '{bad}': field 'gtscore': contains NaN" in capsys.readouterr().err
    assert train.main([*common, "--epochs", "1", "--no-pretrained", "--quiet", "--exclude-invalid-videos"]) == 0
    out, err = capsys.readouterr()
    assert "5 of 6 videos used, the invalid ones left out" in out and f"video '{bad}'" in err
    record = json.loads((tmp_path / "w" / "mine" / "split1.json").read_text())
    assert record["videos_used"] == "5 of 6" and record["excluded_videos"] == [bad]
    assert bad not in record["split_videos"]["train"]
    result = tmp_path / "inference.json"                    # scoring reads no training video: none is left out
    assert inference.main([*common, "--exclude-invalid-videos", "--out", str(result)]) == 0
    out, err = capsys.readouterr()
    assert "videos used" not in out and "'gtscore' is malformed or cannot be checked" in err
    scored = json.loads(result.read_text())["datasets"]["mine"]
    assert "videos_used" not in scored and set(scored["splits"]["1"]["videos"]) == set(split.test_keys)
    assert len(split.test_keys) == 2                        # a test video damaged after training: left out
    with h5py.File(demo.summe_h5, "a") as h5:
        del h5[split.test_keys[0]]["user_summary"]
    assert inference.main([*common, "--exclude-invalid-videos", "--out", str(result)]) == 0
    assert "mine (5 of 6 videos)" in capsys.readouterr().out
    scored = json.loads(result.read_text())["datasets"]["mine"]
    assert scored["videos_used"] == "5 of 6" and list(scored["excluded_videos"]) == [split.test_keys[0]]


def test_a_split_left_without_test_videos_is_refused_when_it_is_used(tmp_path):
    demo = make_demo_dataset(tmp_path / "demo", n_videos=6, min_steps=16, max_steps=20)
    splits = dataset.read_splits_file(demo.splits_path("SumMe"))
    emptied = next(split for split in splits if len(split.test_keys) == 1)
    with h5py.File(demo.summe_h5, "a") as h5:
        del h5[emptied.test_keys[0]]["user_summary"]
    spec_ = catalog.DatasetSpec("SumMe", "SumMe", demo.summe_h5, demo.splits_path("SumMe"))
    with pytest.warns(DatasetNotice):
        bundle = load_bundle(spec_, exclude_invalid=True)
    with pytest.raises(DatasetError, match=re.escape(f"{emptied.label}: no test video is left")):
        bundle.split(emptied.number)
    other = next(split for split in splits if emptied.test_keys[0] not in split.test_keys)
    assert emptied.test_keys[0] not in {r.key for part in bundle.split(other.number) for r in part}


# ---------------------------------------------------------------------------------------------
# what each role reads, and damage that no role may use


@pytest.fixture
def six_videos(tmp_path) -> tuple[Path, Path, "dataset.Split"]:
    """A demo SumMe file of 6 videos described as a dataset, and its first split."""
    demo = make_demo_dataset(tmp_path / "demo", n_videos=6, min_steps=16, max_steps=20)
    description = tmp_path / "mine.json"
    description.write_text(json.dumps({"name": "mine", "h5": str(demo.summe_h5),
                                       "splits": str(demo.splits_path("SumMe")), "protocol": "SumMe"}))
    return demo.summe_h5, description, dataset.read_splits_file(demo.splits_path("SumMe"))[0]


def set_value(h5_path: Path, key: str, field: str, change) -> None:
    with h5py.File(h5_path, "a") as h5:
        value = change(h5[key][field][()])
        del h5[key][field]
        h5[key][field] = value


def test_a_test_videos_features_are_read_and_a_training_videos_are_not_when_scoring(six_videos):
    """The model scores test videos from their features: NaN there is refused (or left out when asked);
    scoring saved weights reads no training video at all."""
    h5_path, description, _ = six_videos
    one_split = description.parent / "one_split.json"
    one_split.write_text(json.dumps([{"train_keys": ["video_1", "video_2", "video_3", "video_4"],
                                      "test_keys": ["video_5", "video_6"]}]))
    description.write_text(json.dumps({**json.loads(description.read_text()), "splits": str(one_split)}))
    set_value(h5_path, "video_5", "features", lambda x: np.where(np.arange(x.size).reshape(x.shape) == 0, np.nan, x))
    set_value(h5_path, "video_2", "features", lambda x: x[:, :512])
    spec_ = catalog.from_description(description)
    with pytest.raises(InvalidVideos) as error:
        load_bundle(spec_)
    assert {(e.video, e.field) for e in error.value.errors} == {("video_5", "features"), ("video_2", "features")}
    with pytest.warns(DatasetNotice):
        scoring = load_bundle(spec_, training=False, exclude_invalid=True)
    assert list(scoring.excluded) == ["video_5"] and scoring.used == "5 of 6"


@pytest.mark.parametrize("damage, words", [
    (lambda x: (x > 0.5), "wrong dtype bool"),
    (lambda x: (x * 100).astype(np.int8), "wrong dtype int8"),
])
def test_features_that_are_not_floating_point_are_refused(six_videos, damage, words):
    h5_path, _, split = six_videos
    set_value(h5_path, split.train_keys[1], "features", damage)
    with pytest.raises(DatasetError, match=words):
        load_h5(h5_path)


def test_a_gtscore_far_beyond_any_scale_is_damage_not_a_scale(six_videos):
    h5_path, _, split = six_videos
    set_value(h5_path, split.train_keys[1], "gtscore", lambda x: np.where(np.arange(x.size) == 3, 1e30, x))
    with pytest.raises(DatasetError, match=r"beyond ±1e\+06") as error:
        load_h5(h5_path)
    assert (error.value.video, error.value.field) == (split.train_keys[1], "gtscore")


@pytest.mark.parametrize("link", ["hard", "soft"])
def test_one_video_named_twice_through_a_link_is_refused(six_videos, link):
    h5_path, _, _ = six_videos
    with h5py.File(h5_path, "a") as h5:
        del h5["video_3"]
        h5["video_3"] = h5["video_1"] if link == "hard" else h5py.SoftLink("/video_1")
    with pytest.raises(DatasetError, match="is the same group as video 'video_1'") as error:
        load_h5(h5_path)
    assert error.value.video == "video_3"


@pytest.mark.parametrize("layout", PUBLIC_LAYOUTS)
def test_validation_videos_are_carved_from_the_training_videos_the_protocol_can_score(public_files, layout):
    """In the augmented and transfer settings the training pool mixes files: OVP and YouTube (no user summaries)
    are never held out for selection, nor, for TVSum, videos its annotations do not cover (so TVSum's transfer
    setting has none to hold out, and says so)."""
    for name, setting in SETTINGS:
        bundle = load_bundle(spec(public_files[layout], name, setting))
        if (name, setting) == ("TVSum", "transfer"):
            with pytest.raises(ValueError, match="0 training video"):
                bundle.with_validation(0.2, 123456)
            continue
        for split in bundle.with_validation(0.2, 123456).splits:
            assert split.val_keys and not any("ovp" in key or "youtube" in key for key in split.val_keys)
            if name == "TVSum":
                assert all(key.startswith(eccv16_name("tvsum")) for key in split.val_keys)


def test_the_original_splits_carve_the_same_validation_videos_as_before():
    from training.data import carve_validation

    (split,) = dataset.read_splits_file(REPO / "data" / "splits" / "SumMe_splits.txt")[:1]
    carved = carve_validation(split, 0.2, 123456)
    rng = np.random.default_rng([123456, split.number])
    drawn = set(rng.choice(len(split.train_keys), size=4, replace=False).tolist())
    assert carved.val_keys == tuple(k for i, k in enumerate(split.train_keys) if i in drawn)


@pytest.mark.slow
def test_resume_starts_over_when_the_split_changed_since_the_progress_file(six_videos, tmp_path, capsys):
    """A stopped split whose split file (or whose videos left out) changed is trained from epoch 1 again: its saved
    epochs were trained on videos it may now test on."""
    import signal
    import subprocess
    import sys
    import time

    h5_path, description, split = six_videos
    common = [sys.executable, str(REPO / "train.py"), "--datasets", str(description), "--splits", "1", "--device",
              "cpu", "--no-pretrained", "--quiet", "--weights-dir", str(tmp_path / "w"), "--results-dir",
              str(tmp_path / "r")]
    run = subprocess.Popen([*common, "--epochs", "3"], stderr=subprocess.PIPE, text=True)
    progress = tmp_path / "w" / "mine" / "split1.progress.pt"
    deadline = time.monotonic() + 300
    while not progress.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    run.send_signal(signal.SIGTERM)
    run.wait(timeout=120)
    assert progress.exists()
    splits_file = Path(json.loads(description.read_text())["splits"])
    lines = splits_file.read_text().splitlines()
    moved = split.train_keys[0]
    name, label, train_text, test_text = lines[0].split("/")
    lines[0] = "/".join([name, label, ",".join(k for k in train_text.split(",") if k != moved),
                         test_text + "," + moved])
    splits_file.write_text("\n".join(lines) + "\n")
    resumed = subprocess.run([*common, "--epochs", "3", "--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "was written for other videos of this split" in resumed.stderr
    assert "continuing at epoch" not in resumed.stdout + resumed.stderr
    record = json.loads((tmp_path / "w" / "mine" / "split1.json").read_text())
    assert record["resumed_from_epoch"] == 0 and moved in record["split_videos"]["test"]
