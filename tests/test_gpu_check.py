"""The GPU check script runs end to end in its dry mode (the same steps on the CPU, tiny sizes)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_gpu_check_dry_run():
    env = dict(os.environ, PYTHON=sys.executable)
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for step in ("== 1.", "== 2.", "== 3.", "== 4.", "== done"):
        assert step in result.stdout
    assert "-> EQUAL" in result.stdout
    assert "'world_size': 2" in result.stdout and "'backend': 'gloo'" in result.stdout
    assert "best: --jobs 1" in result.stdout
