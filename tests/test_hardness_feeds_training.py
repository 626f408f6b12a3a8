"""Issue 14: stage 1 trains with the hardness labels the user produced, not a silent relabelling.

The labels written by ``ecmiip data hardness --config`` reach the examples and the weight decay HKRE
sets on the optimizer for the batch; an unlabelled record still gets the default label; a bad label
is a one-line error naming the record and the field.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import Qwen3Config, Qwen3ForCausalLM, TrainerCallback

from ecmiip.cli import main
from ecmiip.core.errors import InputError
from ecmiip.train import hardness
from ecmiip.train.hardness import stage1_records
from ecmiip.train.hkre import HKRETrainer
from ecmiip.train.hkre_config import BANDS, HKREConfig
from ecmiip.train.loop import training_arguments
from ecmiip.train.pretrain import stage1_examples
from ecmiip.train.recipe import load_recipe
from ecmiip.train.sft import PadCollator

SAMPLES = Path(hardness.__file__).resolve().parent / "samples"
# Doctrine full of soft markers (通说, 利益平衡, 学界…): L4 by the default rules.
SOFT_ID = "sample-knowledge-002"
CUSTOM_ALPHA = 0.85  # above hard_threshold 0.7: a hard batch, so the layer bands decay differently


class CharTokenizer:
    """Ids from characters (vocabulary 64): stage 1's examples without a real tokenizer."""

    eos_token_id = 1

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": [2 + ord(c) % 62 for c in text]}


class RecordDecay(TrainerCallback):
    """The optimizer's param groups' weight decay right after each step: what AdamW applied."""

    def __init__(self) -> None:
        self.seen: list[dict[str, float]] = []

    def on_optimizer_step(self, args, state, control, optimizer=None, **kwargs):  # noqa: ANN001
        self.seen.append({g["band"]: g["weight_decay"] for g in optimizer.param_groups})


def soft_record() -> dict:
    for line in (SAMPLES / "knowledge.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["id"] == SOFT_ID:
            return record
    raise AssertionError(f"{SOFT_ID} not in the samples")


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def stage1_recipe(tmp_path: Path, knowledge: Path):
    """tiny-cpu's training settings, stage 1 from ``knowledge`` only (no statutes) and one step."""
    path = tmp_path / "recipe.yaml"
    path.write_text(
        "base: unused\n"
        f"data: {{statutes: [], knowledge: [{knowledge}], exemptions: []}}\n"
        "pretrain:\n  stage1: {batch_size: 1, max_length: 32, max_steps: 1, lr: 1.0e-3, precision: fp32}\n",
        encoding="utf-8",
    )
    return load_recipe(path)


def tiny_qwen3() -> Qwen3ForCausalLM:
    """12 layers, so that the low, mid and high bands all hold parameters."""
    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=12, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, tie_word_embeddings=False,
    )  # fmt: skip
    return Qwen3ForCausalLM(config)


def stage1_step(recipe, examples: list[dict], out: Path) -> tuple[HKRETrainer, RecordDecay]:
    """One optimizer step of stage 1, wired as ``run_pretrain`` wires it (HKRE config from the recipe)."""
    s1 = recipe.pretrain.stage1
    record = RecordDecay()
    args = training_arguments(s1, out, recipe.seed, eval_strategy="no", save_strategy="no", use_cpu=True)
    trainer = HKRETrainer(model=tiny_qwen3(), args=args, train_dataset=examples, data_collator=PadCollator(0),
                          callbacks=[record], hkre=s1.hkre)
    trainer.train()
    return trainer, record


def test_a_custom_hardness_config_sets_the_decay_stage1_applies(tmp_path: Path) -> None:
    assert hardness.label(soft_record()).level == "L4"
    raw = write_jsonl(tmp_path / "knowledge.jsonl", [soft_record()])
    config = tmp_path / "hardness.yaml"
    config.write_text(f"alpha_l4: {CUSTOM_ALPHA}\n", encoding="utf-8")
    labelled = tmp_path / "labelled.jsonl"
    assert main(["data", "hardness", str(raw), str(labelled), "--config", str(config)]) == 0
    assert json.loads(labelled.read_text(encoding="utf-8"))["alpha_hard"] == CUSTOM_ALPHA  # what the user inspects

    recipe = stage1_recipe(tmp_path, labelled)
    examples = stage1_examples(CharTokenizer(), stage1_records(recipe), recipe.pretrain.stage1.max_length)
    assert [e["alpha_hard"] for e in examples] == [CUSTOM_ALPHA]

    trainer, record = stage1_step(recipe, examples, tmp_path / "run")
    [(step, alpha, values)] = trainer.hkre.history
    assert (step, alpha) == (0, CUSTOM_ALPHA)
    assert record.seen == [values]  # what the optimizer applied is what HKRE set
    # wd = λ · (1 − α) · hard factor (α ≥ 0.7): written out, not taken from HKREConfig.weight_decay.
    soft = 1 - CUSTOM_ALPHA
    expected = {"embedding": 0.0, "low": 0.0, "mid": 0.01 * soft * 0.3, "high": 0.01 * soft * 0.7, "no_decay": 0.0}
    assert set(values) == set(BANDS)
    assert values == pytest.approx(expected, rel=1e-12, abs=1e-15)
    # The default label (L4, α 0.1, a soft batch) would have decayed every band but norms by λ · 0.9.
    default = HKREConfig().weight_decay("mid", hardness.HardnessConfig().alpha_l4)
    assert default == pytest.approx(0.009) and values["mid"] != pytest.approx(default)


def test_a_hand_label_changes_the_decay_and_an_unlabelled_record_gets_the_default() -> None:
    unlabelled = soft_record()
    by_hand = soft_record() | {"id": "by-hand", "alpha_hard": 0.4}
    level_only = soft_record() | {"id": "level-only", "hardness": "L2"}
    default = hardness.label(unlabelled)
    assert (default.level, default.alpha_hard) == ("L4", 0.1)

    alphas = [e["alpha_hard"] for e in stage1_examples(CharTokenizer(), [unlabelled, by_hand, level_only], 32)]
    assert alphas == [0.1, 0.4, 0.7]
    config = HKREConfig()
    assert [config.weight_decay("high", a) for a in alphas] == pytest.approx([0.009, 0.006, 0.01 * 0.3 * 0.7])

    custom = hardness.HardnessConfig(alpha_l4=0.2, alpha_l2=0.6)  # labels only what carries no label
    alphas = [e["alpha_hard"] for e in stage1_examples(CharTokenizer(), [unlabelled, by_hand, level_only], 32, custom)]
    assert alphas == [0.2, 0.4, 0.6]


@pytest.mark.parametrize("value", [1.5, -0.1, float("nan"), "0.7", True, None])
def test_a_bad_alpha_hard_is_a_one_line_error_naming_record_and_field(value: object) -> None:
    record = soft_record() | {"id": "k-bad", "alpha_hard": value}
    with pytest.raises(InputError) as e:
        stage1_examples(CharTokenizer(), [soft_record(), record], 32)
    message = str(e.value)
    assert "\n" not in message
    assert "'k-bad'" in message and "alpha_hard" in message and "between 0 and 1" in message


def test_a_record_without_id_is_named_by_its_place_or_its_article() -> None:
    knowledge = {k: v for k, v in soft_record().items() if k != "id"} | {"alpha_hard": 2}
    with pytest.raises(InputError, match=r"^knowledge record #2: alpha_hard must be"):
        stage1_examples(CharTokenizer(), [soft_record(), knowledge], 32)
    statute = {"kind": "statute", "law": "中华人民共和国专利法", "version": "2020修正", "article": "第十一条",
               "text": "发明和实用新型专利权被授予后……", "alpha_hard": "hard"}
    with pytest.raises(InputError, match=r"^《中华人民共和国专利法》第十一条（2020修正）: alpha_hard must be"):
        stage1_examples(CharTokenizer(), [statute], 32)
    with pytest.raises(InputError, match=r"^record 'k-level': hardness must be one of L1, L2, L3, L4"):
        stage1_examples(CharTokenizer(), [soft_record() | {"id": "k-level", "hardness": "L9"}], 32)


def test_a_bad_label_in_a_file_names_the_file_line_and_field(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "labelled.jsonl", [soft_record(), soft_record() | {"id": "k2", "alpha_hard": 1.5}])
    with pytest.raises(InputError, match=rf"{path}:2: alpha_hard: must be between 0 and 1"):
        stage1_records(stage1_recipe(tmp_path, path))


def test_the_build_trains_stage1_on_the_labels_of_its_hardness_step(tmp_path):
    """`ecmiip build`: a label edited in 02-hardness/hardness.jsonl is the one stage 1 uses."""
    from ecmiip.pipeline.build import BuildPlan, effective_recipe, pretrain_recipe, run_data, run_hardness
    from ecmiip.train.hardness import record_alpha, stage1_records
    from ecmiip.train.recipe import load_recipe

    samples = Path(__file__).resolve().parents[1] / "train" / "samples"
    plan = BuildPlan(load_recipe("tiny-cpu"), tmp_path, samples, tmp_path / "b")
    for name, step in (("01-data", run_data), ("02-hardness", run_hardness)):
        (plan.out / name).mkdir(parents=True)
        step(plan, plan.out / name, False)
    labels = plan.out / "02-hardness" / "hardness.jsonl"
    rows = [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines()]
    edited = next(i for i, r in enumerate(rows) if r.get("kind") == "knowledge")
    rows[edited]["alpha_hard"] = 0.123
    labels.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")

    records = stage1_records(pretrain_recipe(plan))
    assert len(records) == len(rows) == len(stage1_records(effective_recipe(plan)))
    by_id = {r["id"]: r for r in records if r.get("id")}
    assert record_alpha(by_id[rows[edited]["id"]]) == 0.123
    assert [record_alpha(r) for r in records] == [r["alpha_hard"] for r in rows]
