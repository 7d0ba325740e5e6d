"""What a second hostile pass found: outputs that would overwrite an input, links and files that are not data,
values no real file holds, options that mean nothing, signals at awkward moments and names that are not UTF-8.
Each ends in one line and an exit status, with every input left as it was."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import inference
import train
from config import Config, ConfigError
from dataset import DatasetError, load_h5, read_splits_file
from evaluation.__main__ import main as evaluation_main
from storage.stopping import run_until_stopped, terminate_as_exception

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SUMME_H5 = FIXTURES / "eval_fixture_summe.h5"
REFERENCE = json.loads((FIXTURES / "eval_reference.json").read_text())

pytestmark = pytest.mark.filterwarnings("ignore::evaluation.UndefinedCorrelationWarning")


def one_error_line(err: str, *parts) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for part in parts:
        assert str(part) in lines[0], (part, lines[0])
    return lines[0]


def summe_scores(tmp_path: Path) -> Path:
    path = tmp_path / "scores.json"
    path.write_text(json.dumps({k: v["uniform"]["scores"] for k, v in REFERENCE["SumMe"].items()}))
    return path


def evaluate(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = evaluation_main(list(argv))
    return status, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------------------------------------
# an output that names an input


@pytest.mark.parametrize("target", ["scores", "h5", "link to the scores"])
def test_evaluation_refuses_an_out_that_is_one_of_its_inputs(tmp_path, target):
    scores = summe_scores(tmp_path)
    h5 = tmp_path / "summe.h5"
    shutil.copy(SUMME_H5, h5)
    (tmp_path / "link.json").symlink_to(scores)
    out = {"scores": scores, "h5": h5, "link to the scores": tmp_path / "link.json"}[target]
    before = {path: path.read_bytes() for path in (scores, h5)}
    status, stdout, err = evaluate("--dataset", "SumMe", "--h5", str(h5), "--scores", str(scores), "--out", str(out))
    assert status == 2 and stdout == ""
    one_error_line(err, "--out", out, "this command reads", "choose another file")
    assert {path: path.read_bytes() for path in before} == before


def test_evaluation_refuses_an_empty_out(tmp_path):
    status, stdout, err = evaluate("--dataset", "SumMe", "--h5", str(SUMME_H5), "--scores",
                                   str(summe_scores(tmp_path)), "--out", "")
    assert status == 2 and stdout == ""
    one_error_line(err, "--out", "empty path")


def test_inference_refuses_an_out_that_is_its_h5_or_checkpoint(eccv16_dirs, tmp_path):
    weights = tmp_path / "weights" / "SumMe"
    weights.mkdir(parents=True)
    checkpoint = weights / "split1.pt"
    checkpoint.write_bytes(b"weights a colleague sent")
    record = weights / "split1.json"
    record.write_text('{"config": {}}')
    h5 = eccv16_dirs.data_dir / "eccv16_dataset_summe_google_pool5.h5"
    h5_before = h5.read_bytes()
    common = [*eccv16_dirs.flags(), "--weights-dir", str(tmp_path / "weights"), "--datasets", "SumMe",
              "--splits", "1", "--device", "cpu"]
    for out, what in ((h5, "ending in .json"), (checkpoint, "ending in .json"),
                      (record, "not a result of inference.py"), (tmp_path / "report.html", "page written beside")):
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            status = inference.main([*common, "--out", str(out)])
        assert status == 2
        one_error_line(err.getvalue(), "--out", what)
    assert h5.read_bytes() == h5_before and checkpoint.read_bytes() == b"weights a colleague sent"
    assert record.read_text() == '{"config": {}}'


# ---------------------------------------------------------------------------------------------
# files that are not what they are named


@pytest.mark.parametrize("link", ["soft link to nothing", "external link to a missing file",
                                  "external link to a real file", "video group as a soft link to nothing"])
def test_h5_links_that_lead_elsewhere_or_nowhere_are_one_line(tmp_path, link):
    h5 = tmp_path / "linked.h5"
    shutil.copy(SUMME_H5, h5)
    with h5py.File(tmp_path / "other.h5", "w") as other:
        other["x"] = np.zeros((3, 1024), np.float32)
    with h5py.File(h5, "a") as f:
        if link.startswith("video group"):
            del f["video_1"]
            f["video_1"] = h5py.SoftLink("/nowhere")
        else:
            del f["video_1/gtscore"]
            f["video_1/gtscore"] = {"soft link to nothing": lambda: h5py.SoftLink("/nowhere"),
                                    "external link to a missing file": lambda: h5py.ExternalLink("/no.h5", "x"),
                                    "external link to a real file": lambda: h5py.ExternalLink(
                                        str(tmp_path / "other.h5"), "x")}[link]()
    with pytest.raises(DatasetError) as caught:
        load_h5(h5, require_features=False)
    assert caught.value.video == "video_1"
    assert ("external link" in caught.value.problem) == ("external" in link)
    if not link.startswith("video group"):
        assert caught.value.field == "gtscore"
    status, _, err = evaluate("--dataset", "SumMe", "--h5", str(h5), "--scores", str(summe_scores(tmp_path)))
    assert status == 2
    one_error_line(err, h5, "video_1")


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "folder"])
def test_a_scores_file_that_is_a_device_a_pipe_or_a_folder_is_refused_unread(tmp_path, special):
    path = {"/dev/zero": Path("/dev/zero"), "fifo": tmp_path / "scores.json", "folder": tmp_path}[special]
    if special == "fifo":
        os.mkfifo(path)
    if not path.exists():
        pytest.skip(f"{path} does not exist here")
    result = {}
    worker = threading.Thread(target=lambda: result.update(zip(("status", "out", "err"), evaluate(
        "--dataset", "SumMe", "--h5", str(SUMME_H5), "--scores", str(path)))), daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the reader blocked or read without end"
    assert result["status"] == 2
    one_error_line(result["err"], path, "is a folder" if special == "folder" else "not a regular file")


def test_a_folder_or_device_as_split_file_or_checkpoint_says_what_it_is(tmp_path):
    from storage.checkpoints import load_checkpoint

    folder = tmp_path / "splits.json"
    folder.mkdir()
    with pytest.raises(DatasetError, match="is a folder, not a split file"):
        read_splits_file(folder)
    with pytest.raises(ValueError, match="is a folder, not a checkpoint"):
        load_checkpoint(tmp_path)
    if Path("/dev/zero").exists():
        with pytest.raises(ValueError, match="not a regular file"):
            load_checkpoint("/dev/zero")


def test_a_record_that_is_a_pipe_is_not_read(tmp_path):
    from storage.checkpoints import read_record

    os.mkfifo(tmp_path / "split1.json")
    result = []
    reader = threading.Thread(target=lambda: result.append(read_record(tmp_path / "split1.json")), daemon=True)
    reader.start()
    reader.join(30)
    assert not reader.is_alive(), "the record reader blocked on a pipe"
    assert result == [None]


# ---------------------------------------------------------------------------------------------
# values no real file holds


def annotation_file(tmp_path: Path, scores: str) -> Path:
    path = tmp_path / "anno.tsv"
    path.write_text(f"vid\tVT\t{scores}\n")
    return path


@pytest.mark.parametrize("scores, words", [("1,2,nan,3", "frame 3 has score nan"),
                                           ("1,inf,2", "frame 2 has score inf"),
                                           ("1,-2,2", "frame 2 has score -2"),
                                           ("0,0,0", "every score is 0")])
def test_annotations_with_values_no_annotator_gives_are_refused(tmp_path, scores, words):
    from evaluation.annotations import load_tvsum_annotations
    from video.make_dataset import AnnotationError, read_scores

    path = annotation_file(tmp_path, scores)
    with pytest.raises(ValueError, match=words):
        load_tvsum_annotations(path)
    with pytest.raises(AnnotationError, match=words):
        read_scores(path)


def test_nan_in_annotations_stops_evaluation_in_one_line(tmp_path):
    import gzip

    tvsum = FIXTURES / "eval_fixture_tvsum.h5"
    anno = ROOT / "data" / "ydata-anno.tsv.gz"
    lines = gzip.decompress(anno.read_bytes()).decode().splitlines()
    fields = lines[0].split("\t")
    fields[2] = "nan," + fields[2].split(",", 1)[1]
    bad = tmp_path / "anno.tsv"
    bad.write_text("\n".join(["\t".join(fields), *lines[1:]]) + "\n")
    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps({k: v["uniform"]["scores"] for k, v in REFERENCE["TVSum"].items()}))
    status, _, err = evaluate("--dataset", "TVSum", "--h5", str(tvsum), "--scores", str(scores),
                              "--annotations", str(bad))
    assert status == 2
    one_error_line(err, bad, "line 1", "frame 1 has score nan")


@pytest.mark.parametrize("intervals, words", [([[]], "no intervals"), ([[[1.5, 4]]], "whole numbers"),
                                              ([[[True, 4]]], "whole numbers"), ([], "no users")])
def test_interval_annotations_that_select_nothing_or_not_frames_are_refused(tmp_path, intervals, words):
    from video.make_dataset import AnnotationError, read_intervals

    path = tmp_path / "intervals.json"
    path.write_text(json.dumps({"alpha": intervals}))
    with pytest.raises(AnnotationError, match=words) as caught:
        read_intervals(path)
    assert "'alpha'" in str(caught.value)


def test_features_finite_but_beyond_any_cnn_are_refused(tmp_path):
    h5 = tmp_path / "huge.h5"
    shutil.copy(FIXTURES / "rng_parity_summe.h5", h5)
    with h5py.File(h5, "a") as f:
        features = f["video_2/features"][()]
        features[3, 7] = 3e38
        del f["video_2/features"]
        f["video_2/features"] = features
    with pytest.raises(DatasetError, match=r"value 3e\+38 at \[3, 7\] is beyond") as caught:
        load_h5(h5)
    assert (caught.value.video, caught.value.field) == ("video_2", "features")


# ---------------------------------------------------------------------------------------------
# options that mean nothing


def test_a_seed_beyond_64_bits_is_refused_with_the_option_named():
    with pytest.raises(ConfigError, match=r"seed: expected an integer <= 18446744073709551615"):
        Config(seed=2**64)
    with pytest.raises(ConfigError, match=r"seed: expected an integer <= 18446744073709551614"):
        Config(seed=2**64 - 1, runs=2)        # the second run's seed would not fit
    assert Config(seed=2**64 - 1).seed == 2**64 - 1


def test_a_dataset_named_twice_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        train.main(["--demo", "--datasets", "SumMe", "summe", "--epochs", "1", "--device", "cpu",
                    "--weights-dir", str(tmp_path / "w"), "--results-dir", str(tmp_path / "r")])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].endswith("error: datasets: 'SumMe' is named more than once in SumMe summe")
    assert not (tmp_path / "w").exists()
    with pytest.raises(ConfigError, match="named more than once"):
        Config(datasets=("mine.json", "./mine.json"))


@pytest.mark.parametrize("module", ["demo.eccv16", "demo.mrhisum"])
def test_demo_generators_answer_help_and_refuse_bad_values(tmp_path, module):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    shown = subprocess.run([sys.executable, "-m", module, "--help"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0 and "usage:" in shown.stdout and list(tmp_path.iterdir()) == []
    refused = subprocess.run([sys.executable, "-m", module, str(tmp_path / "out"), "--seed", "-1"], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "--seed" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# signals


def test_sigterm_during_evaluation_is_one_line_and_143(tmp_path, monkeypatch):
    import evaluation.__main__ as command

    def terminated_while_scoring(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise AssertionError("SIGTERM did not stop the scoring")

    monkeypatch.setattr(command, "evaluate_files", terminated_while_scoring)
    out = tmp_path / "out.json"
    status, _, err = evaluate("--dataset", "SumMe", "--h5", str(SUMME_H5), "--scores", str(summe_scores(tmp_path)),
                              "--out", str(out))
    assert status == 143 and err.strip() == "terminated (SIGTERM): nothing was written" and not out.exists()


def test_a_second_signal_while_stopping_does_not_interrupt_the_cleanup(capfd):
    finished_cleanup = []

    def body() -> int:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        finally:
            os.kill(os.getpid(), signal.SIGINT)        # a second Ctrl-C while the first unwinds
            time.sleep(0.2)
            finished_cleanup.append(True)
        return 0

    assert run_until_stopped(body, "kept") == 130
    assert finished_cleanup == [True]
    err = capfd.readouterr().err
    assert "stopping: finishing the file being written" in err and err.strip().endswith("interrupted: kept")


def test_signal_handlers_are_restored_after_the_block():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with terminate_as_exception():
        pass
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_stop_while_a_progress_file_is_written_reports_the_file_on_disk(tmp_path, monkeypatch):
    """The writing thread itself records the epoch it wrote: a stop during a write waits for it and names it."""
    import storage.checkpoints as checkpoints

    started, release = threading.Event(), threading.Event()

    def slow_save(path, config, state):
        started.set()
        release.wait(10)
        path.write_bytes(b"epoch %d" % state["epoch"])

    monkeypatch.setattr(checkpoints, "save_progress", slow_save)
    writer = checkpoints.ProgressWriter(tmp_path / "split1.progress.pt", written_epoch=1)
    writer.submit(None, {"epoch": 2}, 2)
    started.wait(10)
    assert writer.written_epoch == 1                     # in flight: not yet on disk
    threading.Timer(0.3, release.set).start()
    writer.wait()
    assert writer.written_epoch == 2 and (tmp_path / "split1.progress.pt").read_bytes() == b"epoch 2"


def test_the_stop_message_says_why_no_progress_file_exists():
    from training.loop import _interruption

    path = Path("w/SumMe/split1.progress.pt")
    assert "no progress file is complete yet (one is written every 3 epoch(s))" in str(
        _interruption(KeyboardInterrupt(), "SumMe split 1", 2, 0, path, 3))
    assert "progress files are off (--progress-every 0)" in str(
        _interruption(KeyboardInterrupt(), "SumMe split 1", 2, 0, path, 0))


# ---------------------------------------------------------------------------------------------
# file names that are not UTF-8


def test_a_file_name_that_is_not_utf8_links_and_shows_on_the_page(tmp_path):
    from storage.files import file_url, relative_url
    from video.page import _e

    name = os.fsdecode(b"bad\xffname")
    assert file_url(name + ".json") == "bad%FFname.json"
    assert _e(name) == "bad\ufffdname"
    assert relative_url(tmp_path / (name + ".png"), tmp_path / "index.html") == "bad%FFname.png"


def test_a_page_written_through_a_linked_folder_links_from_where_it_is_opened(tmp_path):
    from storage.files import relative_url

    (tmp_path / "real" / "a" / "b").mkdir(parents=True)
    (tmp_path / "vids").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "real" / "a" / "b")
    url = relative_url(tmp_path / "vids" / "clip.mp4", tmp_path / "out" / "clip.html")
    assert url == "../vids/clip.mp4"            # what file:///.../out/clip.html resolves to tmp_path/vids/clip.mp4


def test_the_plot_takes_a_title_that_is_not_utf8(tmp_path):
    from video.plot import importance_figure

    target = tmp_path / os.fsdecode(b"bad\xffname.png")
    importance_figure(target, os.fsdecode(b"bad\xffname.mp4: 1 shots"), np.array([0.0, 1.0]), np.array([0.2, 0.8]),
                      [(0.0, 2.0)], np.array([0]), 2.0)
    assert target.read_bytes().startswith(b"\x89PNG")


# ---------------------------------------------------------------------------------------------
# the third pass: comparisons, result files, key aliases, changed split files


def compare_command(*argv: str) -> tuple[int, str]:
    from evaluation.compare import main as compare_main

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = compare_main(list(argv))
    return status, err.getvalue()


def test_compare_refuses_an_out_that_is_one_of_its_results(tmp_path):
    from tests.test_compare import inference_result

    a, b = inference_result(tmp_path / "a.json", 0), inference_result(tmp_path / "b.json", 1)
    before = a.read_bytes()
    status, err = compare_command(str(a), str(b), "--out", str(a))
    assert status == 2 and a.read_bytes() == before
    one_error_line(err, "--out", "this command reads")


@pytest.mark.parametrize("value, shown", [(float("nan"), "nan"), (float("inf"), "inf"), ("0.1", "'0.1'"),
                                          (True, "True")])
def test_compare_refuses_metrics_that_are_not_finite_numbers(tmp_path, value, shown):
    from tests.test_compare import inference_result

    a, b = inference_result(tmp_path / "a.json", 0), inference_result(tmp_path / "b.json", 1)
    data = json.loads(b.read_text())
    data["datasets"]["SumMe"]["splits"]["1"]["videos"]["video_10"]["kendall"] = value
    b.write_text(json.dumps(data))
    status, err = compare_command(str(a), str(b), "--out", str(tmp_path / "c.json"))
    assert status == 2 and not (tmp_path / "c.json").exists()
    one_error_line(err, b, "video 'video_10'", "field 'kendall'", f"{shown} is not a finite number")


def test_compare_bounds_the_resamples_before_allocating_them(tmp_path):
    from tests.test_compare import inference_result

    a, b = inference_result(tmp_path / "a.json", 0), inference_result(tmp_path / "b.json", 1)
    status, err = compare_command(str(a), str(b), "--resamples", "100000000000")
    assert status == 2
    one_error_line(err, "--resamples", "1,000,000")


@pytest.mark.parametrize("alias", ["//video_1", "/video_1", "video_1/", ".", "video_1/."])
def test_scores_keyed_by_an_h5_path_alias_are_not_scored_as_another_video(tmp_path, alias):
    scores = json.loads(summe_scores(tmp_path).read_text())
    scores[alias] = [1 - x for x in scores["video_1"]]
    path = tmp_path / "alias.json"
    path.write_text(json.dumps(scores))
    status, stdout, err = evaluate("--dataset", "SumMe", "--h5", str(SUMME_H5), "--scores", str(path))
    assert status == 2 and stdout == ""
    one_error_line(err, repr(alias), "not a video key")


def test_inference_keeps_files_that_are_not_its_results(finished_run, tmp_path):
    weights, results = finished_run.copy_to(tmp_path)
    log = results / "SumMe_split1.jsonl"
    (results / "train_summary.json").write_text('{"config": {}, "splits": {}}')
    kept = {path: path.read_bytes() for path in (log, results / "train_summary.json")}
    common = [*finished_run.dirs.flags(), "--weights-dir", str(weights), "--results-dir", str(results),
              "--datasets", "SumMe", "--splits", "1", "--device", "cpu"]
    for out, words in ((log, "ending in .json"), (results / "train_summary.json", "not a result of inference.py")):
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            assert inference.main([*common, "--out", str(out)]) == 2
        one_error_line(err.getvalue(), "--out", words)
    assert {path: path.read_bytes() for path in kept} == kept


def test_demo_refuses_data_folders_it_would_ignore(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        train.main(["--demo", "--data-dir", str(tmp_path), "--epochs", "1"])
    assert stopped.value.code == 2
    assert "data_dir: --demo trains on its own generated files" in capsys.readouterr().err


@pytest.mark.slow
def test_a_changed_split_file_retrains_on_resume_and_warns_in_inference(eccv16_dirs, tmp_path):
    from tests.conftest import torch_state_restored

    data = tmp_path / "data"
    shutil.copytree(eccv16_dirs.data_dir, data)
    splits = data / "splits" / "SumMe_splits.txt"
    argv = ["--data-dir", str(data), "--splits-dir", str(data / "splits"), "--weights-dir", str(tmp_path / "w"),
            "--results-dir", str(tmp_path / "r"), "--datasets", "SumMe", "--splits", "1", "--device", "cpu"]
    training = ["--epochs", "1", "--no-pretrained", "--quiet"]

    def run(main, *extra) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with torch_state_restored(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main([*argv, *(training if main is train.main else ()), *extra])
        return status, out.getvalue(), err.getvalue()

    assert run(train.main)[0] == 0
    assert "finished earlier" in run(train.main, "--resume")[1]
    first = splits.read_text().splitlines()[0]
    name, train_keys, test_keys = first.rsplit("/", 2)[0], *first.rsplit("/", 2)[1:]
    swapped = f"{name}/{test_keys},{train_keys.split(',')[0]}/{','.join(train_keys.split(',')[1:])}"
    splits.write_text("\n".join([swapped, *splits.read_text().splitlines()[1:]]) + "\n")

    status, _, err = run(inference.main, "--out", str(tmp_path / "scored.json"))
    assert status == 0 and "were training or validation videos of this checkpoint" in err
    status, out, _ = run(train.main, "--resume")
    assert status == 0 and "the split file, or the videos left out, changed); trained again" in out and "finished earlier" not in out


def test_a_partial_summary_of_a_killed_run_is_removed_by_the_next(tmp_path):
    from video.io import _remove_temporaries_of_dead_runs

    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = int(finished.stdout)
    target = tmp_path / "clip.summary.mp4"
    stale = tmp_path / f".clip.summary.mp4.{gone}.tmp"
    live = tmp_path / f".clip.summary.mp4.{os.getppid()}.tmp"            # a process that is still running
    for path in (stale, live):
        path.write_bytes(b"partial")
    _remove_temporaries_of_dead_runs(target)
    assert not stale.exists() and live.exists()
