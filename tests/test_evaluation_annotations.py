"""TVSum annotations: reading (plain or gzipped), keys, normalisation; human agreement."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau, rankdata, spearmanr

from evaluation import default_annotations_path, load_tvsum_annotations, step_annotations
from evaluation.human_agreement import video_agreement

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def shipped():
    return load_tvsum_annotations()


def write_tsv(path, rows, packed):
    text = "".join(f"{vid}\t{cat}\t{','.join(map(str, scores))}\n" for vid, cat, scores in rows)
    if packed:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)


def test_default_path_is_the_shipped_file_wherever_we_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = default_annotations_path()
    assert path == ROOT / "data" / "ydata-anno.tsv.gz"
    assert path.exists()


def test_shipped_annotations_keys_and_shapes(shipped):
    assert list(shipped) == [f"video_{i}" for i in range(1, 51)]
    assert all(a.shape[0] == 20 for a in shipped.values())
    assert set(np.unique(np.concatenate([a.ravel() for a in shipped.values()]))) <= {1, 2, 3, 4, 5}
    # video_5 of the eccv16 TVSum h5 has 3,327 frames (the fixture's n_frames).
    assert shipped["video_5"].shape == (20, 3327)


@pytest.mark.parametrize("packed", [False, True])
def test_keys_follow_first_appearance_plain_or_gzipped(tmp_path, packed):
    rows = [
        ("zzz", "A", [1, 2, 3]),
        ("zzz", "A", [3, 2, 1]),
        ("aaa", "B", [5, 5]),
        ("aaa", "B", [1, 5]),
    ]
    path = tmp_path / ("anno.tsv.gz" if packed else "anno.tsv")
    write_tsv(path, rows, packed)
    got = load_tvsum_annotations(path)
    assert list(got) == ["video_1", "video_2"]
    assert got["video_1"].tolist() == [[1, 2, 3], [3, 2, 1]]
    assert got["video_2"].tolist() == [[5, 5], [1, 5]]


def test_step_annotations_normalise_per_annotator_every_15th_frame():
    raw = np.array([np.arange(1, 32) % 5 + 1, np.full(31, 2)], dtype=float)
    steps = step_annotations(raw)
    assert steps.shape == (2, 3)
    assert steps[0].tolist() == (raw[0, ::15] / 5).tolist()
    assert steps[1].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "content, message",
    [
        ("vid\tA\n", "3 tab-separated fields"),
        ("vid\tA\t1,2,x\n", "comma-separated numbers"),
        ("vid\tA\t1,2,3\nvid\tA\t1,2\n", "different frame counts"),
        ("", "no annotations"),
    ],
)
def test_malformed_annotation_files(tmp_path, content, message):
    path = tmp_path / "anno.tsv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        load_tvsum_annotations(path)
    assert str(path) in str(info.value)


def test_missing_annotation_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_tvsum_annotations(tmp_path / "nope.tsv")


def test_video_agreement_equals_scipy_pairs(shipped):
    raw = shipped["video_45"][:6]  # six annotators, 2,500 frames
    tau, rho = video_agreement(raw)
    pair_tau, pair_rho = [], []
    for i in range(raw.shape[0]):
        taus = [kendalltau(rankdata(raw[i]), rankdata(raw[j]))[0] for j in range(raw.shape[0]) if j != i]
        rhos = [spearmanr(raw[i], raw[j])[0] for j in range(raw.shape[0]) if j != i]
        pair_tau.append(np.mean(taus))
        pair_rho.append(np.mean(rhos))
    assert tau == pytest.approx(np.mean(pair_tau), abs=1e-9)
    assert rho == pytest.approx(np.mean(pair_rho), abs=1e-9)


def test_human_agreement_command_prints_otani_figures():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-m", "evaluation.human_agreement", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "0.177" in proc.stdout and "0.204" in proc.stdout
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert round(last["kendall"], 3) == 0.177
    assert round(last["spearman"], 3) == 0.204
