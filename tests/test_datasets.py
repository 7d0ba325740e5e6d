"""Datasets as described values: split file formats, DSNet's augmented and transfer settings end to end,
and a dataset described by a JSON file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

import catalog
import demo.eccv16 as demo_data
import train
from dataset import DatasetError, read_splits_file
from training import load_bundle

EXTRA = {"ovp": 1, "youtube": 2}          # generator seeds of the OVP- and YouTube-like files


def test_pgl_sum_json_splits(tmp_path):
    path = tmp_path / "summe_splits.json"
    path.write_text(json.dumps([{"train_keys": ["video_1", "video_2"], "test_keys": ["video_3"]},
                                {"train_keys": ["video_3"], "test_keys": ["video_1"]}]))
    splits = read_splits_file(path)
    assert [(s.number, s.train_keys, s.test_keys, s.val_keys) for s in splits] == [
        (1, ("video_1", "video_2"), ("video_3",), ()), (2, ("video_3",), ("video_1",), ())]


def test_dsnet_yaml_splits_keep_the_file_of_each_key(tmp_path):
    path = tmp_path / "summe_aug.yml"
    path.write_text(yaml.safe_dump([{"train_keys": ["../datasets/eccv16_dataset_ovp_google_pool5.h5/video_3"],
                                     "test_keys": ["../datasets/eccv16_dataset_summe_google_pool5.h5/video_1"]}]))
    split = read_splits_file(path)[0]
    assert split.train_keys == ("eccv16_dataset_ovp_google_pool5.h5/video_3",)
    assert split.test_keys == ("eccv16_dataset_summe_google_pool5.h5/video_1",)


def test_mrhisum_split_object_is_one_split_with_validation_keys(tmp_path):
    path = tmp_path / "mr_hisum_split.json"
    path.write_text(json.dumps({"train_keys": ["video_1"], "val_keys": ["video_2"], "test_keys": ["video_3"]}))
    (split,) = read_splits_file(path)
    assert split.val_keys == ("video_2",) and split.selection_keys == ("video_2",)


@pytest.mark.parametrize("content, words", [
    ("[{\"train_keys\": [\"a\"], \"test_keys\": [\"a\"]}]", "keys in both train and test"),
    ("[{\"train_keys\": [\"a\"]}]", "at least one training and one test video"),
    ("[{\"train_keys\": [\"a\"], \"test_keys\": [\"b\"], \"dev\": []}]", "unknown field(s) dev"),
    ("{\"train_keys\": [1], \"test_keys\": [\"b\"]}", "train_keys: expected a list of video keys"),
    ("[", "cannot be parsed as JSON"),
    ("{\"train_keys\": [\"a\"], \"test_keys\": [\"b\"], \"test_keys\": [\"c\"]}", "'test_keys' appears twice"),
    ("{\"train_keys\": [\"a\\nb\"], \"test_keys\": [\"b\"]}", "not a plain video key"),
    ("{\"train_keys\": [\"x.h5/\"], \"test_keys\": [\"b\"]}", "names no video"),
    ("{\"train_keys\": \"a\", \"test_keys\": [\"b\"]}", "expected a list of video keys, got str"),
    ("{\"train_keys\": [" + "9" * 5000 + "], \"test_keys\": [\"b\"]}", "cannot be parsed as JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_bad_split_files_are_named(tmp_path, content, words):
    path = tmp_path / "splits.json"
    path.write_text(content)
    with pytest.raises(DatasetError) as error:
        read_splits_file(path)
    assert str(error.value).startswith(str(path)) and words in str(error.value)
    assert len(str(error.value).splitlines()) == 1


@pytest.mark.parametrize("content, words", [
    ("- {train_keys: [a], test_keys: [b], test_keys: [c]}\n", "'test_keys' appears twice"),
    ("- {train_keys: [a], test_keys: [b], 7: []}\n", "unknown field(s) 7"),
    ("- {train_keys: [yes], test_keys: [b]}\n", "entry 0 is True"),
    ("- !!python/object/apply:os.system [echo]\n", "cannot be parsed as YAML"),
    ("[" * 100_000 + "]" * 100_000, "cannot be parsed as YAML"),
])
def test_bad_yaml_split_files_are_named(tmp_path, content, words):
    path = tmp_path / "splits.yml"
    path.write_text(content)
    with pytest.raises(DatasetError) as error:
        read_splits_file(path)
    assert str(error.value).startswith(str(path)) and words in str(error.value)
    assert len(str(error.value).splitlines()) == 1


def test_a_split_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "splits.txt"
    path.write_bytes(b"SumMe/split0/video_1/video_\xff\n")
    with pytest.raises(DatasetError, match="not UTF-8") as error:
        read_splits_file(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("suffix, text", [
    (".txt", "SumMe/split0//video_2\n"),
    (".json", "[{\"test_keys\": [\"video_2\"]}]"),
    (".yml", "- {test_keys: [video_2]}\n"),
    (".json", "{\"train_keys\": [], \"val_keys\": [\"video_1\"], \"test_keys\": [\"video_2\"]}"),
])
def test_splits_without_training_videos_only_when_asked(tmp_path, suffix, text):
    path = tmp_path / f"splits{suffix}"
    path.write_text(text)
    with pytest.raises(DatasetError, match="at least one training"):
        read_splits_file(path)
    (split,) = read_splits_file(path, require_training=False)
    assert split.train_keys == () and split.test_keys == ("video_2",)


@pytest.fixture(scope="module")
def four_files(tmp_path_factory) -> Path:
    """SumMe, TVSum, OVP and YouTube in the eccv16 schema under their real names, and DSNet-style splits."""
    data = tmp_path_factory.mktemp("eccv16")
    main = demo_data.make_demo_dataset(data / "generated", n_videos=5, min_steps=15, max_steps=18)
    for name in ("SumMe", "TVSum"):
        shutil.copyfile(main.h5_path(name), data / f"eccv16_dataset_{name.lower()}_google_pool5.h5")
    shutil.copyfile(main.annotations_path("TVSum"), data / "ydata-anno.tsv")
    for name, seed in EXTRA.items():
        extra = demo_data.make_demo_dataset(data / f"generated_{name}", seed=seed, n_videos=5, min_steps=15,
                                            max_steps=18)
        shutil.copyfile(extra.h5_path("SumMe"), data / f"eccv16_dataset_{name}_google_pool5.h5")
    splits = data / "splits"
    splits.mkdir()

    def key(file: str, number: int) -> str:
        return f"../datasets/eccv16_dataset_{file}_google_pool5.h5/video_{number}"

    for own, other in (("summe", "tvsum"), ("tvsum", "summe")):
        augmented = [{"train_keys": [key(own, i) for i in range(1, 6) if i != k] + [key(other, 1), key("ovp", 2),
                                                                                   key("youtube", 3)],
                      "test_keys": [key(own, k)]} for k in range(1, 6)]
        transfer = [{"train_keys": [key(other, i) for i in range(1, 6)] + [key("ovp", 1), key("youtube", 1)],
                     "test_keys": [key(own, k)]} for k in range(1, 6)]
        (splits / f"{own}_aug.yml").write_text(yaml.safe_dump(augmented))
        (splits / f"{own}_trans.yml").write_text(yaml.safe_dump(transfer))
    return data


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["SumMe", "TVSum"])
@pytest.mark.parametrize("setting", ["augmented", "transfer"])
def test_augmented_and_transfer_settings_train_on_other_files_and_test_on_the_dataset(four_files, tmp_path,
                                                                                      dataset, setting):
    argv = ["--datasets", dataset, "--setting", setting, "--data-dir", str(four_files),
            "--splits-dir", str(four_files / "splits"), "--splits", "2", "--epochs", "1", "--no-pretrained",
            "--device", "cpu", "--quiet", "--weights-dir", str(tmp_path / "w"), "--results-dir", str(tmp_path / "r")]
    assert train.main(argv) == 0
    name = f"{dataset}-{setting}"
    record = json.loads((tmp_path / "w" / name / "split2.json").read_text())
    assert record["protocol"] == dataset and record["config"]["setting"] == setting
    (line,) = [json.loads(l) for l in (tmp_path / "r" / f"{name}_split2.jsonl").read_text().splitlines()]
    files = {key.split(".h5/")[0] for key in line["order"]}
    other = "tvsum" if dataset == "SumMe" else "summe"
    assert {f"eccv16_dataset_{f}_google_pool5" for f in ("ovp", "youtube", other)} <= files
    if setting == "transfer":
        assert f"eccv16_dataset_{dataset.lower()}_google_pool5" not in files


def test_a_missing_setting_file_says_where_dsnet_publishes_it(four_files, tmp_path, capsys):
    argv = ["--datasets", "SumMe", "--setting", "augmented", "--data-dir", str(four_files),
            "--splits-dir", str(tmp_path), "--epochs", "1", "--device", "cpu"]
    assert train.main(argv) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'summe_aug.yml'}: split file not found" in err and "li-plus/DSNet" in err


def test_a_dataset_described_by_json(four_files, tmp_path):
    description = tmp_path / "mine.json"
    splits = tmp_path / "mine_splits.json"
    splits.write_text(json.dumps([{"train_keys": ["video_1", "video_2", "video_3"], "test_keys": ["video_4"]}]))
    description.write_text(json.dumps({"name": "mine", "h5": str(four_files / "eccv16_dataset_ovp_google_pool5.h5"),
                                       "splits": splits.name, "protocol": "SumMe"}))
    spec = catalog.from_description(description)
    assert (spec.name, spec.protocol, spec.schema, spec.splits_path) == ("mine", "SumMe", "eccv16", splits)
    bundle = load_bundle(spec)
    assert bundle.fraction_base() == 5 and [r.key for r in bundle.split(1).test] == ["video_4"]
    argv = ["--datasets", str(description), "--splits", "1", "--epochs", "1", "--no-pretrained", "--device", "cpu",
            "--quiet", "--weights-dir", str(tmp_path / "w"), "--results-dir", str(tmp_path / "r")]
    assert train.main(argv) == 0 and (tmp_path / "w" / "mine" / "split1.pt").is_file()


@pytest.mark.parametrize("content, field", [
    ({"name": "x", "h5": "a.h5", "splits": "s.json"}, "protocol"),
    ({"name": "x", "h5": "a.h5", "splits": "s.json", "protocol": "OVP"}, "protocol"),
    ({"name": "x", "h5": "a.h5", "splits": "s.json", "protocol": "SumMe", "fps": 2}, "fps"),
    ({"name": "../x", "h5": "a.h5", "splits": "s.json", "protocol": "SumMe"}, "name"),
    ({"name": "x", "h5": "a.h5", "splits": "s.json", "protocol": "TVSum", "annotations": 5}, "annotations"),
    ({"name": "x", "h5": "a.h5", "splits": "s.json", "protocol": "SumMe", "annotations": "a.tsv"}, "annotations"),
    ({"name": "x", "h5": "a.h5", "splits": "s.json", "protocol": "SumMe", "schema": ["x"]}, "schema"),
    ({"name": "x", "h5": "a.h5", "splits": "s.json", "protocol": "MrHiSum", "schema": "eccv16"}, "schema"),
    ({"name": "x" * 300, "h5": "a.h5", "splits": "s.json", "protocol": "SumMe"}, "name"),
    ({"name": "x\ty", "h5": "a.h5", "splits": "s.json", "protocol": "SumMe"}, "name"),
    ({"name": "x", "h5": "a\u0000.h5", "splits": "s.json", "protocol": "SumMe"}, "h5"),
    ({"name": "x", "h5": "a.h5", "splits": "p" * 300 + ".json", "protocol": "SumMe"}, "splits"),
    ({"name": "x", "h5": "a.h5", "splits": "s.json", "protocol": 3}, "protocol"),
    ({"name": "x", "h5": "\ud800.h5", "splits": "s.json", "protocol": "SumMe"}, "h5"),
])
def test_bad_descriptions_name_the_field(tmp_path, content, field):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(content))
    with pytest.raises(DatasetError) as error:
        catalog.from_description(path)
    assert f"field '{field}'" in str(error.value) and str(path) in str(error.value)
    assert len(str(error.value).splitlines()) == 1


@pytest.mark.parametrize("text, words", [
    ('{"name": "x", "name": "y", "h5": "a.h5", "splits": "s.json", "protocol": "SumMe"}',
     "field 'name': appears twice"),
    ('{"name": ' + "9" * 5000 + "}", "4300 digits"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('["name"]', "expected a JSON object"),
])
def test_descriptions_that_are_not_plain_json_objects_are_named(tmp_path, text, words):
    path = tmp_path / "d.json"
    path.write_text(text)
    with pytest.raises(DatasetError) as error:
        catalog.from_description(path)
    assert str(error.value).startswith(str(path)) and words in str(error.value)
    assert len(str(error.value).splitlines()) == 1
