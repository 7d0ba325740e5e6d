"""The run modules behind the entry scripts, called directly: ``training.run`` (train.py) and
``training.inference_run`` (inference.py)."""

from __future__ import annotations

import collections
import json
import pickle
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from config import Config
from evaluation.protocols import PROTOCOLS
from storage.checkpoints import DamagedProgress, UnsafeFile, progress_path, read_progress_file
from storage.files import OutputLocationError
from training import inference_run, run

SPECS = [SimpleNamespace(name="SumMe"), SimpleNamespace(name="TVSum")]


def folders(tmp_path: Path, **changes) -> Config:
    return Config(weights_dir=str(tmp_path / "w"), results_dir=str(tmp_path / "r"), **changes)


# ---------------------------------------------------------------------------------------------
# training.run: where a run writes


def test_one_run_writes_into_the_folders_given():
    config = Config(weights_dir="w", results_dir="r", tensorboard="tb")
    assert run.run_directories(config, 0) is config


def test_each_of_several_runs_has_its_own_folders_and_seed():
    config = Config(weights_dir="w", results_dir="r", runs=3, seed=10)
    third = run.run_directories(config, 2)
    assert (third.seed, third.runs) == (12, 1)
    assert (third.weights_dir, third.results_dir) == (str(Path("w/run3_seed12")), str(Path("r/run3_seed12")))
    assert third.tensorboard == ""
    assert run.run_directories(config, 0).weights_dir == str(Path("w/run1_seed10"))


def test_a_split_log_is_named_after_its_dataset_and_split():
    assert run.split_log_path("results", "TVSum", 4) == Path("results/TVSum_split4.jsonl")


def test_a_split_is_recorded_as_its_file_names_its_videos():
    split = SimpleNamespace(train_keys=("video_1", "video_2"), val_keys=(), test_keys=("video_3",))
    assert run.split_videos(split) == {"train": ["video_1", "video_2"], "validation": [], "test": ["video_3"]}


# ---------------------------------------------------------------------------------------------
# training.run: the checks before any training


def test_the_space_needed_counts_every_checkpoint_and_two_progress_files():
    model = torch.nn.Linear(10, 3)                      # 33 float32 parameters: 132 bytes
    assert run.output_space(model, Config(), 4) == 4 * 132 + 2 * 4 * 132 + (1 << 20)
    assert run.output_space(model, Config(progress_every=0), 4) == 4 * 132 + (1 << 20)


def test_the_outputs_check_makes_the_folders(tmp_path):
    config = folders(tmp_path, splits=(1, 2))
    run.check_outputs(torch.nn.Linear(2, 1), config, SPECS)
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["SumMe", "TVSum"]
    assert (tmp_path / "r").is_dir()


def test_a_weights_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "w").write_text("not a folder")
    with pytest.raises(OutputLocationError, match=r": exists and is not a folder$") as refused:
        run.check_outputs(torch.nn.Linear(2, 1), folders(tmp_path), SPECS)
    assert str(refused.value) == f"{tmp_path / 'w'}: exists and is not a folder"


def test_a_results_folder_below_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    config = Config(weights_dir=str(tmp_path / "w"), results_dir=str(tmp_path / "file" / "r"))
    with pytest.raises(OutputLocationError) as refused:
        run.check_outputs(torch.nn.Linear(2, 1), config, SPECS)
    assert str(refused.value) == f"{tmp_path / 'file' / 'r'}: cannot be created (a part of the path is a file)"


def test_a_full_weights_folder_is_refused_with_the_space_needed(tmp_path, monkeypatch):
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda folder: usage(1 << 30, (1 << 30) - 1000, 1000))
    with pytest.raises(OutputLocationError) as refused:
        run.check_outputs(torch.nn.Linear(2, 1), folders(tmp_path, splits=(1, 2, 3), runs=2), SPECS)
    message = str(refused.value)
    assert message.startswith(f"{tmp_path / 'w'}: ") and "free, about" in message
    assert message.endswith("needed for 12 checkpoint(s) and the progress files; free some space or choose another "
                            "folder")


def test_a_folder_where_a_log_goes_is_refused(tmp_path):
    log = run.split_log_path(str(tmp_path / "r" / "run2_seed124"), "TVSum", 2)
    log.mkdir(parents=True)
    with pytest.raises(OutputLocationError) as refused:
        run.check_outputs(torch.nn.Linear(2, 1), folders(tmp_path, splits=(1, 2), runs=2, seed=123), SPECS)
    assert str(refused.value) == f"{log}: is a folder; the run writes a file there"


def test_a_progress_file_that_is_not_one_is_refused_and_a_damaged_one_left_to_its_split(tmp_path):
    config = folders(tmp_path, splits=(1, 2))
    run.check_progress_files(config, SPECS)                         # none yet
    damaged = progress_path(config.weights_dir, "SumMe", 1)
    damaged.parent.mkdir(parents=True)
    torch.save({"epoch": 1, "model": {"w": torch.zeros(1000)}}, damaged)
    damaged.write_bytes(damaged.read_bytes()[:600])                 # a write cut short
    with pytest.raises(DamagedProgress):
        read_progress_file(damaged)
    run.check_progress_files(config, SPECS)
    foreign = progress_path(config.weights_dir, "TVSum", 2)
    foreign.parent.mkdir(parents=True)
    torch.save([1, 2, 3], foreign)
    with pytest.raises(UnsafeFile, match="not a progress file"):
        run.check_progress_files(config, SPECS)


# ---------------------------------------------------------------------------------------------
# training.run: workers and the tables


def test_workers_are_started_from_importable_functions():
    assert pickle.loads(pickle.dumps(run.train_and_save)) is run.train_and_save
    assert pickle.loads(pickle.dumps(run._leave_interrupts_to_the_parent)) is run._leave_interrupts_to_the_parent


def test_with_several_gpus_each_worker_takes_the_next():
    two_gpus = SimpleNamespace(cuda=SimpleNamespace(is_available=lambda: True, device_count=lambda: 2))
    no_gpu = SimpleNamespace(cuda=SimpleNamespace(is_available=lambda: False, device_count=lambda: 0))
    assert [run.worker_device(Config(device="auto"), i, two_gpus) for i in range(3)] == ["cuda:0", "cuda:1", "cuda:0"]
    assert run.worker_device(Config(device="cpu"), 1, two_gpus) == "cpu"
    assert run.worker_device(Config(device="auto"), 1, no_gpu) == "auto"


def metrics(kendall: float, spearman: float, f1: float, epoch: int = 1) -> dict:
    return {"kendall": kendall, "spearman": spearman, "f1": f1, "epoch": epoch}


def test_the_spread_of_a_datasets_splits():
    results = {"SumMe": {1: metrics(0.1, 0.2, 40.0), 2: metrics(0.3, 0.2, 50.0)}, "TVSum": {1: metrics(0.5, 0.6, 60.0)},
               "MrHiSum": {}}
    spread = run.split_spread(results, PROTOCOLS)
    assert set(spread) == {"SumMe", "TVSum"}
    assert spread["SumMe"]["kendall"] == {"std": pytest.approx(0.2 / 2 ** 0.5), "min": 0.1, "max": 0.3}
    assert spread["SumMe"]["spearman"]["std"] == 0.0
    assert spread["SumMe"]["f1"] == {"std": pytest.approx(50 ** 0.5), "min": 40.0, "max": 50.0}
    assert spread["TVSum"]["f1"] == {"std": 0.0, "min": 60.0, "max": 60.0}


def test_the_summary_prints_each_datasets_kept_epochs_and_returns_their_means(capsys):
    results = {"SumMe": {2: metrics(0.3, 0.4, 50.0, epoch=7), 1: metrics(0.1, 0.2, 40.0, epoch=3)}, "TVSum": {}}
    finals = run.print_summary(results, PROTOCOLS, selected_on_validation=True)
    assert finals == {"SumMe": {"kendall": pytest.approx(0.2), "spearman": pytest.approx(0.3), "f1": 45.0}}
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "SumMe: kept epochs on the test videos (selected on validation videos)"
    assert lines[2].split() == ["epoch", "Kendall", "tau", "Spearman", "rho", "F1", "(%)"]
    assert [line.split()[:3] for line in lines[4:]] == [["split", "1", "3"], ["split", "2", "7"], ["mean", "0.200",
                                                                                                   "0.300"]]


def test_the_runs_summary_gives_each_dataset_and_split_over_the_runs(tmp_path, capsys):
    config = Config(runs=2, seed=5, results_dir=str(tmp_path))
    per_run_splits = [{"SumMe": {1: metrics(0.1, 0.2, 40.0), 2: metrics(0.3, 0.4, 50.0)}},
                      {"SumMe": {1: metrics(0.3, 0.2, 42.0), 2: metrics(0.5, 0.4, 52.0)}}]
    per_run = [{"SumMe": {"kendall": 0.2, "spearman": 0.3, "f1": 45.0}},
               {"SumMe": {"kendall": 0.4, "spearman": 0.3, "f1": 47.0}}]
    result = run.print_runs(per_run, config, ["SumMe"], per_run_splits)
    assert result["seeds"] == [5, 6]
    assert result["mean_std"]["SumMe"]["kendall"] == [pytest.approx(0.3), pytest.approx(0.2 / 2 ** 0.5)]
    assert result["mean_std"]["SumMe"]["spearman"] == [pytest.approx(0.3), 0.0]
    assert set(result["per_split_over_runs"]["SumMe"]) == {"1", "2"}
    assert result["per_split_over_runs"]["SumMe"]["2"]["f1"]["mean"] == pytest.approx(51.0)
    assert json.loads((tmp_path / "runs_summary.json").read_text()) == json.loads(json.dumps(result))
    out = capsys.readouterr().out
    assert "2 runs (seeds 5..6): mean ± std [95% interval of the mean, Student t]" in out
    assert "SumMe: each split over the runs, mean ± std" in out


# ---------------------------------------------------------------------------------------------
# training.inference_run: where the results go


def test_the_page_beside_the_results():
    assert inference_run.report_path(Path("r/inference.json")) == Path("r/report.html")
    assert inference_run.report_path(Path("r/tvsum.json")) == Path("r/tvsum.html")


def test_a_fresh_results_path_is_accepted_and_its_folder_made(tmp_path):
    out = tmp_path / "new" / "inference.json"
    assert inference_run.check_result_paths(out) == tmp_path / "new" / "report.html"
    assert out.parent.is_dir()


def test_an_earlier_result_may_be_replaced(tmp_path):
    out = tmp_path / "scores.json"
    out.write_text(json.dumps({"config": {}, "datasets": {}}))
    assert inference_run.check_result_paths(out) == tmp_path / "scores.html"


@pytest.mark.parametrize("name, message", [
    ("report.html", "{out} is the name of the page written beside the results JSON; choose another name"),
    ("scores.txt", "{out}: the results are JSON; give a path ending in .json"),
    ("report.json", "{out}: its page would be report.html, the page of inference.json in that folder; choose "
                    "another name"),
])
def test_a_results_name_that_cannot_be_used_is_refused(tmp_path, name, message):
    out = tmp_path / name
    with pytest.raises(ValueError) as refused:
        inference_run.check_result_paths(out)
    assert str(refused.value) == "--out: " + message.format(out=out)


def test_results_paths_that_are_folders_or_other_files_are_refused(tmp_path):
    def refusal(out: Path) -> str:
        with pytest.raises(ValueError) as refused:
            inference_run.check_result_paths(out)
        return str(refused.value)

    (tmp_path / "a.json").mkdir()
    assert refusal(tmp_path / "a.json") == (f"--out: {tmp_path / 'a.json'} is a folder; give the path of the results "
                                            f"JSON")
    (tmp_path / "summary.json").write_text(json.dumps({"config": {}, "splits": {}}))
    assert refusal(tmp_path / "summary.json") == (f"--out: {tmp_path / 'summary.json'} exists and is not a result of "
                                                  f"inference.py (a training log or summary?); it is left as it is; "
                                                  f"choose another file")
    (tmp_path / "b.html").mkdir()
    assert refusal(tmp_path / "b.json") == (f"--out: {tmp_path / 'b.html'}, the page written beside b.json, is a "
                                            f"folder; choose another --out")
    (tmp_path / "c.html").write_text("<html>mine</html>")
    assert refusal(tmp_path / "c.json") == (f"--out: {tmp_path / 'c.html'}, the page written beside c.json, exists "
                                            f"and was not written by inference.py; it is left as it is; choose "
                                            f"another --out")


# ---------------------------------------------------------------------------------------------
# training.inference_run: what a checkpoint is compared with


def test_a_checkpoint_of_another_split_file_is_warned_about(tmp_path, capsys):
    split = SimpleNamespace(test_keys=("video_1", "video_2"))
    record_path = tmp_path / "split1.json"
    inference_run.warn_when_the_split_changed({}, record_path, split)
    inference_run.warn_when_the_split_changed({"split_videos": {"train": ["video_3"], "validation": [],
                                                                "test": ["video_2", "video_1"]}}, record_path, split)
    assert capsys.readouterr().err == ""
    inference_run.warn_when_the_split_changed({"split_videos": {"train": ["video_2"], "test": ["video_3"]}},
                                              record_path, split)
    assert capsys.readouterr().err == (f"warning: {record_path}: 1 of the 2 test videos scored now were training or "
                                       f"validation videos of this checkpoint (e.g. 'video_2'): the split file, "
                                       f"or the videos left out, changed; these numbers are not a test\n")
    inference_run.warn_when_the_split_changed({"split_videos": {"train": ["video_4"], "test": ["video_3"]}},
                                              record_path, split)
    assert capsys.readouterr().err == (f"warning: {record_path}: the test videos scored now are not those the "
                                       f"checkpoint was trained beside (the split file, or the videos left out, "
                                       f"changed)\n")


def test_the_random_baseline_has_every_metric_of_every_split(eccv16_dirs):
    from training import load_bundle

    bundle = load_bundle(eccv16_dirs.spec("SumMe"))
    by_split = inference_run.random_baseline_by_split(bundle, (1, 3), draws=2)
    assert list(by_split) == [1, 3]
    assert all(set(m) == {*PROTOCOLS["SumMe"].metrics, "f1"} and m["f1"] == m["f1_max"] for m in by_split.values())
    assert inference_run.random_baseline_by_split(bundle, (1, 3), draws=2) == by_split       # seeded
    mean = inference_run.random_baseline(bundle, (1, 3), draws=2)
    assert mean == {key: pytest.approx((by_split[1][key] + by_split[3][key]) / 2) for key in by_split[1]}
    assert all(type(value) is float for value in mean.values())


def test_the_final_table_puts_each_protocols_columns_and_the_random_level_side_by_side():
    results = {
        "SumMe": {"protocol": "SumMe", "final": metrics(0.1, 0.2, 45.0), "performance_over_random": {"mean": 112.5},
                  "random_scores": metrics(0.0, 0.01, 40.0)},
        "MrHiSum": {"protocol": "MrHiSum", "final": {**metrics(0.1, 0.2, 55.0), "map50": 0.6, "map15": 0.3},
                    "random_scores": {**metrics(0.0, 0.0, 50.0), "map50": 0.5, "map15": 0.2}},
    }
    lines = inference_run.final_table(results, (1, 2)).splitlines()
    assert lines[0].startswith("Mean over splits 1, 2; PoR: performance over random")
    assert lines[1].split() == ["FINAL", "Kendall", "tau", "Spearman", "rho", "F1", "(%)", "mAP@50", "mAP@15", "PoR",
                                "(%)", "F1"]
    assert lines[3].split() == ["SumMe", "0.100", "0.200", "45.0", "112.5", "best", "user"]
    assert lines[4].split() == ["random", "scores", "(mean", "of", "20", "draws)", "0.000", "0.010", "40.0"]
    assert lines[5].split() == ["MrHiSum", "0.100", "0.200", "55.0", "0.600", "0.300", "against", "gt_summary"]
