"""The recipe step benchmark: its arithmetic (per-layer fit, scaling to the recipe's batch) and one tiny run."""

from __future__ import annotations

import pytest

from ecmiip.bench.random_models import QWEN3_4B_DIMS, random_qwen3
from ecmiip.bench.recipe_speed import (
    Measurement,
    Plan,
    linear_fit,
    run_stages,
    stage1_dataset,
    stage2_dataset,
    stage_figure,
)
from ecmiip.core.errors import InputError
from ecmiip.train.recipe import load_recipe


def _measured(stage: str, layers: int, micro: float, update: float, *, micro_batch=1, accum=1, batch=8, recipe_accum=4):
    plan = Plan(stage, layers, micro_batch, accum, 1, batch, recipe_accum, 1024)
    return Measurement(plan, [micro], [update], 0.0, "float32")


def test_linear_fit_separates_fixed_and_per_layer_cost():
    assert linear_fit([1, 2, 3], [5.0, 7.0, 9.0]) == pytest.approx((3.0, 2.0))
    with pytest.raises(InputError, match="two different layer counts"):
        linear_fit([2, 2], [1.0, 1.0])


def test_extrapolated_step_is_micro_batches_times_micro_time_plus_update():
    # 1 layer: 5 s per micro-batch, 2 layers: 7 s → 3 s fixed + 2 s per layer → 75 s at 36 layers
    f = stage_figure("stage1", [_measured("stage1", 1, 5.0, 0.1), _measured("stage1", 2, 7.0, 0.2)], 36)
    assert f.how == "extrapolated"
    assert (f.fixed_micro_s, f.per_layer_micro_s) == pytest.approx((3.0, 2.0))
    assert f.micro_per_step == 32  # the recipe's 8 × 4 sequences in micro-batches of 1
    assert f.update_s == pytest.approx(0.0 + 0.1 * 36)
    assert f.step_s == pytest.approx(32 * 75.0 + 3.6)
    assert f.lm_tokens_per_step == 8 * 4 * 1024
    assert f.tokens_per_s == pytest.approx(f.lm_tokens_per_step / f.step_s)
    assert "extrapolated to 36" in f.note and "8 × 4 = 32 micro-batches" in f.note


def test_full_depth_at_the_recipe_batch_is_measured_else_scaled():
    exact = _measured("sft", 36, 2.0, 0.5, micro_batch=8, accum=8, batch=8, recipe_accum=8)
    f = stage_figure("sft", [exact], 36)
    assert (f.how, f.step_s) == ("measured", pytest.approx(8 * 2.0 + 0.5))
    halved = _measured("sft", 36, 1.0, 0.5, micro_batch=4, accum=8, batch=8, recipe_accum=8)
    f = stage_figure("sft", [halved], 36)
    assert (f.how, f.micro_per_step, f.step_s) == ("scaled", 16, pytest.approx(16 * 1.0 + 0.5))


def test_a_negative_per_layer_time_is_flagged():
    f = stage_figure("stage1", [_measured("stage1", 1, 5.0, 0.1), _measured("stage1", 2, 4.9, 0.1)], 36)
    assert "not reliable" in f.note


def test_stage2_counts_four_sequences_per_case():
    f = stage_figure("stage2", [_measured("stage2", 36, 1.0, 0.0, batch=4, recipe_accum=8)], 36)
    assert f.sequences_tokens_per_step == 4 * f.lm_tokens_per_step


def test_synthetic_batches_fill_max_length():
    s1 = stage1_dataset(2, 16, 1000)
    assert [len(r["input_ids"]) for r in s1] == [16, 16] and s1[0]["alpha_hard"] == 1.0
    s2 = stage2_dataset(1, 16, 1000)[0]
    assert all(len(s2[k]["input_ids"]) == 16 and sum(s2[k]["judgment_mask"]) == 4 for k in ("pos", "neg", "hard"))


def test_qwen3_4b_dims_are_the_real_model():
    assert QWEN3_4B_DIMS["num_hidden_layers"] == 36 and QWEN3_4B_DIMS["hidden_size"] == 2560
    model = random_qwen3(**{**QWEN3_4B_DIMS, "num_hidden_layers": 1, "hidden_size": 64, "intermediate_size": 128,
                            "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32})  # fmt: skip
    assert model.config.vocab_size == 151936 and model.config.tie_word_embeddings
    assert model.lm_head.weight is model.model.embed_tokens.weight


def test_tiny_run_of_every_stage_through_the_real_trainers(tmp_path):
    """The qwen3-4b recipe (LoRA pre-training, NF4 SFT) on a 64-wide model, 32-token sequences."""
    recipe = load_recipe("qwen3-4b")
    for section in (recipe.pretrain.stage1, recipe.pretrain.stage2, recipe.sft):
        section.max_length = 32
    dims = {**QWEN3_4B_DIMS, "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2,
            "num_key_value_heads": 1, "head_dim": 32}  # fmt: skip
    out = run_stages(recipe, dims, layers=[1, 2], micro_batch=lambda s: 1, accum=lambda s: 2, steps=1,
                     stages=["stage1", "stage2", "sft"], work=tmp_path, say=lambda _: None)  # fmt: skip
    for stage, measurements in out.items():
        assert [m.plan.layers for m in measurements] == [1, 2]
        assert all(len(m.micro_s) == 1 and m.micro_s[0] > 0 for m in measurements), stage
        f = stage_figure(stage, measurements, 36)
        assert f.how == "extrapolated" and f.micro_per_step > 1  # timings of so small a model are noise: not asserted
