"""Two-stage continued pre-training (the paper's HKRE stage 1, then in-context learning on cases).

Stage 1 reads statutes, knowledge and exemption records, keeps the hardness label a record carries
(labelling only the others) and trains on homogeneous-hardness batches whose weight decay HKRE sets
per layer band (``train/hkre.py``).
Stage 2 trains on case texts: the LM loss covers the graded-masking selection (``train/cases.py``)
and a hinge term makes the right articles and judgment likelier than wrong ones
(``train/contrastive.py``):  loss = LM_graded(case text) + λ · mean_neg max(0, m − (logp(pos) − logp(neg))).

The result is a 16-bit model directory that SFT quantizes and trains adapters on.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from transformers import Trainer

from ecmiip.core.console import console
from ecmiip.core.errors import InputError
from ecmiip.core.hf_models import add_lora, load_model, load_tokenizer
from ecmiip.core.outputs import atomic_dir
from ecmiip.train import contrastive, hardness
from ecmiip.train.cases import graded_mask, swap_variants, token_labels
from ecmiip.train.contrastive import CaseExample, build_triples, encode
from ecmiip.train.hardness import _data_files, stage1_records
from ecmiip.train.hkre import HKRETrainer
from ecmiip.train.loop import (
    OverfitWarning,
    RichProgress,
    quiet,
    record_run,
    resume_from,
    split_train_val,
    training_arguments,
)
from ecmiip.train.mipld import load_records, record_text
from ecmiip.train.recipe import Recipe
from ecmiip.train.sft import PadCollator


def stage1_text(record: dict) -> str:
    """A statute reads ``《法》第X条：…``; a text no longer in force names its version and status:
    ``《法》（2019修正，已于2025-10-15被取代）第九条：…``, so it is never learnt as the law in force."""
    if record["kind"] == "statute":
        status = hardness.statute_status(record)
        if status in hardness.NOT_IN_FORCE:
            doc = hardness.statute_document(record["law"], record["version"])
            validity = f"（{record['version']}，{hardness.ceased(doc, status)}）"
        else:
            validity = ""
        return f"《{record['law']}》{validity}{record['article']}：{record['text']}"
    return record_text(record)


def stage1_examples(
    tokenizer, records: list[dict], max_length: int, config: hardness.HardnessConfig | None = None
) -> list[dict]:
    """Token ids and α_hard per record. A record's own label (``alpha_hard``, e.g. from ``ecmiip data
    hardness --config``) is the α HKRE decays by; only unlabelled records are labelled, with ``config``."""
    out = []
    for i, record in enumerate(records):
        alpha = hardness.record_alpha(record, config, i)
        ids = tokenizer(stage1_text(record), add_special_tokens=False)["input_ids"][:max_length]
        if len(ids) < max_length and tokenizer.eos_token_id is not None:
            ids.append(tokenizer.eos_token_id)  # a statute ends: learn where
        out.append({"input_ids": ids, "labels": list(ids), "alpha_hard": alpha})
    return out


def stage2_examples(tokenizer, recipe: Recipe) -> list[dict]:
    """Per case: the graded-masked case text, and its contrastive triple."""
    stage = recipe.pretrain.stage2
    config = stage.masking
    cases = [r for r in load_records(_data_files(recipe, recipe.data.cases)) if r.kind == "case"]
    if not cases:
        raise InputError("stage 2 needs case records (recipe data.cases)")
    rng = random.Random(recipe.seed)
    # Facts and judgment are shortened (in characters) so the rendered triple keeps its judgment span
    # within max_length tokens.
    n = stage.max_length
    triples = build_triples(
        [CaseExample(c.data["facts"][: n // 2], tuple(c.data["cited_articles"]), c.data["judgment"][: n // 4]) for c in cases],
        seed=recipe.seed,
    )
    out = []
    for case, triple in zip(cases, triples, strict=True):
        text = swap_variants(record_text(case), config, rng)
        flags = graded_mask(text, config, rng)
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=True, max_length=stage.max_length)
        labels = token_labels(enc["input_ids"], enc["offset_mapping"], flags)
        parts = {}
        for key, t in (("pos", triple.positive), ("neg", triple.negative), ("hard", triple.hard_negative)):
            e = encode(tokenizer, [t])
            parts[key] = {k: v[0, : stage.max_length].tolist() for k, v in e.items()}
        out.append({"input_ids": enc["input_ids"], "labels": labels, **parts})
    return out


class Stage2Collator:
    def __init__(self, pad_id: int) -> None:
        self.pad = PadCollator(pad_id)
        self.pad_id = pad_id

    def _pad_part(self, parts: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(p["input_ids"]) for p in parts)
        out = {}
        for key, fill in (("input_ids", self.pad_id), ("attention_mask", 0), ("judgment_mask", False)):
            rows = [p[key] + [fill] * (width - len(p[key])) for p in parts]
            out[key] = torch.tensor(rows, dtype=torch.bool if key == "judgment_mask" else torch.long)
        return out

    def __call__(self, batch: list[dict]) -> dict:
        out = self.pad([{"input_ids": b["input_ids"], "labels": b["labels"]} for b in batch])
        for key in ("pos", "neg", "hard"):
            out[key] = self._pad_part([b[key] for b in batch])
        return out


class Stage2Trainer(Trainer):
    """Graded-masking LM loss plus the contrastive hinge; evaluation reports the same loss."""

    def __init__(self, *args, weight: float = 0.5, margin: float = 1.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.weight, self.margin = weight, margin

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The tested ``contrastive_loss``, looked up on its module so training runs the code the tests check."""
        loss, _ = contrastive.contrastive_loss(
            model,
            inputs["pos"],
            [inputs["neg"], inputs["hard"]],
            lam=self.weight,
            margin=self.margin,
            lm_batch={k: inputs[k] for k in ("input_ids", "attention_mask", "labels")},
        )
        return (loss, None) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad():
            loss = self.compute_loss(model, inputs)
        return loss.detach(), None, None


def _load_model(base: Path, recipe: Recipe):
    """The base in bf16 where the GPU has it (else fp32); with ``method: lora``, LoRA adapters on it."""
    dtype = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    model = load_model(base, dtype=dtype)
    return add_lora(model, recipe.pretrain.lora) if recipe.pretrain.method == "lora" else model


def run_pretrain(recipe: Recipe, base: Path, out_dir: Path, *, resume: bool = False, callbacks: list | None = None) -> Path:
    """Stage 1 then stage 2; returns the directory of the resulting 16-bit model."""
    tokenizer = load_tokenizer(base)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    s1, s2 = recipe.pretrain.stage1, recipe.pretrain.stage2
    # Build both datasets first: bad data fails before any training starts.
    ex1 = stage1_examples(tokenizer, stage1_records(recipe), s1.max_length)
    ex2 = stage2_examples(tokenizer, recipe)
    # A damaged checkpoint is refused now, not after the model has loaded.
    resume1 = resume_from(out_dir / "stage1", resume)
    resume2 = resume_from(out_dir / "stage2", resume)
    model = _load_model(base, recipe)

    train, val = split_train_val(ex1, recipe.data.val_fraction, recipe.seed, recipe.data.max_val)
    t1 = HKRETrainer(
        model=model,
        args=training_arguments(s1, out_dir / "stage1", recipe.seed),
        train_dataset=train,
        eval_dataset=val or None,
        data_collator=PadCollator(pad_id),
        callbacks=[RichProgress("stage 1 · HKRE"), OverfitWarning(), *(callbacks or [])],
        hkre=s1.hkre,
    )
    quiet(t1).train(resume_from_checkpoint=resume1)
    record_run(t1, out_dir, "stage1", "stage 1 · HKRE continued pre-training")

    train, val = split_train_val(ex2, recipe.data.val_fraction, recipe.seed, recipe.data.max_val)
    t2 = Stage2Trainer(
        model=model,
        args=training_arguments(s2, out_dir / "stage2", recipe.seed),
        train_dataset=train,
        eval_dataset=val or None,
        data_collator=Stage2Collator(pad_id),
        callbacks=[RichProgress("stage 2 · cases"), OverfitWarning(), *(callbacks or [])],
        weight=s2.contrastive.weight,
        margin=s2.contrastive.margin,
    )
    quiet(t2).train(resume_from_checkpoint=resume2)
    record_run(t2, out_dir, "stage2", "stage 2 · in-context learning on cases")

    final = out_dir / "model"
    if t2.is_world_process_zero():
        if recipe.pretrain.method == "lora":
            model = model.merge_and_unload()  # into the 16-bit weights it was trained on
        with atomic_dir(final, force=True) as tmp:  # an interrupted save leaves no half-written model/
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
        console.print(f"[green]pre-trained model[/] → {final}")
    return final
