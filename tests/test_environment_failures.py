"""The environment a run meets: a read-only checkout under --demo, a dataset larger than memory, a damaged
ImageNet weights file in torch's cache. Each is one line and exit status 2 (or the run goes on and says
where it put things), and nothing half-made is left."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import pytest

from tests.conftest import TINY_DATA, torch_state_restored

REPO = Path(__file__).resolve().parents[1]


def run_main(main, argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with torch_state_restored(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def read_only(folder: Path, fill=None):
    """``folder``, holding what ``fill(folder)`` puts there, made read-only: a read-only tmpfs mounted on it
    (root writes through permissions), or its permissions (another user); skips where mounting is refused."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        if fill:
            fill(folder)
        folders = [folder, *(p for p in folder.rglob("*") if p.is_dir())]
        for each in folders:
            each.chmod(0o555)
        try:
            yield folder
        finally:
            for each in folders:
                each.chmod(0o755)
        return
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()})")
    try:
        if fill:
            fill(folder)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


# ---------------------------------------------------------------------------------------------
# --demo in a read-only checkout


@pytest.fixture
def demo_places(tmp_path, monkeypatch):
    """The checkout's data/demo and the user's cache folder, both under tmp_path, and tiny demo data."""
    import training.sources as sources

    checkout_data = tmp_path / "checkout" / "data"
    monkeypatch.setattr(sources, "DEMO_DATA_DIR", checkout_data / "demo")
    monkeypatch.setattr(sources, "DEMO_DATA", TINY_DATA)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return checkout_data, tmp_path / "cache" / "csta-reproduction" / "demo"


def test_the_demo_writes_its_data_into_the_user_cache_when_the_checkout_is_read_only(demo_places, capsys):
    from config import Config
    from training.sources import dataset_sources

    checkout_data, cache = demo_places
    with read_only(checkout_data):
        specs = dataset_sources(Config(), demo=True)
        out = capsys.readouterr().out
        assert out == (f"note: {checkout_data / 'demo'}: cannot be written (Read-only file system); the demo's "
                       f"data are in {cache}\n") or "Permission denied" in out
        assert [spec.h5_path.parent for spec in specs] == [cache, cache] and all(s.h5_path.is_file() for s in specs)
        made = {path: path.stat().st_mtime_ns for path in cache.rglob("*") if path.is_file()}
        dataset_sources(Config(), demo=True)                       # the next run uses them as they are
        assert {path: path.stat().st_mtime_ns for path in cache.rglob("*") if path.is_file()} == made


def test_a_read_only_checkout_that_holds_the_demo_data_is_used_as_it_is(demo_places, capsys):
    from config import Config
    from demo import ensure_demo_dataset
    from training.sources import dataset_sources

    checkout_data, cache = demo_places
    with read_only(checkout_data, fill=lambda folder: ensure_demo_dataset(folder / "demo", **TINY_DATA)):
        capsys.readouterr()
        specs = dataset_sources(Config(), demo=True)
        assert capsys.readouterr().out == ""
        assert [spec.h5_path.parent for spec in specs] == [checkout_data / "demo"] * 2 and not cache.exists()


def test_the_demo_without_any_folder_it_can_write_is_one_line(demo_places, tmp_path):
    import train

    checkout_data, _ = demo_places
    with read_only(checkout_data), read_only(tmp_path / "cache"):
        status, out, err = run_main(train.main, ["--demo", "--weights-dir", str(tmp_path / "w"), "--results-dir",
                                                 str(tmp_path / "r"), "--quiet"])
    assert status == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"error: --demo: its generated data can be written neither in the checkout "
                          f"({checkout_data / 'demo'}: cannot be written (")
    assert "set XDG_CACHE_HOME to a folder you can write" in err
    assert not (tmp_path / "w").exists() and not (tmp_path / "r").exists()


# ---------------------------------------------------------------------------------------------
# a dataset larger than memory


def test_the_estimate_is_the_features_as_they_are_held(eccv16_dirs):
    import dataset
    from training.memory import features_bytes

    path = eccv16_dirs.h5_path("SumMe")
    held = sum(record.features.nbytes for record in dataset.load_h5(path).values())
    assert features_bytes(path) == held
    assert features_bytes(path, ["video_1"]) == dataset.load_h5(path)["video_1"].features.nbytes
    assert features_bytes(path, ["no_such_video"]) == 0


def test_the_memory_available_is_known_on_linux():
    from training.memory import available_memory

    if not Path("/proc/meminfo").is_file():
        pytest.skip("not Linux")
    room, bound = available_memory()
    system = next(int(line.split()[1]) * 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemAvailable:"))
    assert 0 <= room <= system and bound


def test_a_dataset_larger_than_memory_is_refused_with_the_remedy_before_it_is_read(eccv16_dirs, tmp_path,
                                                                                   monkeypatch):
    import dataset
    import inference
    import train
    from training import data, memory

    monkeypatch.setattr(memory, "available_memory", lambda: (100_000, "available on this machine"))
    read = []
    monkeypatch.setattr(dataset, "load_h5", lambda *args, **kwargs: read.append(args) or pytest.fail("read"))
    argv = [*eccv16_dirs.flags(), "--weights-dir", str(tmp_path / "w"), "--results-dir", str(tmp_path / "r"),
            "--no-pretrained", "--device", "cpu", "--quiet", "--datasets", "SumMe", "--splits", "1"]
    size = memory.features_bytes(eccv16_dirs.h5_path("SumMe"))
    scoring_argv = [option for option in argv if option not in ("--quiet", "--no-pretrained")]
    for main, options in ((train.main, argv), (inference.main, scoring_argv)):
        status, _, err = run_main(main, options)
        assert status == 2 and err == (f"error: {eccv16_dirs.h5_path('SumMe')}: its features take about "
                                       f"{size / 2**20:.1f} MiB in memory, and 0.1 MiB are available on this machine; "
                                       f"add --streaming to read them from the file per video\n")
    assert read == [] and not (tmp_path / "w").exists()
    monkeypatch.undo()
    bundle = data.load_bundle(eccv16_dirs.spec("SumMe"), streaming=True)          # the remedy reads no features
    assert all(record.features is None for record in bundle.videos.values())


@pytest.mark.slow
def test_a_dataset_beyond_the_address_space_limit_is_one_line(eccv16_dirs, tmp_path):
    """A real limit (ulimit -v), and a file whose features would take 4 GiB (declared, never written)."""
    data = tmp_path / "data"
    shutil.copytree(eccv16_dirs.data_dir, data)
    with h5py.File(data / eccv16_dirs.h5_path("SumMe").name, "a") as h5:
        h5.create_group("video_99").create_dataset("features", shape=(2**20, 1024), dtype="float32", chunks=True)
    script = textwrap.dedent("""
        import resource, sys
        import train, torch, training.run, training.data, dataset
        mapped = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmSize"))
        resource.setrlimit(resource.RLIMIT_AS, (mapped + 2**30, mapped + 2**30))
        sys.exit(train.main(sys.argv[1:]))
    """)
    done = subprocess.run([sys.executable, "-c", script, "--data-dir", str(data), "--splits-dir",
                           str(data / "splits"), "--weights-dir", str(tmp_path / "w"), "--results-dir",
                           str(tmp_path / "r"), "--no-pretrained", "--device", "cpu", "--quiet", "--datasets", "SumMe",
                           "--splits", "1"], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"error: {data / eccv16_dirs.h5_path('SumMe').name}: its features take about 4.0")
    assert "add --streaming" in done.stderr


def test_a_small_input_is_read_within_a_small_address_space(tmp_path):
    """Under ulimit -v, reading a 470-byte split file reserved a buffer of the 256 MB limit (MemoryError)."""
    split_file = tmp_path / "splits.txt"
    split_file.write_text("SumMe/split0/video_1/video_2\n")
    script = textwrap.dedent("""
        import resource, sys
        from storage.files import read_input_bytes
        mapped = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmSize"))
        resource.setrlimit(resource.RLIMIT_AS, (mapped + 64 * 2**20, mapped + 64 * 2**20))
        print(len(read_input_bytes(sys.argv[1], "split file")))
    """)
    done = subprocess.run([sys.executable, "-c", script, str(split_file)], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0 and done.stdout == "29\n", done.stderr


# ---------------------------------------------------------------------------------------------
# a damaged ImageNet weights file in torch's cache

HTML = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>\n"


@pytest.fixture
def damaged_cache(tmp_path, monkeypatch):
    """torch's cache in tmp_path, holding GoogLeNet's ImageNet weights as an HTML error page."""
    from video.features import WEIGHTS, weights_file

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = weights_file(WEIGHTS)
    path.parent.mkdir(parents=True)
    path.write_bytes(HTML)
    return path


@pytest.mark.parametrize("content, says", [(HTML, "it is a web page, saved in its place by a download that failed"),
                                           (b"", "it is empty"),
                                           (b"PK\x03\x04" + b"\0" * 40, "it is cut short or not a PyTorch file")])
def test_a_damaged_weights_file_is_named_with_its_remedy(damaged_cache, content, says):
    from model.backbones import PretrainedWeightsUnavailable, load_imagenet_state_dict
    from video.features import WEIGHTS

    damaged_cache.write_bytes(content)
    with pytest.raises(PretrainedWeightsUnavailable) as raised:
        load_imagenet_state_dict(WEIGHTS)
    assert str(raised.value) == (f"{damaged_cache}: torch's cached copy of the ImageNet weights "
                                 f"GoogLeNet_Weights.IMAGENET1K_V1 does not load ({says}); delete it to download it "
                                 f"again, or run without ImageNet weights with --no-pretrained")


def test_summarize_with_a_damaged_weights_file_is_one_line_and_makes_no_folder(damaged_cache, checkpoint, tmp_path):
    import summarize

    (tmp_path / "clip.mp4").write_bytes(b"never decoded: the weights are refused first")
    out = tmp_path / "new" / "summaries"
    status, _, err = run_main(summarize.main, [str(tmp_path / "clip.mp4"), "--weights", str(checkpoint), "--out",
                                               str(out), "--device", "cpu", "--quiet"])
    assert status == 2 and err.splitlines() == [f"error: {damaged_cache}: torch's cached copy of the ImageNet weights "
                                                f"GoogLeNet_Weights.IMAGENET1K_V1 does not load (it is a web page, "
                                                f"saved in its place by a download that failed); delete it to "
                                                f"download it again, or run without ImageNet weights with "
                                                f"--no-pretrained"]
    assert not (tmp_path / "new").exists()


def test_train_with_a_damaged_weights_file_is_one_line_before_any_folder_is_made(damaged_cache, eccv16_dirs,
                                                                                tmp_path):
    import train

    status, _, err = run_main(train.main, [*eccv16_dirs.flags(), "--weights-dir", str(tmp_path / "w"),
                                           "--results-dir", str(tmp_path / "r"), "--device", "cpu", "--quiet",
                                           "--datasets", "SumMe", "--splits", "1", "--epochs", "1"])
    assert status == 2 and len(err.splitlines()) == 1 and err.startswith(f"error: {damaged_cache}: ")
    assert "delete it to download it again" in err
    assert not (tmp_path / "w").exists() and not (tmp_path / "r").exists()
