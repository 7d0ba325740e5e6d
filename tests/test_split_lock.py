"""Runs that share folders: a split's files are locked, not the folder, so that runs of different splits (one
torchrun or SLURM task per group of splits) write into one folder at once and two runs of the same split cannot;
the folder's summaries are merged; lock files left by another user never block the next run."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from config import Config
from evaluation.protocols import PROTOCOLS
from training import lock as locks
from training import run
from training.lock import LOCK_NAME, FolderInUse, RunLock, split_lock_name, summary_lock

ROOT = Path(__file__).resolve().parents[1]


def split_lock(folder: Path, dataset: str, split: int) -> RunLock:
    return RunLock([folder], [(folder, dataset, split)])


def test_runs_of_different_splits_share_a_folder_and_the_same_split_is_refused(tmp_path):
    with split_lock(tmp_path, "SumMe", 1), split_lock(tmp_path, "SumMe", 2), split_lock(tmp_path, "TVSum", 1):
        with pytest.raises(FolderInUse) as refused:
            split_lock(tmp_path, "SumMe", 1).__enter__()
        message = str(refused.value)
        assert message.startswith(f"{tmp_path}: another training run is writing here (SumMe split 1: pid "
                                  f"{os.getpid()} on ")
        assert message.endswith("wait for it to finish, or train other --splits or into another --weights-dir / "
                                "--results-dir / --tensorboard")
        assert json.loads((tmp_path / split_lock_name("SumMe", 1)).read_text())["pid"] == os.getpid()
    with split_lock(tmp_path, "SumMe", 1):                        # released when the run ends
        pass


def test_a_refused_run_holds_nothing(tmp_path):
    holder = split_lock(tmp_path, "SumMe", 2).__enter__()
    with pytest.raises(FolderInUse):
        RunLock([tmp_path], [(tmp_path, "SumMe", 1), (tmp_path, "SumMe", 2)]).__enter__()
    holder.release()
    with split_lock(tmp_path, "SumMe", 1):                        # the refused run let split 1 go
        pass


def test_a_run_of_an_earlier_release_and_a_run_of_this_one_keep_each_other_out(tmp_path):
    earlier = open(tmp_path / LOCK_NAME, "a+")                    # an earlier release locks the whole folder
    fcntl.flock(earlier, fcntl.LOCK_EX | fcntl.LOCK_NB)
    earlier.write(json.dumps({"pid": 1, "host": "h", "started": "s", "command": "train.py"}))
    earlier.flush()
    with pytest.raises(FolderInUse, match=r"another training run is writing here \(a run of an earlier release, "
                                          r"which locks the whole folder: pid 1 on h, started s: train.py\)"):
        split_lock(tmp_path, "SumMe", 1).__enter__()
    earlier.close()
    with split_lock(tmp_path, "SumMe", 1):
        again = open(tmp_path / LOCK_NAME, "a+")
        with pytest.raises(BlockingIOError):
            fcntl.flock(again, fcntl.LOCK_EX | fcntl.LOCK_NB)
        again.close()


def test_what_a_run_locks_is_each_split_in_each_folder_of_each_run(tmp_path):
    config = Config(weights_dir="w", results_dir="r", tensorboard="tb", runs=2, splits=(1, 3))
    folders, splits = run.run_locks(config, [type("Spec", (), {"name": "SumMe"})])
    assert folders == ["w", "r", "tb"]
    first, second = run.run_directories(config, 0), run.run_directories(config, 1)
    assert splits == [(folder, "SumMe", k) for rc in (first, second)
                      for folder in (rc.weights_dir, rc.results_dir, rc.tensorboard) for k in (1, 3)]


@contextlib.contextmanager
def umask(mask: int):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def test_lock_files_are_as_writable_as_their_folder_whatever_the_umask(tmp_path):
    shared, private = tmp_path / "shared", tmp_path / "private"
    shared.mkdir()
    private.mkdir()
    shared.chmod(0o2775)
    private.chmod(0o755)
    with umask(0o022):
        for folder in (shared, private):
            with split_lock(folder, "SumMe", 1), summary_lock(folder):
                pass
    for name in (LOCK_NAME, split_lock_name("SumMe", 1), locks.SUMMARY_LOCK_NAME):
        assert (shared / name).stat().st_mode & 0o777 == 0o664
        assert (private / name).stat().st_mode & 0o777 == 0o644


def as_another_user(action) -> int:
    """``action()``'s exit status in a child process running as the user ``nobody``."""
    child = os.fork()
    if child == 0:
        try:
            os.setgid(65534)
            os.setuid(65534)
            os._exit(action())
        except FolderInUse:
            os._exit(3)
        except BaseException:
            os._exit(4)
    return os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])


@pytest.fixture
def shared_folder():
    """A folder other users may write into (under /tmp: pytest's own folders are private to their owner)."""
    folder = Path(tempfile.mkdtemp(prefix="csta-shared-"))
    folder.chmod(0o777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def taken() -> int:
    return 0


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to act as another user")
@pytest.mark.parametrize("sticky", [False, True])
def test_a_lock_file_another_user_left_read_only_does_not_block(shared_folder, sticky):
    if sticky:
        shared_folder.chmod(0o1777)            # /tmp-like: only a file's owner may replace it
    with umask(0o022):
        for name in (LOCK_NAME, split_lock_name("SumMe", 1), locks.SUMMARY_LOCK_NAME):
            (shared_folder / name).write_text("{}")               # as an earlier release left them: rw-r--r--
            (shared_folder / name).chmod(0o644)

        def lock_and_summarise() -> int:
            with split_lock(shared_folder, "SumMe", 1), summary_lock(shared_folder):
                return taken()

        assert as_another_user(lock_and_summarise) == 0
    replaced = shared_folder / split_lock_name("SumMe", 1)
    if sticky:
        assert replaced.stat().st_uid == 0 and replaced.read_text() == "{}"
    else:                                       # replaced by the other user's own, writable by the folder's users
        assert replaced.stat().st_uid == 65534 and replaced.stat().st_mode & 0o777 == 0o666
        assert json.loads(replaced.read_text())["pid"] != os.getpid()
    assert not [p for p in shared_folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to act as another user")
def test_a_read_only_lock_file_still_keeps_another_user_out_while_it_is_held(shared_folder):
    with umask(0o022):
        with split_lock(shared_folder, "SumMe", 1):
            (shared_folder / split_lock_name("SumMe", 1)).chmod(0o644)
            assert as_another_user(lambda: (split_lock(shared_folder, "SumMe", 1).__enter__(), 0)[1]) == 3
        assert as_another_user(lambda: (split_lock(shared_folder, "SumMe", 1).__enter__(), 0)[1]) == 0


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to act as another user")
def test_a_lock_file_that_cannot_be_opened_is_one_line_naming_it_and_the_remedy(shared_folder):
    unreadable = shared_folder / split_lock_name("SumMe", 1)
    unreadable.write_text("{}")
    unreadable.chmod(0o600)
    (shared_folder / locks.SUMMARY_LOCK_NAME).write_text("{}")
    (shared_folder / locks.SUMMARY_LOCK_NAME).chmod(0o600)
    said = shared_folder / "said.txt"

    def try_both() -> int:
        try:
            split_lock(shared_folder, "SumMe", 1).__enter__()
        except locks.LockError as error:
            said.write_text(str(error))
        with open(warned, "w") as stderr, contextlib.redirect_stderr(stderr):
            with summary_lock(shared_folder):             # the summaries go on without it, with a warning
                return 0 if said.exists() else 5

    warned = shared_folder / "warned.txt"
    assert as_another_user(try_both) == 0
    remedy = "it belongs to another user; ask them to make it group-writable (chmod g+w) or remove it when no " \
             "run is using it"
    assert said.read_text() == f"{unreadable}: cannot be locked (Permission denied): {remedy}"
    assert warned.read_text() == (f"warning: {shared_folder / locks.SUMMARY_LOCK_NAME}: cannot be locked "
                                  f"(Permission denied): {remedy}; the summaries are written without it\n")


def test_jobs_use_the_cpus_the_process_may_run_on(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {4, 5, 6}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert run.usable_cpus() == 3
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert run.usable_cpus() == 64


# ---------------------------------------------------------------------------------------------
# the folder's summaries


def metrics(value: float, epoch: int = 1) -> dict:
    return {"kendall": value, "spearman": value, "f1": 10 * value, "f1_max": 10 * value, "f1_avg": value,
            "epoch": epoch}


def summary(results_dir: Path) -> dict:
    return json.loads((results_dir / run.TRAIN_SUMMARY).read_text())


def test_runs_of_other_splits_merge_their_summaries_and_other_options_replace_them(tmp_path):
    config = Config(weights_dir=str(tmp_path / "w"), results_dir=str(tmp_path / "r"), splits=(1, 2))
    protocols = {"SumMe": PROTOCOLS["SumMe"], "TVSum": PROTOCOLS["TVSum"]}
    (tmp_path / "r").mkdir()
    run.write_train_summary(config, {"SumMe": {1: metrics(0.1), 2: metrics(0.2)}}, protocols)
    merged = run.write_train_summary(config.replace(splits=(3,)), {"SumMe": {3: metrics(0.6)},
                                                                   "TVSum": {3: metrics(0.3)}},
                                     {"SumMe": PROTOCOLS["SumMe"], "TVSum": PROTOCOLS["TVSum"]})
    assert list(merged["SumMe"]) == [1, 2, 3] and list(merged["TVSum"]) == [3]
    written = summary(tmp_path / "r")
    assert list(written["splits"]["SumMe"]) == ["1", "2", "3"]
    assert written["final"]["SumMe"]["kendall"] == pytest.approx(0.3)
    assert written["split_spread"]["SumMe"]["kendall"]["max"] == 0.6
    only_tvsum = run.write_train_summary(config.replace(splits=(1,)), {"TVSum": {1: metrics(0.5)}},
                                         {"TVSum": PROTOCOLS["TVSum"]})
    assert list(only_tvsum) == ["SumMe", "TVSum"] and list(only_tvsum["TVSum"]) == [1, 3]    # read back by name
    assert list(run.write_train_summary(config.replace(seed=7), {"SumMe": {4: metrics(0.4)}}, protocols)) == ["SumMe"]
    assert list(summary(tmp_path / "r")["splits"]["SumMe"]) == ["4"]                  # another seed: replaced
    other = config.replace(seed=7, weights_dir=str(tmp_path / "elsewhere"))
    assert list(run.write_train_summary(other, {"SumMe": {5: metrics(0.5)}}, protocols)["SumMe"]) == [5]


def test_a_summary_of_an_earlier_release_or_damaged_is_replaced(tmp_path):
    config = Config(weights_dir=str(tmp_path / "w"), results_dir=str(tmp_path))
    for text in ('{"config": {}, "splits": {"SumMe": {"1": {}}}, "final": {}}', "{", "[]"):
        (tmp_path / run.TRAIN_SUMMARY).write_text(text)
        assert run.write_train_summary(config, {"SumMe": {2: metrics(0.2)}}, {"SumMe": PROTOCOLS["SumMe"]}) == \
            {"SumMe": {2: metrics(0.2)}}


def test_runs_that_finish_together_lose_no_split(tmp_path):
    config = Config(weights_dir=str(tmp_path / "w"), results_dir=str(tmp_path))
    protocols = {"SumMe": PROTOCOLS["SumMe"]}
    start = threading.Barrier(8)

    def finish(split: int) -> None:
        start.wait()
        with summary_lock(tmp_path):
            run.write_train_summary(config.replace(splits=(split,)), {"SumMe": {split: metrics(split / 10)}},
                                    protocols)

    threads = [threading.Thread(target=finish, args=(k,)) for k in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert list(summary(tmp_path)["splits"]["SumMe"]) == [str(k) for k in range(1, 9)]


# ---------------------------------------------------------------------------------------------
# train.py and inference.py as a SLURM job array or one torchrun per group of splits would run them


def train_command(dirs, root: Path, *extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "train.py"), *dirs.flags(), "--weights-dir", str(root / "weights"),
            "--results-dir", str(root / "results"), "--no-pretrained", "--device", "cpu", "--quiet",
            "--datasets", "SumMe", *extra]


def environment() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


@pytest.mark.slow
def test_two_runs_of_different_splits_into_one_folder_at_once_then_inference_scores_both(eccv16_dirs, tmp_path):
    board = ("--tensorboard", str(tmp_path / "tb"))
    runs = [subprocess.Popen(train_command(eccv16_dirs, tmp_path, "--splits", str(k), "--epochs", "2", *board),
                             env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for k in (1, 2)]
    outputs = [process.communicate(timeout=600) for process in runs]
    assert [process.returncode for process in runs] == [0, 0], [err for _, err in outputs]
    assert [err for _, err in outputs] == ["", ""]
    for k in (1, 2):
        assert (tmp_path / "weights" / "SumMe" / f"split{k}.pt").is_file()
        assert (tmp_path / "results" / f"SumMe_split{k}.jsonl").is_file()
        assert (tmp_path / "tb" / f"SumMe_split{k}").is_dir()
    assert list(summary(tmp_path / "results")["splits"]["SumMe"]) == ["1", "2"]
    scored = subprocess.run([sys.executable, str(ROOT / "inference.py"), *eccv16_dirs.flags(), "--weights-dir",
                             str(tmp_path / "weights"), "--results-dir", str(tmp_path / "results"), "--device", "cpu",
                             "--datasets", "SumMe", "--splits", "1", "2"],
                            env=environment(), capture_output=True, text=True, timeout=600)
    assert scored.returncode == 0, scored.stderr
    results = json.loads((tmp_path / "results" / "inference.json").read_text())
    assert list(results["datasets"]["SumMe"]["splits"]) == ["1", "2"]


def wait_for_lock(path: Path, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and str(process.pid) in path.read_text()):
        if process.poll() is not None:
            raise AssertionError(f"the run ended before it took its lock: {process.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the run's lock")
        time.sleep(0.05)


@pytest.mark.slow
def test_a_second_run_of_the_same_split_into_the_folder_is_refused(eccv16_dirs, tmp_path):
    first = subprocess.Popen(train_command(eccv16_dirs, tmp_path, "--splits", "1", "2", "--epochs", "200"),
                             env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_lock(tmp_path / "weights" / split_lock_name("SumMe", 2), first)
        second = subprocess.run(train_command(eccv16_dirs, tmp_path, "--splits", "2", "3", "--epochs", "1"),
                                env=environment(), capture_output=True, text=True, timeout=300)
        assert second.returncode == 2
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
        assert second.stderr.startswith(f"error: {tmp_path / 'weights'}: another training run is writing here "
                                        f"(SumMe split 2: pid {first.pid} on ")
        assert not (tmp_path / "weights" / "SumMe" / "split3.pt").exists()
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
