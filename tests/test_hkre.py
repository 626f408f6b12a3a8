"""HKRE: every parameter decays by exactly lr × its group's documented weight decay; batches are homogeneous."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
import torch
from transformers import Qwen3Config, Qwen3ForCausalLM, TrainerCallback, TrainingArguments

from ecmiip.core.errors import InputError, UnsupportedError
from ecmiip.train.hkre import (
    AlphaCollator,
    HardnessBucketSampler,
    HKRECallback,
    HKRETrainer,
    HKREWeightDecay,
    hardness_buckets,
    layer_band,
    param_groups,
)
from ecmiip.train.hkre_config import HKREConfig

LEVELS = (1.0, 0.7, 0.4, 0.1, 0.0)
# The module docstring's table, written out independently of the code: hard factor per band.
HARD_FACTOR = {"embedding": 0.0, "low": 0.0, "mid": 0.3, "high": 0.7}


def tiny_qwen3(layers: int = 12, tied: bool = False, bias: bool = True) -> Qwen3ForCausalLM:
    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=layers, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, attention_bias=bias, tie_word_embeddings=tied,
    )  # fmt: skip
    return Qwen3ForCausalLM(config)


def expected_band(name: str) -> str:
    if name.endswith(".bias") or "norm" in name:
        return "no_decay"
    if "embed_tokens" in name or name.startswith("lm_head"):
        return "embedding"
    layer = int(name.split(".")[2])
    return "low" if layer <= 4 else "mid" if layer <= 8 else "high"


def expected_wd(band: str, alpha: float, lam: float = 0.01) -> float:
    if band == "no_decay":
        return 0.0
    return lam * (1 - alpha) * (HARD_FACTOR[band] if alpha >= 0.7 else 1.0)


# --------------------------------------------------------------------------------------------------
# (a) the decay itself


@pytest.mark.parametrize(
    "impl", [{"foreach": False}, {"foreach": True}, {"fused": True}], ids=["loop", "foreach", "fused"]
)
def test_zero_grad_step_shrinks_each_param_by_lr_times_its_group_decay(impl: dict[str, bool]) -> None:
    model = tiny_qwen3()
    lr = 0.5
    opt = torch.optim.AdamW(param_groups(model, HKREConfig()), lr=lr, **impl)
    group_of = {id(p): g for g in opt.param_groups for p in g["params"]}
    names = dict(model.named_parameters())
    assert sum(len(g["params"]) for g in opt.param_groups) == len(names)
    assert {g["band"] for g in opt.param_groups} == {"embedding", "low", "mid", "high", "no_decay"}
    skipped = {
        "model.layers.10.mlp.up_proj.weight",
        "model.layers.6.self_attn.q_proj.weight",
        "lm_head.weight",
    }
    decay = HKREWeightDecay(HKREConfig())

    for step, alpha in enumerate(LEVELS):
        for name, p in names.items():
            p.grad = None if name in skipped else torch.zeros_like(p)
        values = decay.set_step(opt, step, len(LEVELS), alpha)
        assert values == {g["band"]: g["weight_decay"] for g in opt.param_groups}
        before = {n: p.detach().clone() for n, p in names.items()}
        opt.step()
        for name, p in names.items():
            group = group_of[id(p)]
            band = expected_band(name)
            assert group["band"] == band and group["band_factor"] == (
                0.0 if band == "no_decay" else HARD_FACTOR[band]
            )
            assert group["weight_decay"] == pytest.approx(expected_wd(band, alpha), rel=1e-12, abs=1e-15), (
                name
            )
            if name in skipped or group["weight_decay"] == 0.0:
                assert torch.equal(p, before[name]), f"{name} changed at α={alpha}"
            else:
                assert torch.equal(p, before[name] * (1 - lr * group["weight_decay"])), f"{name} at α={alpha}"
                assert not torch.equal(p, before[name])


def test_tied_lm_head_is_the_embedding_once() -> None:
    model = tiny_qwen3(layers=2, tied=True, bias=False)
    groups = param_groups(model, HKREConfig())
    emb = next(g for g in groups if g["band"] == "embedding")["params"]
    assert len(emb) == 1 and emb[0] is model.lm_head.weight is model.model.embed_tokens.weight
    assert {g["band"] for g in groups} == {"embedding", "low", "no_decay"}


def test_frozen_parameters_are_left_out() -> None:
    model = tiny_qwen3(layers=2)
    model.model.embed_tokens.weight.requires_grad_(False)
    groups = param_groups(model, HKREConfig())
    assert all(p is not model.model.embed_tokens.weight for g in groups for p in g["params"])


def test_layer_band_names_plain_and_peft() -> None:
    cfg = HKREConfig()
    cases = {
        "model.embed_tokens.weight": "embedding",
        "lm_head.weight": "embedding",
        "model.norm.weight": "no_decay",
        "model.layers.3.input_layernorm.weight": "no_decay",
        "model.layers.9.self_attn.q_norm.weight": "no_decay",
        "model.layers.4.self_attn.q_proj.bias": "no_decay",
        "model.layers.4.mlp.down_proj.weight": "low",
        "model.layers.5.mlp.down_proj.weight": "mid",
        "model.layers.8.self_attn.o_proj.weight": "mid",
        "model.layers.9.self_attn.o_proj.weight": "high",
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight": "low",
        "base_model.model.model.layers.7.mlp.up_proj.lora_B.default.weight": "mid",
        "base_model.model.model.layers.11.self_attn.v_proj.lora_A.default.weight": "high",
        "base_model.model.model.embed_tokens.lora_embedding_A.default": "embedding",
        "base_model.model.lm_head.modules_to_save.default.weight": "embedding",
    }
    for name, band in cases.items():
        assert layer_band(name, 12, cfg) == band, name
    with pytest.raises(UnsupportedError):
        layer_band("score.weight", 12, cfg)
    with pytest.raises(UnsupportedError):
        layer_band("model.layers.12.mlp.up_proj.weight", 12, cfg)


def test_relative_edges_for_a_deeper_model() -> None:
    cfg = HKREConfig(band_edges=(0.18, 0.32), relative_edges=True)
    assert cfg.edges(28) == (5, 9)
    bands = [layer_band(f"model.layers.{i}.mlp.up_proj.weight", 28, cfg) for i in range(28)]
    assert bands == ["low"] * 5 + ["mid"] * 4 + ["high"] * 19
    assert HKREConfig(band_edges=(10, 20)).edges(36) == (10, 20)


def test_peft_model_groups() -> None:
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(tiny_qwen3(), LoraConfig(r=4, target_modules=["q_proj", "up_proj"]))
    groups = param_groups(model, HKREConfig())
    sizes = {g["band"]: len(g["params"]) for g in groups}
    assert sizes == {"low": 5 * 4, "mid": 4 * 4, "high": 3 * 4}  # lora_A + lora_B on 2 modules per layer


def test_combine_min_and_cosine_beta() -> None:
    cfg = HKREConfig(combine="min")
    assert cfg.weight_decay("high", 0.7) == pytest.approx(0.01 * 0.3)
    assert cfg.weight_decay("mid", 0.7) == pytest.approx(0.01 * 0.3)
    assert cfg.weight_decay("low", 0.7) == 0.0
    assert cfg.weight_decay("high", 0.4) == pytest.approx(0.006)
    assert HKREConfig().weight_decay("high", float(torch.tensor(0.7, dtype=torch.float32))) == pytest.approx(
        0.0021
    )
    cos = HKREConfig(beta_schedule="cosine", warmup_steps=10, min_beta=0.1)
    assert [cos.beta(t, 110) for t in (0, 5, 10, 60, 110, 200)] == pytest.approx([0, 0.5, 1, 0.55, 0.1, 0.1])
    assert HKREConfig().beta(3, 10) == 1.0
    for bad in (
        {"lambda_base": -1},
        {"band_edges": (9, 5)},
        {"combine": "sum"},
        {"hard_factors": {"low": 0}},
    ):
        with pytest.raises(InputError):
            HKREConfig(**bad)
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.ones(2))])
    with pytest.raises(InputError, match="band"):
        HKREWeightDecay(HKREConfig()).set_step(opt, 0, 1, 0.5)


# --------------------------------------------------------------------------------------------------
# (b) the sampler


def _alphas(n: int = 103, seed: int = 1) -> list[float]:
    g = torch.Generator().manual_seed(seed)
    return [LEVELS[i] for i in torch.randint(len(LEVELS), (n,), generator=g).tolist()]


@pytest.mark.parametrize("drop_last", [False, True])
def test_buckets_are_homogeneous_and_cover_each_index_once(drop_last: bool) -> None:
    alphas = _alphas()
    batches = hardness_buckets(alphas, 4, seed=3, drop_last=drop_last)
    assert all(len({alphas[i] for i in b}) == 1 for b in batches)
    seen = Counter(itertools.chain.from_iterable(batches))
    assert max(seen.values()) == 1
    per_level = Counter(alphas)
    expected = sum(n - n % 4 for n in per_level.values()) if drop_last else len(alphas)
    assert len(seen) == expected and all(len(b) == 4 for b in batches) == drop_last
    assert batches == hardness_buckets(alphas, 4, seed=3, drop_last=drop_last)
    assert batches != hardness_buckets(alphas, 4, seed=4, drop_last=drop_last)
    assert len({alphas[b[0]] for b in batches[:10]}) > 1  # levels are interleaved, not in runs


def test_sampler_epochs_and_len() -> None:
    alphas = _alphas()
    sampler = HardnessBucketSampler(alphas, 4, seed=3)
    first = list(sampler)
    assert len(first) == len(sampler) and sorted(itertools.chain.from_iterable(first)) == list(
        range(len(alphas))
    )
    assert first == list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first
    unshuffled = [i for b in HardnessBucketSampler(alphas, 4, shuffle=False) for i in b]
    assert unshuffled == sorted(
        range(len(alphas)), key=lambda i: alphas.index(alphas[i])
    )  # levels by first use


@pytest.mark.parametrize(("world", "accum", "drop_last"), [(2, 1, False), (3, 2, False), (4, 1, True)])
def test_sampler_rank_split_keeps_every_step_on_one_level(world: int, accum: int, drop_last: bool) -> None:
    alphas = _alphas()
    ranks = [
        list(
            HardnessBucketSampler(
                alphas, 3, seed=7, drop_last=drop_last, num_replicas=world, rank=r, grad_accum=accum
            )
        )
        for r in range(world)
    ]
    assert len({len(batches) for batches in ranks}) == 1
    assert len(ranks[0]) == len(
        HardnessBucketSampler(alphas, 3, drop_last=drop_last, num_replicas=world, grad_accum=accum)
    )
    n_steps = len(ranks[0]) // accum
    covered: Counter[int] = Counter()
    for s in range(n_steps):
        step = [b for batches in ranks for b in batches[s * accum : (s + 1) * accum]]
        assert len({alphas[i] for b in step for i in b}) == 1, f"step {s} mixes levels across ranks"
        assert len({len(b) for b in step}) == 1
        assert len({i for b in step for i in b}) == sum(len(b) for b in step) or not drop_last
        covered.update(i for b in step for i in b)
    if drop_last:
        assert max(covered.values()) == 1
    else:
        assert set(covered) == set(range(len(alphas)))  # all seen; a level's short tail may repeat a few


# --------------------------------------------------------------------------------------------------
# (c) the trainer hook


class _RecordDecay(TrainerCallback):
    """The optimizer's actual group decays right after each step."""

    def __init__(self) -> None:
        self.seen: list[dict[str, float]] = []

    def on_optimizer_step(self, args, state, control, optimizer=None, **kwargs):  # noqa: ANN001
        self.seen.append({g["band"]: g["weight_decay"] for g in optimizer.param_groups})


@pytest.mark.parametrize("accum", [1, 2])
def test_trainer_sets_each_steps_decay_from_the_batch_alpha(tmp_path, accum: int) -> None:
    alphas = _alphas(24, seed=5)
    g = torch.Generator().manual_seed(0)
    data = [
        {"input_ids": ids, "labels": ids, "alpha_hard": a}
        for a in alphas
        for ids in [torch.randint(64, (8,), generator=g).tolist()]
    ]
    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=2, gradient_accumulation_steps=accum, max_steps=3,
        learning_rate=1e-3, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True, seed=11,
    )  # fmt: skip
    record = _RecordDecay()
    trainer = HKRETrainer(model=tiny_qwen3(), args=args, train_dataset=data, callbacks=[record])
    trainer.train()

    history = trainer.hkre.history
    assert [step for step, _, _ in history] == [0, 1, 2]
    assert record.seen == [values for _, _, values in history]
    for _, alpha, values in history:
        assert values == pytest.approx({b: expected_wd(b, alpha) for b in values}, rel=1e-12, abs=1e-15)
    batches = list(HardnessBucketSampler(alphas, 2, seed=11, grad_accum=accum))
    assert [alpha for _, alpha, _ in history] == [alphas[batches[s * accum][0]] for s in range(3)]
    logged = [log for log in trainer.state.log_history if "hkre_alpha" in log]
    assert [log["hkre_alpha"] for log in logged] == [alpha for _, alpha, _ in history]


def test_mixed_step_is_refused() -> None:
    callback = HKRECallback(HKREWeightDecay(HKREConfig()))
    callback.observe([0.7, 0.7])
    with pytest.raises(InputError, match="mixes"):
        callback.observe([0.7, 0.4])
    collate = AlphaCollator(lambda feats: {"n": len(feats)})
    features = [{"x": 1, "alpha_hard": 0.7}, {"x": 2, "alpha_hard": 0.7}]
    assert collate(features) == {"n": 2, "alpha_hard": [0.7, 0.7]}
    assert "alpha_hard" in features[0]  # the dataset's own items are not mutated
    with pytest.raises(InputError):
        collate([{"x": 1, "alpha_hard": 0.7}, {"x": 2}])
