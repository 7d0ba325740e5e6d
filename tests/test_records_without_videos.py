"""Records written before they named the split's videos (``split_videos``): never taken silently.

``train.py --resume`` trains such a split again, saying so in one line that names the record; ``inference.py``
scores it with one warning that names the record."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from types import SimpleNamespace

import pytest
import torch

from storage.checkpoints import checkpoint_paths, save_checkpoint, split_is_finished
from training import inference_run

VIDEOS = {"train": ["video_2", "video_3"], "validation": [], "test": ["video_1"]}


def test_a_record_without_its_videos_is_not_finished_and_the_line_names_it(tmp_path, capsys):
    fingerprint = {"seed": 1}
    save_checkpoint(tmp_path, "SumMe", 1, {"w": torch.zeros(3)}, {"fingerprint": fingerprint})
    record_path = checkpoint_paths(tmp_path, "SumMe", 1)[1]
    assert split_is_finished(tmp_path, "SumMe", 1, fingerprint)                 # no videos to compare: as before
    assert capsys.readouterr().out == ""
    assert not split_is_finished(tmp_path, "SumMe", 1, fingerprint, VIDEOS, note=True)
    assert capsys.readouterr().out == (f"SumMe split 1: {record_path} does not name the videos it was trained on "
                                       f"(written by an earlier release); trained again, since its test videos "
                                       f"cannot be shown to be held out\n")
    save_checkpoint(tmp_path, "SumMe", 1, {"w": torch.zeros(3)}, {"fingerprint": fingerprint, "split_videos": VIDEOS})
    assert split_is_finished(tmp_path, "SumMe", 1, fingerprint, VIDEOS, note=True)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("recorded", [{"config": {}}, {"config": {}, "split_videos": None},
                                      {"config": {}, "split_videos": ["video_1"]}])
def test_inference_warns_about_a_record_that_cannot_show_its_videos(tmp_path, capsys, recorded):
    record_path = tmp_path / "split1.json"
    inference_run.warn_when_the_split_changed(recorded, record_path, SimpleNamespace(test_keys=("video_1",)))
    assert capsys.readouterr().err == (f"warning: {record_path}: does not name the videos this checkpoint was "
                                       f"trained on (written by an earlier release); whether the test videos "
                                       f"scored now were held out cannot be checked; `python train.py --resume` "
                                       f"trains the split again\n")


def test_a_checkpoint_without_a_record_is_scored_without_a_warning(tmp_path, capsys):
    inference_run.warn_when_the_split_changed({}, tmp_path / "split1.json", SimpleNamespace(test_keys=("video_1",)))
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_an_upgrade_never_scores_former_training_videos_silently(eccv16_dirs, tmp_path):
    """As the issue found it: trained by a release whose record did not name its videos, the split file changed
    (a training video became the test video), then --resume and inference.py of this release."""
    import inference
    import train
    from tests.conftest import torch_state_restored

    data = tmp_path / "data"
    shutil.copytree(eccv16_dirs.data_dir, data)
    splits = data / "splits" / "SumMe_splits.txt"
    weights = tmp_path / "w"
    argv = ["--data-dir", str(data), "--splits-dir", str(data / "splits"), "--weights-dir", str(weights),
            "--results-dir", str(tmp_path / "r"), "--datasets", "SumMe", "--splits", "1", "--device", "cpu"]

    def run(main, *extra) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        training = ("--epochs", "1", "--no-pretrained", "--quiet") if main is train.main else ()
        with torch_state_restored(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main([*argv, *training, *extra])
        return status, out.getvalue(), err.getvalue()

    assert run(train.main)[0] == 0
    record_path = checkpoint_paths(weights, "SumMe", 1)[1]
    record = json.loads(record_path.read_text())
    del record["split_videos"]                                  # as a release before split_videos wrote it
    record_path.write_text(json.dumps(record))
    lines = splits.read_text().splitlines()
    name, train_keys, test_key = lines[0].rsplit("/", 2)
    first, *others = train_keys.split(",")
    lines[0] = f"{name}/{','.join([test_key, *others])}/{first}"          # a former training video is tested
    splits.write_text("\n".join(lines) + "\n")

    status, _, err = run(inference.main, "--out", str(tmp_path / "scored.json"))
    assert status == 0
    assert [line for line in err.splitlines() if line.startswith("warning:")] == [
        f"warning: {record_path}: does not name the videos this checkpoint was trained on (written by an earlier "
        f"release); whether the test videos scored now were held out cannot be checked; `python train.py "
        f"--resume` trains the split again"]
    status, out, _ = run(train.main, "--resume")
    assert status == 0 and "finished earlier" not in out
    assert f"SumMe split 1: {record_path} does not name the videos it was trained on" in out
    assert json.loads(record_path.read_text())["split_videos"]["test"] == [first]
    status, out, _ = run(train.main, "--resume")
    assert status == 0 and "finished earlier (epoch 1), skipped" in out
    status, _, err = run(inference.main, "--out", str(tmp_path / "scored.json"))
    assert status == 0 and "warning" not in err
