"""QLoRA supervised fine-tuning on QA pairs, with the loss on the assistant's tokens only.

The base is loaded in 4-bit NF4 with double quantization (bitsandbytes ``Linear4bit``); LoRA adapters
on every linear projection are trained in higher precision on top and saved alone — export later
merges them into the 16-bit base, never into the 4-bit one.

QA pairs are JSONL, one conversation per line: ``{"messages": [{"role": "system"|"user"|"assistant",
"content": ...}, ...]}`` ending with the assistant answer (``ecmiip data build-qa`` writes them).
The prompt is the chat template's rendering of everything before the answer with a generation
prompt; the labels are the tokens that follow it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ecmiip.core.chat_template import from_tokenizer
from ecmiip.core.console import console
from ecmiip.core.errors import InputError
from ecmiip.core.hf_models import (
    FourBit,
    Lora,
    add_lora,
    load_model,
    load_tokenizer,
    prepare_for_kbit_training,
)
from ecmiip.core.outputs import atomic_dir
from ecmiip.train.loop import (
    OverfitWarning,
    RichProgress,
    quiet,
    record_run,
    resume_from,
    split_train_val,
    training_arguments,
)
from ecmiip.train.mipld import load_conversations
from ecmiip.train.recipe import Recipe

IGNORE = -100


def tokenize_conversation(tokenizer, messages: list[dict], max_length: int) -> dict[str, list[int]] | None:
    """input_ids and labels, with every token before the final answer left out of the loss;
    None when the prompt alone fills ``max_length`` (nothing of the answer would be learned)."""
    template = from_tokenizer(tokenizer)
    prompt = template.render(messages[:-1], add_generation_prompt=True)
    full = template.render(messages, add_generation_prompt=False)
    if not full.startswith(prompt):
        raise InputError("the chat template renders the answer's prompt differently from the whole conversation")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(full[len(prompt) :], add_special_tokens=False)["input_ids"]
    if len(prompt_ids) >= max_length:
        return None
    input_ids = (prompt_ids + answer_ids)[:max_length]
    labels = ([IGNORE] * len(prompt_ids) + answer_ids)[:max_length]
    return {"input_ids": input_ids, "labels": labels}


class PadCollator:
    """Right-pads input_ids with the pad token and labels with -100."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, batch: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[i, :n] = torch.tensor(b["input_ids"])
            labels[i, :n] = torch.tensor(b["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def load_qlora_model(base: Path, quant: FourBit, lora: Lora):
    """The base in 4 bits (NF4, double quantization) with trainable LoRA adapters on every linear layer."""
    model = load_model(base, dtype=quant.compute_dtype, quantization=quant)
    return add_lora(prepare_for_kbit_training(model), lora)


def run_sft(
    recipe: Recipe, base: Path, qa_files: list[Path], out_dir: Path, *, resume: bool = False, callbacks: list | None = None
) -> Path:
    """Train, evaluate each epoch, save checkpoints, the adapter and the loss curve; return the adapter dir."""
    from transformers import Trainer

    stage = recipe.sft
    tokenizer = load_tokenizer(base)
    if not tokenizer.chat_template:
        raise InputError(f"{base}: the tokenizer has no chat template; SFT trains through it")
    conversations = load_conversations(qa_files)
    examples = [e for e in (tokenize_conversation(tokenizer, m, stage.max_length) for m in conversations) if e]
    if not examples:
        raise InputError(f"every QA prompt is longer than sft.max_length = {stage.max_length} tokens; raise it")
    if len(examples) < len(conversations):
        console.print(f"[yellow]warning:[/] {len(conversations) - len(examples)} QA pairs skipped: prompt longer than {stage.max_length} tokens")
    train, val = split_train_val(examples, recipe.data.val_fraction, recipe.seed, recipe.data.max_val)
    checkpoint = resume_from(out_dir / "checkpoints", resume)  # a damaged one is refused before the model loads
    model = load_qlora_model(base, stage.quantization, stage.lora)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    trainer = Trainer(
        model=model,
        args=training_arguments(stage, out_dir / "checkpoints", recipe.seed),
        train_dataset=train,
        eval_dataset=val or None,
        data_collator=PadCollator(pad_id),
        callbacks=[RichProgress("SFT (QLoRA)"), OverfitWarning(), *(callbacks or [])],
    )
    quiet(trainer).train(resume_from_checkpoint=checkpoint)
    adapter_dir = out_dir / "adapter"
    record_run(trainer, out_dir, "sft", "SFT (QLoRA)")
    if trainer.is_world_process_zero():
        with atomic_dir(adapter_dir, force=True) as tmp:  # an interrupted save leaves no half-written adapter/
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
    return adapter_dir
