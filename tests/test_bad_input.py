"""Every bad input gets a clear message naming the file, tensor or setting — and loses nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ecmiip.core.errors import DiskSpaceError, InputError, OutputExistsError, UnsupportedError
from ecmiip.quantize.convert import convert
from ecmiip.quantize.export import ExportOptions, export
from tests.models import make_lora_adapter


def _copy(model_dir: Path, dest: Path) -> Path:
    """A private copy whose files can be damaged; big weights are symlinked unless asked for."""
    dest.mkdir()
    for f in model_dir.iterdir():
        if f.suffix == ".safetensors":
            (dest / f.name).symlink_to(f)
        else:
            shutil.copy(f, dest / f.name)
    return dest


def _export(base: Path, out: Path, **kw) -> None:
    export(ExportOptions(base=base, out=out, verify=False, quants=[], **kw))


@pytest.fixture(scope="module")
def smollm2_adapter(smollm2_dir, tmp_path_factory) -> Path:
    return make_lora_adapter(smollm2_dir, tmp_path_factory.mktemp("a") / "lora", steps=1, target_modules=["q_proj"])


def test_adapter_for_another_base_names_tensor_and_shapes(tiny_qwen3_dir, smollm2_adapter, tmp_path):
    with pytest.raises(InputError) as e:
        _export(tiny_qwen3_dir, tmp_path / "out", adapter=smollm2_adapter)
    msg = str(e.value)
    assert "model.layers.0.self_attn.q_proj.weight" in msg
    assert "[576, 8]" in msg and "[8, 576]" in msg  # the adapter's factors
    assert "[256, 256]" in msg  # the base tensor's shape
    assert not (tmp_path / "out").exists()


def test_missing_safetensors_names_the_directory(tiny_qwen3_dir, tmp_path):
    base = _copy(tiny_qwen3_dir, tmp_path / "m")
    for f in base.glob("*.safetensors"):
        f.unlink()
    with pytest.raises(InputError, match="no model.safetensors"):
        _export(base, tmp_path / "out")


def test_truncated_safetensors_names_file_and_tensor(tiny_qwen3_dir, tmp_path):
    base = _copy(tiny_qwen3_dir, tmp_path / "m")
    shard = base / "model.safetensors"
    data = shard.resolve().read_bytes()
    shard.unlink()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as e:
        _export(base, tmp_path / "out")
    assert str(shard) in str(e.value) and "truncated or corrupt" in str(e.value) and "tensor model." in str(e.value)


def test_garbage_safetensors_header_names_file(tiny_qwen3_dir, tmp_path):
    base = _copy(tiny_qwen3_dir, tmp_path / "m")
    (base / "model.safetensors").unlink()
    (base / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(InputError, match=r"model\.safetensors: not a valid safetensors file"):
        _export(base, tmp_path / "out")


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_tokenizer_problems_name_the_file(tiny_qwen3_dir, tmp_path, damage):
    base = _copy(tiny_qwen3_dir, tmp_path / "m")
    tok = base / "tokenizer.json"
    if damage == "missing":
        tok.unlink()
    else:
        tok.write_text('{"model": {"type": "BPE", "vocab": ', encoding="utf-8")
    with pytest.raises(InputError) as e:
        convert(base, tmp_path / "x.gguf")
    assert "tokenizer" in str(e.value)
    assert not (tmp_path / "x.gguf").exists()


def test_unknown_architecture_lists_supported(tiny_qwen3_dir, tmp_path):
    base = _copy(tiny_qwen3_dir, tmp_path / "m")
    config = json.loads((base / "config.json").read_text())
    config["architectures"] = ["GPT2LMHeadModel"]
    (base / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedError) as e:
        _export(base, tmp_path / "out")
    msg = str(e.value)
    assert "GPT2LMHeadModel" in msg
    assert all(a in msg for a in ("Qwen3ForCausalLM", "Qwen2ForCausalLM", "LlamaForCausalLM"))


def test_four_bit_base_is_refused(tiny_qwen3_dir, tmp_path):
    base = _copy(tiny_qwen3_dir, tmp_path / "m")
    config = json.loads((base / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True}
    (base / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedError, match="4-bit quantized .*16-bit"):
        _export(base, tmp_path / "out")


def test_dora_adapter_is_refused(tiny_qwen3_dir, tmp_path):
    adapter = make_lora_adapter(tiny_qwen3_dir, tmp_path / "dora", steps=1, use_dora=True, target_modules=["q_proj"])
    with pytest.raises(UnsupportedError, match="use_dora"):
        _export(tiny_qwen3_dir, tmp_path / "out", adapter=adapter)


def test_not_enough_disk_fails_before_writing(tiny_qwen3_dir, tmp_path, monkeypatch):
    import shutil as sh
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(sh, "disk_usage", lambda p: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(DiskSpaceError, match="not enough free disk"):
        _export(tiny_qwen3_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_existing_outputs_are_not_overwritten_without_force(tiny_qwen3_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    existing = out / "ec-miip-F16.gguf"
    existing.write_bytes(b"precious")
    with pytest.raises(OutputExistsError) as e:
        _export(tiny_qwen3_dir, out)
    assert str(existing) in str(e.value) and "--force" in str(e.value)
    assert existing.read_bytes() == b"precious"
    _export(tiny_qwen3_dir, out, force=True)
    assert existing.read_bytes()[:4] == b"GGUF"


def test_interrupted_conversion_leaves_no_file_under_a_final_name(tiny_qwen3_dir, tmp_path):
    out = tmp_path / "model.gguf"
    seen = []

    def interrupt(t):
        seen.append(t)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert(tiny_qwen3_dir, out, on_tensor=interrupt)
    assert list(tmp_path.iterdir()) == []
