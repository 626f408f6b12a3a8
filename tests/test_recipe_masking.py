"""The recipe's masking section is the stage-2 MaskingConfig: its values are checked when the recipe loads."""

import random

import pytest

from ecmiip.core.errors import InputError
from ecmiip.train.cases import MaskingConfig, graded_mask, protected_chars
from ecmiip.train.recipe import load_recipe


def _recipe(tmp_path, masking: str):
    path = tmp_path / "r.yaml"
    path.write_text(f"base: x\npretrain:\n  stage2:\n    masking:\n      {masking}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("masking", "message"), [
    ("keep: {facts: 7, analysis: .6, citation: 1, reasoning: .8}", "masking.keep = "),
    ("keep: {facts: .5}", "a share for each of facts, analysis, citation, reasoning"),
    ("variant_rate: 2", "masking.variant_rate = 2.0 must be a share between 0 and 1"),
    ("keep_facts: 0.5", "unknown key pretrain.stage2.masking.keep_facts"),
])
def test_a_bad_masking_value_is_refused_when_the_recipe_loads(tmp_path, masking, message):
    path = _recipe(tmp_path, masking)
    with pytest.raises(InputError) as e:
        load_recipe(path)
    assert str(path) in str(e.value) and message in str(e.value) and "\n" not in str(e.value)


def test_extra_key_terms_are_protected_besides_the_built_in_ones(tmp_path):
    recipe = load_recipe(_recipe(tmp_path, "extra_key_terms: [数据库特殊权利]"))
    config = recipe.pretrain.stage2.masking
    assert isinstance(config, MaskingConfig) and tuple(config.key_terms) == tuple(MaskingConfig().key_terms)
    text = "法院认为，被告复制原告数据库特殊权利所及的内容，亦构成合理使用之外的使用。"
    protected = protected_chars(text, config)
    start = text.index("数据库特殊权利")
    assert all(protected[start:start + len("数据库特殊权利")])
    assert not any(protected_chars(text, MaskingConfig())[start + 2:start + 5])
    # and the mask never drops a protected character
    mask = graded_mask(text, config, random.Random(0))
    assert all(mask[i] for i, p in enumerate(protected) if p)
