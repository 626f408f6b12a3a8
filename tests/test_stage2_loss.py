"""Stage 2 trains on the loss the tests check: Stage2Trainer.compute_loss is contrastive_loss."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ecmiip.train import contrastive
from ecmiip.train.loop import training_arguments
from ecmiip.train.pretrain import Stage2Collator, Stage2Trainer, stage2_examples
from ecmiip.train.recipe import load_recipe

WEIGHT, MARGIN = 0.7, 1.5  # not the defaults, so a trainer that drops them is caught


@pytest.fixture(scope="module")
def stage2(tiny_qwen3_dir, tmp_path_factory):
    """A real tiny model, a real stage-2 batch (tiny-cpu recipe, shipped sample cases) and its trainer."""
    tok = AutoTokenizer.from_pretrained(tiny_qwen3_dir)
    recipe = load_recipe("tiny-cpu")
    examples = stage2_examples(tok, recipe)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    batch = Stage2Collator(pad_id)(examples[:2])
    model = AutoModelForCausalLM.from_pretrained(tiny_qwen3_dir, dtype=torch.float32).eval()
    args = training_arguments(recipe.pretrain.stage2, tmp_path_factory.mktemp("stage2"), recipe.seed,
                              eval_strategy="no", save_strategy="no")
    trainer = Stage2Trainer(model=model, args=args, weight=WEIGHT, margin=MARGIN)
    return trainer, model, batch


def test_compute_loss_returns_what_contrastive_loss_returns(stage2, monkeypatch):
    trainer, model, batch = stage2
    calls = []
    known = torch.tensor(1234.5, requires_grad=True)

    def recording(*args, **kwargs):
        calls.append((args, kwargs))
        return known, {"lm": 0.0, "hinge": 0.0}

    monkeypatch.setattr(contrastive, "contrastive_loss", recording)
    loss = trainer.compute_loss(model, batch)
    assert loss is known
    assert len(calls) == 1
    (m, positive, negatives), kwargs = calls[0]
    assert m is model and positive is batch["pos"]
    assert negatives == [batch["neg"], batch["hard"]]
    assert kwargs["lam"] == WEIGHT and kwargs["margin"] == MARGIN
    assert kwargs["lm_batch"]["labels"] is batch["labels"]  # the LM loss is on the graded-masked case text
    assert trainer.compute_loss(model, batch, return_outputs=True) == (known, None)


def test_compute_loss_equals_contrastive_loss_on_the_same_batch(stage2):
    trainer, model, batch = stage2
    with torch.no_grad():
        got = trainer.compute_loss(model, batch)
        want, _ = contrastive.contrastive_loss(model, batch["pos"], [batch["neg"], batch["hard"]], lam=WEIGHT,
                                               margin=MARGIN, lm_batch=batch)
    assert torch.equal(got, want)


def test_the_lm_term_is_the_graded_case_text_not_the_positive(stage2):
    """The paper's graded masking is on the case text; the triple's positive has only its hinge."""
    trainer, model, batch = stage2
    assert (batch["labels"] == -100).any()  # graded masking left tokens out of the loss
    with torch.no_grad():
        got = trainer.compute_loss(model, batch)
        graded = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
        hinge = contrastive.hinge_loss(model, batch["pos"], [batch["neg"], batch["hard"]], margin=MARGIN)
        on_positive, _ = contrastive.contrastive_loss(model, batch["pos"], [batch["neg"], batch["hard"]],
                                                      lam=WEIGHT, margin=MARGIN)
    torch.testing.assert_close(got, graded + WEIGHT * hinge, rtol=1e-5, atol=1e-5)
    assert abs(float(got) - float(on_positive)) > 1e-3
