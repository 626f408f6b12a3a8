"""Run by tests/test_ddp.py under torchrun: the tiny recipe's pre-training on one rank of several.

Each rank writes a digest of its final weights, so the test can check all ranks ended equal.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from transformers import TrainerCallback

from ecmiip.train.pretrain import run_pretrain
from ecmiip.train.recipe import load_recipe


class WeightDigest(TrainerCallback):
    def __init__(self, out: Path) -> None:
        self.out = out

    def on_train_end(self, args, state, control, model=None, **kwargs):
        digest = hashlib.sha256()
        for name, p in sorted(model.state_dict().items()):
            digest.update(name.encode())
            digest.update(p.detach().float().cpu().numpy().tobytes())
        rank = int(os.environ.get("RANK", "0"))
        stage = "stage2" if "stage2" in str(args.output_dir) else "stage1"
        (self.out / f"digest-{stage}-rank{rank}.json").write_text(
            json.dumps({"rank": rank, "world": int(os.environ.get("WORLD_SIZE", "1")), "sha256": digest.hexdigest(), "step": state.global_step})
        )


if __name__ == "__main__":
    base, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    run_pretrain(load_recipe("tiny-cpu"), base, out / "run", callbacks=[WeightDigest(out)])
