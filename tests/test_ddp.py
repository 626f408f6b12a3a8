"""The trainer runs unchanged as several processes (torchrun, gloo on CPU) and all ranks agree."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_tiny_recipe_on_two_cpu_processes_ends_with_equal_weights(tiny_qwen3_dir, tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    worker = Path(__file__).with_name("ddp_worker.py")
    proc = subprocess.run(
        [torchrun, "--nproc_per_node", "2", "--master_port", "29533", str(worker), str(tiny_qwen3_dir), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for stage in ("stage1", "stage2"):
        digests = [json.loads((tmp_path / f"digest-{stage}-rank{r}.json").read_text()) for r in (0, 1)]
        assert all(d["world"] == 2 for d in digests)
        assert digests[0]["step"] == digests[1]["step"] > 0
        assert digests[0]["sha256"] == digests[1]["sha256"], stage
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
