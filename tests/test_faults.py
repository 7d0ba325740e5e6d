"""Faults around training and scoring: files that would run code, damaged progress, folders that cannot take
the outputs, full disks, Ctrl-C and SIGTERM, stuck ranks and bad records. Nothing good is lost; every failure
is one line and an exit status (0 done, 2 bad input or environment, 130 Ctrl-C, 143 SIGTERM)."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import inference
import storage.files
import train
import training.run
from storage.checkpoints import (DamagedProgress, UnsafeFile, checkpoint_paths, load_checkpoint, load_progress,
                                 progress_path, read_progress_file, read_record, save_checkpoint, split_is_finished)

from tests.conftest import torch_state_restored

pytestmark = [pytest.mark.usefixtures("isolated_torch_state"),
              pytest.mark.filterwarnings("ignore::evaluation.UndefinedCorrelationWarning")]

REPO = Path(__file__).resolve().parents[1]


def tiny_argv(dirs, root: Path, *extra: str) -> list[str]:
    return [*dirs.flags(), "--weights-dir", str(root / "weights"), "--results-dir", str(root / "results"),
            "--no-pretrained", "--device", "cpu", "--quiet", "--datasets", "SumMe", "--splits", "1", *extra]


def run_main(main, argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def command(*args: str, cwd: Path = REPO, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


# ---------------------------------------------------------------------------------------------
# files that would run code


class _RunsCode:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_progress_file_that_would_run_code_is_refused_before_training(eccv16_dirs, tmp_path):
    marker = tmp_path / "code_ran"
    path = progress_path(tmp_path / "weights", "SumMe", 1)
    path.parent.mkdir(parents=True)
    torch.save({"epoch": 1, "payload": _RunsCode(str(marker))}, path)

    status, out, err = run_main(train.main, tiny_argv(eccv16_dirs, tmp_path, "--epochs", "2", "--resume"))

    assert not marker.exists()
    assert status == 2
    assert error_lines(err) == [error_lines(err)[0]] and err.startswith(f"error: {path}: refused")
    assert "Delete it" in err and "Traceback" not in err
    assert "epoch" not in out                        # nothing was trained
    assert path.is_file()                            # the user's file is left for them to inspect


def test_a_pickle_of_plain_objects_but_not_a_progress_file_is_refused(tmp_path):
    path = tmp_path / "split1.progress.pt"
    torch.save([1, 2, 3], path)
    with pytest.raises(UnsafeFile, match="not a progress file"):
        read_progress_file(path)
    path.write_bytes(pickle.dumps({"epoch": 1}))     # a bare pickle, not torch's archive
    with pytest.raises((UnsafeFile, DamagedProgress)):
        read_progress_file(path)


def test_a_progress_file_holds_only_what_weights_only_loads(eccv16_dirs, tmp_path):
    from config import Config
    from training import load_bundle
    from training.loop import train_split

    config = Config(pretrained=False, device="cpu", epochs=3, datasets=("SumMe",), splits=(1,))
    path = tmp_path / "progress.pt"
    train_split(config, load_bundle(eccv16_dirs.spec("SumMe")), 1, device=torch.device("cpu"), progress=False,
                progress_path=path, stop_after=2)
    state = torch.load(path, weights_only=True)        # raises if anything but tensors and plain values is inside
    assert state["epoch"] == 2 and load_progress(path, config)["epoch"] == 2


@pytest.mark.slow
def test_a_damaged_progress_file_is_moved_aside_and_the_split_starts_over(eccv16_dirs, tmp_path):
    from config import Config
    from training import load_bundle
    from training.loop import train_split

    config = Config(pretrained=False, device="cpu", epochs=3, datasets=("SumMe",), splits=(1,))
    path = progress_path(tmp_path / "weights", "SumMe", 1)
    path.parent.mkdir(parents=True)
    train_split(config, load_bundle(eccv16_dirs.spec("SumMe")), 1, device=torch.device("cpu"), progress=False,
                progress_path=path, stop_after=2)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])          # a write cut short (no fsync, then a power cut)

    status, out, err = run_main(train.main, tiny_argv(eccv16_dirs, tmp_path, "--epochs", "3", "--resume"))

    assert status == 0, err
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and str(path) in warning[0] and "moved to split1.progress.pt.damaged" in warning[0]
    assert path.with_name("split1.progress.pt.damaged").read_bytes() == whole[: len(whole) // 2]
    log = [json.loads(line) for line in (tmp_path / "results" / "SumMe_split1.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in log] == [1, 2, 3]


def test_a_progress_file_of_other_options_is_named_with_the_options_that_differ(eccv16_dirs, tmp_path):
    from config import Config
    from training import load_bundle
    from training.loop import train_split

    trained = Config(pretrained=False, device="cpu", epochs=3, datasets=("SumMe",), splits=(1,))
    path = tmp_path / "split1.progress.pt"
    train_split(trained, load_bundle(eccv16_dirs.spec("SumMe")), 1, device=torch.device("cpu"), progress=False,
                progress_path=path, stop_after=1)
    with pytest.warns(UserWarning, match=r"other options \(learning_rate\)"):
        assert load_progress(path, trained.replace(learning_rate=0.01)) is None
    assert path.is_file()


def test_checkpoint_and_record_reads_never_unpickle_objects(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "split1.pt"
    torch.save({"w": _RunsCode(str(marker))}, path)
    with pytest.raises(ValueError, match="not a PyTorch checkpoint|not a plain state dict"):
        load_checkpoint(path)
    assert not marker.exists()
    record = tmp_path / "split1.json"
    record.write_text("[" * 100_000 + "]" * 100_000)
    assert read_record(record) is None
    record.write_text('{"x": ' + "9" * 5000 + "}")
    assert read_record(record) is None


# ---------------------------------------------------------------------------------------------
# output folders checked before any work


def test_a_weights_dir_that_is_a_file_is_one_line_before_training(eccv16_dirs, tmp_path):
    (tmp_path / "weights").write_text("not a folder")
    status, out, err = run_main(train.main, tiny_argv(eccv16_dirs, tmp_path, "--epochs", "1"))
    assert status == 2
    assert error_lines(err) == [f"error: {tmp_path / 'weights'}: exists and is not a folder"]
    assert "kept" not in out


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders; see the tmpfs test")
def test_a_read_only_weights_folder_is_one_line_before_training(eccv16_dirs, tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    weights.chmod(0o555)
    try:
        status, _, err = run_main(train.main, tiny_argv(eccv16_dirs, tmp_path, "--epochs", "1"))
    finally:
        weights.chmod(0o755)
    assert status == 2 and len(error_lines(err)) == 1 and "cannot be written" in err


@contextlib.contextmanager
def small_filesystem(folder: Path, size: str, *options: str):
    """A real tmpfs of ``size`` mounted on ``folder`` (skips where mounting is not allowed)."""
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join((f"size={size}", *options)), "tmpfs",
                              str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_read_only_filesystem_is_one_line_before_training(eccv16_dirs, tmp_path):
    with small_filesystem(tmp_path / "weights", "1m", "ro"):
        status, out, err = run_main(train.main, tiny_argv(eccv16_dirs, tmp_path, "--epochs", "1"))
    assert status == 2
    assert error_lines(err) == [f"error: {tmp_path / 'weights'}: cannot be written (Read-only file system)"]


def test_a_full_disk_is_found_before_training_with_the_space_needed(eccv16_dirs, tmp_path):
    with small_filesystem(tmp_path / "weights", "8m"):
        started = time.perf_counter()
        status, out, err = run_main(train.main, tiny_argv(eccv16_dirs, tmp_path, "--epochs", "1"))
        seconds = time.perf_counter() - started
        left = sorted(p.name for p in (tmp_path / "weights").rglob("*") if p.is_file() and p.suffix != ".lock")
    assert status == 2
    [line] = error_lines(err)
    assert line.startswith(f"error: {tmp_path / 'weights'}: ") and "MB free, about" in line and "needed" in line
    assert "kept" not in out and left == []
    print(f"refused in {seconds:.1f} s: {line}")


def finish_split(dirs, root: Path, *extra: str) -> tuple[Path, Path]:
    status, _, err = run_main(train.main, tiny_argv(dirs, root, "--epochs", "1", "--progress-every", "0", *extra))
    assert status == 0, err
    return checkpoint_paths(root / "weights", "SumMe", 1)


@pytest.mark.slow
def test_a_write_that_fails_leaves_the_previous_checkpoint_and_record_as_they_were(eccv16_dirs, tmp_path,
                                                                                  monkeypatch):
    weights_path, record_path = finish_split(eccv16_dirs, tmp_path)
    before = {path: path.read_bytes() for path in (weights_path, record_path)}
    fingerprint = read_record(record_path)["fingerprint"]

    real_fsync = os.fsync

    def full_disk(descriptor):
        """The disk fills up while the new checkpoint is written (the logs before it went through)."""
        if ".split1.pt." in os.readlink(f"/proc/self/fd/{descriptor}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(descriptor)

    monkeypatch.setattr(storage.files.os, "fsync", full_disk)
    status, _, err = run_main(train.main, tiny_argv(eccv16_dirs, tmp_path, "--epochs", "2", "--progress-every", "0"))
    monkeypatch.undo()

    assert status == 2
    assert error_lines(err) == [f"error: {weights_path}: cannot be written (No space left on device)"]
    assert {path: path.read_bytes() for path in before} == before
    assert split_is_finished(tmp_path / "weights", "SumMe", 1, fingerprint)
    assert sorted(p.name for p in weights_path.parent.iterdir()) == ["split1.json", "split1.pt"]


@pytest.mark.slow
def test_a_real_full_disk_during_a_rerun_keeps_the_finished_split(eccv16_dirs, tmp_path, monkeypatch):
    """The space check is bypassed here, so that the write itself meets ENOSPC on a real filesystem."""
    size = os.path.getsize(finish_split(eccv16_dirs, tmp_path / "first")[0])
    weights = tmp_path / "run" / "weights"
    with small_filesystem(weights, str(int(size * 1.5))):
        shutil.copytree(tmp_path / "first" / "weights" / "SumMe", weights / "SumMe")
        weights_path, record_path = checkpoint_paths(weights, "SumMe", 1)
        before = {path: path.read_bytes() for path in (weights_path, record_path)}
        monkeypatch.setattr(training.run, "check_outputs", lambda *args: None)
        status, _, err = run_main(train.main, tiny_argv(eccv16_dirs, tmp_path / "run", "--epochs", "2",
                                                        "--progress-every", "0"))
        monkeypatch.undo()
        after = {path: path.read_bytes() for path in before}
        names = sorted(p.name for p in weights_path.parent.iterdir())
        finished = split_is_finished(weights, "SumMe", 1, read_record(record_path)["fingerprint"])
    assert status == 2
    assert error_lines(err) == [f"error: {weights_path}: cannot be written (No space left on device)"]
    assert after == before and finished
    assert names == ["split1.json", "split1.pt"]


def test_a_record_describing_other_weights_does_not_count_as_finished(tmp_path):
    fingerprint = {"seed": 1}
    weights_path, _ = save_checkpoint(tmp_path, "SumMe", 1, {"w": torch.zeros(2)}, {"fingerprint": fingerprint})
    assert split_is_finished(tmp_path, "SumMe", 1, fingerprint)
    torch.save({"w": torch.ones(2)}, weights_path)    # the weights replaced, the record not (a set cut in half)
    assert not split_is_finished(tmp_path, "SumMe", 1, fingerprint)


def test_inference_checks_its_output_before_scoring(finished_run, tmp_path):
    (tmp_path / "file").write_text("x")
    argv = [*finished_run.dirs.flags(), "--weights-dir", str(finished_run.weights_dir), "--datasets", "SumMe",
            "--splits", "1", "--device", "cpu", "--out", str(tmp_path / "file" / "results.json")]
    status, out, err = run_main(inference.main, argv)
    assert status == 2 and error_lines(err) == [f"error: {tmp_path / 'file'}: exists and is not a folder"]
    assert "[SumMe split 1]" not in out


# ---------------------------------------------------------------------------------------------
# Ctrl-C and SIGTERM


def wait_for_epochs(log: Path, count: int, process: subprocess.Popen, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if log.is_file() and len(log.read_text().splitlines()) >= count:
            return
        if process.poll() is not None:
            pytest.fail(f"training ended early: {process.communicate()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail("no epochs logged in time")


@pytest.mark.slow
@pytest.mark.parametrize("sent, status, cause", [(signal.SIGINT, 130, "interrupted"),
                                                 (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_a_stopped_run_says_where_it_stopped_and_resume_continues(eccv16_dirs, tmp_path, sent, status, cause):
    argv = ["train.py", *tiny_argv(eccv16_dirs, tmp_path, "--epochs", "5")]
    log = tmp_path / "results" / "SumMe_split1.jsonl"
    process = command(*argv)
    wait_for_epochs(log, 2, process)
    process.send_signal(sent)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == status, stderr
    lines = error_lines(stderr)
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    finished = len(log.read_text().splitlines())
    path = progress_path(tmp_path / "weights", "SumMe", 1)
    assert lines[0].startswith(f"{cause} after epoch {finished} of SumMe split 1 ('split0' in the file); epochs 1-")
    saved = int(lines[0].split("epochs 1-")[1].split()[0])
    assert saved in (finished - 1, finished) and str(path) in lines[0]
    assert f"`--resume` continues at epoch {saved + 1}" in lines[0]
    assert torch.load(path, weights_only=True)["epoch"] == saved
    if sent == signal.SIGTERM:
        return                  # both stops leave the same files; resuming is shown once, after Ctrl-C

    resumed, out, err = run_main(train.main, [*argv[1:], "--resume"])        # in this process: no signal to send
    assert resumed == 0, err
    assert f"SumMe split 1 ('split0' in the file): continuing at epoch {saved + 1} of 5 from {path}" in out
    assert [json.loads(line)["epoch"] for line in log.read_text().splitlines()] == list(range(1, 6))
    assert not path.exists()


def test_ctrl_c_before_training_is_one_line(eccv16_dirs, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training.run, "train_run", interrupted)
    status, _, err = run_main(train.main, tiny_argv(eccv16_dirs, tmp_path, "--epochs", "1"))
    assert status == 130 and len(error_lines(err)) == 1 and "--resume" in err


# ---------------------------------------------------------------------------------------------
# options and records


def test_a_split_named_twice_is_refused(eccv16_dirs, tmp_path):
    process = subprocess.run([sys.executable, "train.py", *tiny_argv(eccv16_dirs, tmp_path), "--splits", "1", "1"],
                             cwd=REPO, capture_output=True, text=True)
    assert process.returncode == 2
    assert "splits: split 1 is named more than once in 1 1" in process.stderr
    assert "Traceback" not in process.stderr


@pytest.mark.parametrize("config_value, problem", [("oops", "expected an object of options, found a str"),
                                                   ({"Softmax_axis": "XY"}, "Softmax_axis: 'XY' is not one of")])
def test_a_record_with_unusable_options_is_named(finished_run, tmp_path, config_value, problem):
    weights, _ = finished_run.copy_to(tmp_path)
    _, record_path = checkpoint_paths(weights, "SumMe", 1)
    record = json.loads(record_path.read_text())
    record["config"] = config_value
    record_path.write_text(json.dumps(record))
    argv = [*finished_run.dirs.flags(), "--weights-dir", str(weights), "--datasets", "SumMe", "--splits", "1",
            "--device", "cpu", "--out", str(tmp_path / "out.json")]
    status, _, err = run_main(inference.main, argv)
    assert status == 2
    assert error_lines(err) == [error_lines(err)[0]]
    assert err.startswith(f"error: {record_path}: field 'config': ") and problem in err


def test_a_checkpoint_with_nan_weights_is_named_in_inference(finished_run, tmp_path):
    weights, _ = finished_run.copy_to(tmp_path)
    weights_path, _ = checkpoint_paths(weights, "SumMe", 1)
    state = torch.load(weights_path, weights_only=True)
    name = next(k for k, v in state.items() if v.is_floating_point() and not k.startswith("cnn"))
    state[name] = torch.full_like(state[name], float("nan"))
    torch.save(state, weights_path)
    argv = [*finished_run.dirs.flags(), "--weights-dir", str(weights), "--datasets", "SumMe", "--splits", "1",
            "--device", "cpu", "--out", str(tmp_path / "out.json")]
    status, _, err = run_main(inference.main, argv)
    assert status == 2
    assert error_lines(err) == [f"error: {weights_path}: tensor '{name}' contains NaN or infinite values; the weights "
                                f"are unusable (a diverged or damaged checkpoint)"]


# ---------------------------------------------------------------------------------------------
# a rank that stops answering


def _stuck_rank(rank: int, port: int, pid_file: str, result_file: str) -> None:
    import datetime

    import torch.distributed as dist

    from training.distributed import PeerTimeout, World

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    timeout = datetime.timedelta(seconds=3)
    dist.init_process_group("gloo", rank=rank, world_size=2, timeout=timeout)
    world = World(rank=rank, size=2, backend="gloo", timeout_seconds=3,
                  monitor=dist.new_group(backend="gloo", timeout=timeout))
    world.gather_objects([rank])
    if rank == 1:
        Path(pid_file).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGSTOP)
    try:
        world.gather_objects([rank])
        Path(result_file).write_text("no error")
    except PeerTimeout as error:
        Path(result_file).write_text(str(error))


@pytest.mark.slow
def test_a_rank_that_stops_answering_is_named_after_the_collective_timeout(tmp_path):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pid_file, result_file = tmp_path / "pid", tmp_path / "result"
    context = mp.get_context("spawn")
    ranks = [context.Process(target=_stuck_rank, args=(rank, port, str(pid_file), str(result_file)))
             for rank in range(2)]
    for process in ranks:
        process.start()
    try:
        ranks[0].join(120)
        message = result_file.read_text()
    finally:
        if pid_file.is_file():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
        for process in ranks:
            process.kill()
            process.join(10)
    assert message.startswith("rank 0: gathering results failed: no answer from rank(s) 1 within 3 s")
    assert "--collective-timeout" in message
