"""Bad input to ``ecmiip export``, ``ecmiip verify`` and ``ecmiip ollama create``: each case runs the command
in its own process (tests/harness.py) and must end with a one-line error naming the culprit, exit 1 or 2,
no traceback, nothing changed outside the output folder; and never a network connection (tests/netguard.py)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import netguard
from tests.harness import Case, check

HOSTILE_TEMPLATE = (
    "<|im_start|><|im_end|>{{ ''.__class__.__mro__[1].__subclasses__() }}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
)
DEEP_JSON = "[" * 200_000 + "]" * 200_000
# Assets shared by the cases' setups (filled by the `assets` fixture before any case runs).
ASSETS: dict[str, Path] = {}


def _tiny() -> Path:
    return ASSETS["tiny"]


def _model(tmp: Path, damage: Callable[[Path], None] | None = None, name: str = "m") -> Path:
    """A private copy of the tiny model under ``tmp/name`` (weights symlinked unless damaged)."""
    dest = tmp / name
    dest.mkdir()
    for f in _tiny().iterdir():
        if f.suffix == ".safetensors":
            (dest / f.name).symlink_to(f)
        else:
            shutil.copy(f, dest / f.name)
    if damage:
        damage(dest)
    return dest


def _config(**changes) -> Callable[[Path], None]:
    def damage(d: Path) -> None:
        cfg = json.loads((d / "config.json").read_text())
        cfg.update(changes)
        (d / "config.json").write_text(json.dumps(cfg))
    return damage


def _write(name: str, data: str | bytes) -> Callable[[Path], None]:
    """Replace file ``name`` of the model copy (a symlinked weight is unlinked first)."""
    def damage(d: Path) -> None:
        target = d / name
        if target.is_symlink() or target.exists():
            target.unlink()
        target.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return damage


def _safetensors(header: object, payload: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + payload


def _truncated_weights(d: Path) -> None:
    data = (_tiny() / "model.safetensors").read_bytes()
    (d / "model.safetensors").unlink()
    (d / "model.safetensors").write_bytes(data[: len(data) // 3])


def _adapter(tmp: Path, config: object | None = None, weights: bytes | None = b"", name: str = "lora") -> Path:
    """An adapter folder: ``config`` as adapter_config.json, ``weights`` as adapter_model.safetensors."""
    d = tmp / name
    d.mkdir()
    good = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["q_proj"]}
    (d / "adapter_config.json").write_text(config if isinstance(config, str) else json.dumps(good if config is None else config))
    if weights is not None:
        (d / "adapter_model.safetensors").write_bytes(weights or _safetensors({}))
    return d


def _gguf(tmp: Path, keep: float | None = None, data: bytes | None = None, name: str = "m-F16.gguf") -> Path:
    path = tmp / name
    if data is None:
        full = ASSETS["f16"].read_bytes()
        data = full if keep is None else full[: int(len(full) * keep)]
    path.write_bytes(data)
    return path


def export(*extra: str, base: str = "{tmp}/m") -> tuple[str, ...]:
    return ("export", base, "--out", "{tmp}/out", "--no-verify", *extra)


def verify(gguf: str = "{tmp}/m-F16.gguf", hf: str = "{tmp}/m", *extra: str) -> tuple[str, ...]:
    return ("verify", gguf, "--hf", hf, *extra)


def both(*setups: Callable[[Path], object]) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        for s in setups:
            s(tmp)
    return setup


def model(damage=None) -> Callable[[Path], None]:
    return lambda tmp: _model(tmp, damage)


_DISK_FULL = (
    "import resource, runpy, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
    "resource.setrlimit(resource.RLIMIT_FSIZE, (8 * 2**20, 8 * 2**20)); "
    "sys.argv = ['ecmiip', *sys.argv[1:]]; runpy.run_module('ecmiip', run_name='__main__')"
)

CASES: list[Case] = [
    # --- --name: a file-name component, refused before anything is read or written --------------------
    Case("name-parent-traversal", export("--name", "../x"), "--name", model()),
    Case("name-deep-traversal", export("--name", "../../x"), "--name", model()),
    Case("name-slash", export("--name", "a/b"), "--name", model()),
    Case("name-backslash", export("--name", "a\\b"), "--name", model()),
    Case("name-absolute", export("--name", "/tmp/x"), "--name", model()),
    Case("name-dotdot", export("--name", ".."), "--name", model()),
    Case("name-empty", export("--name", ""), "--name", model()),
    Case("name-newline", export("--name", "a\nFROM evil"), "--name", model()),
    Case("name-control-char", export("--name", "a\x1bb"), "--name", model()),
    Case("name-leading-dash", export("--name=-rf"), "--name", model()),
    Case("name-too-long", export("--name", "知" * 200), "--name", model()),
    Case("name-windows-reserved", export("--name", "a:b"), "--name", model()),
    # --- local folders only: a hub id or missing path is refused with the `ecmiip pull` advice ---------
    Case("base-hub-id", export(base="Qwen/Qwen3-4B"), "ecmiip pull Qwen/Qwen3-4B"),
    Case("base-hub-id-revision", export(base="Qwen/Qwen3-4B@main"), "ecmiip pull"),
    Case("base-missing-folder", export(base="{tmp}/nothing-here"), "{tmp}/nothing-here"),
    Case("base-is-a-file", export(base="{tmp}/m/config.json"), "not a folder", model()),
    Case("adapter-hub-id", export("--adapter", "someone/ip-law-lora"), "ecmiip pull someone/ip-law-lora", model()),
    Case("adapter-missing-folder", export("--adapter", "{tmp}/no-lora"), "{tmp}/no-lora", model()),
    # --- output folder ---------------------------------------------------------------------------------
    Case("out-is-a-file", export(), "is a file", both(model(), lambda t: (t / "out").write_text("x"))),
    Case("out-parent-is-a-file", ("export", "{tmp}/m", "--out", "{tmp}/f/out", "--no-verify"), "{tmp}/f",
         both(model(), lambda t: (t / "f").write_text("x"))),
    Case("out-read-only", ("export", "{tmp}/m", "--out", "/sys/ecmiip-test-out", "--no-verify"),
         "/sys/ecmiip-test-out", model()),
    Case("out-existing-without-force", export(), "--force",
         both(model(), lambda t: (t / "out").mkdir(), lambda t: (t / "out" / "ec-miip-F16.gguf").write_bytes(b"keep"))),
    Case("quant-unknown", export("--quant", "IQ1_S"), "IQ1_S", model()),
    Case("disk-full-while-writing-f16", export(), "ec-miip-F16.gguf", model(),
         program=(sys.executable, "-c", _DISK_FULL)),
    # --- damaged base model ----------------------------------------------------------------------------
    Case("config-deeply-nested", export(), "config.json", model(_write("config.json", DEEP_JSON))),
    Case("config-not-an-object", export(), "config.json", model(_write("config.json", "[1, 2, 3]"))),
    Case("config-not-utf8", export(), "config.json", model(_write("config.json", b'{"a": "\xff\xfe"}'))),
    Case("config-layers-a-string", export(), "num_hidden_layers", model(_config(num_hidden_layers="2"))),
    Case("config-architectures-a-string", export(), "architectures", model(_config(architectures="Qwen3ForCausalLM"))),
    Case("config-rope-scaling-a-list", export(), "rope_scaling", model(_config(rope_scaling=[1, 2]))),
    Case("safetensors-garbage-header", export(), "model.safetensors",
         model(_write("model.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all"))),
    Case("safetensors-huge-header-length", export(), "model.safetensors",
         model(_write("model.safetensors", struct.pack("<Q", 2**62) + b"{}"))),
    Case("safetensors-header-a-list", export(), "model.safetensors", model(_write("model.safetensors", _safetensors([1, 2])))),
    Case("safetensors-bad-shape", export(), "model.safetensors", model(_write(
        "model.safetensors", _safetensors({"model.embed_tokens.weight": {"dtype": "F16", "shape": ["a"], "data_offsets": [0, 2]}},
                                          b"\0\0")))),
    Case("safetensors-negative-offsets", export(), "model.safetensors", model(_write(
        "model.safetensors", _safetensors({"model.embed_tokens.weight": {"dtype": "F16", "shape": [1], "data_offsets": [4, 2]}},
                                          b"\0\0\0\0")))),
    Case("safetensors-truncated", export(), "truncated or corrupt", model(_truncated_weights)),
    Case("safetensors-index-escapes-folder", export(), "model.safetensors.index.json", model(_write(
        "model.safetensors.index.json", json.dumps({"weight_map": {"model.embed_tokens.weight": "../../etc/x.safetensors"}})))),
    Case("chat-template-sandbox-escape", export(), "chat template", model(_write("chat_template.jinja", HOSTILE_TEMPLATE))),
    Case("chat-template-raises", export(), "chat template",
         model(_write("chat_template.jinja", "<|im_start|><|im_end|>{{ raise_exception('no chat for you') }}"))),
    Case("chat-template-syntax-error", export(), "{tmp}/m", model(_write("chat_template.jinja", "<|im_start|><|im_end|>{% if %}"))),
    # --- damaged adapter ---------------------------------------------------------------------------------
    Case("adapter-config-a-list", export("--adapter", "{tmp}/lora"), "adapter_config.json",
         both(model(), lambda t: _adapter(t, config="[1, 2]"))),
    Case("adapter-config-deeply-nested", export("--adapter", "{tmp}/lora"), "adapter_config.json",
         both(model(), lambda t: _adapter(t, config=DEEP_JSON))),
    Case("adapter-alpha-a-string", export("--adapter", "{tmp}/lora"), "lora_alpha",
         both(model(), lambda t: _adapter(t, config={"peft_type": "LORA", "r": 8, "lora_alpha": "16"}))),
    Case("adapter-peft-type-a-number", export("--adapter", "{tmp}/lora"), "peft_type",
         both(model(), lambda t: _adapter(t, config={"peft_type": 7, "r": 8, "lora_alpha": 16}))),
    Case("adapter-alpha-pattern-a-list", export("--adapter", "{tmp}/lora"), "alpha_pattern",
         both(model(), lambda t: _adapter(t, config={"peft_type": "LORA", "lora_alpha": 16, "alpha_pattern": ["q"]}))),
    Case("adapter-rslora-a-string", export("--adapter", "{tmp}/lora"), "use_rslora",
         both(model(), lambda t: _adapter(t, config={"peft_type": "LORA", "lora_alpha": 16, "use_rslora": "yes"}))),
    Case("adapter-weights-missing", export("--adapter", "{tmp}/lora"), "adapter_model.safetensors",
         both(model(), lambda t: _adapter(t, weights=None))),
    Case("adapter-pickle-only", export("--adapter", "{tmp}/lora"), "adapter_model.bin",
         both(model(), lambda t: (_adapter(t, weights=None) / "adapter_model.bin").write_bytes(b"\x80\x04pickle"))),
    Case("adapter-weights-garbage", export("--adapter", "{tmp}/lora"), "adapter_model.safetensors",
         both(model(), lambda t: _adapter(t, weights=b"\xff" * 64))),
    Case("adapter-rank-mismatch", export("--adapter", "{tmp}/lora"), "rank mismatch",
         both(model(), lambda t: _adapter(t, weights=_safetensors({
             "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight":
                 {"dtype": "F32", "shape": [8, 256], "data_offsets": [0, 8192]},
             "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight":
                 {"dtype": "F32", "shape": [256, 4], "data_offsets": [8192, 12288]},
         }, bytes(12288))))),
    # --- ecmiip verify -----------------------------------------------------------------------------------
    Case("verify-truncated-gguf", verify(), "truncated", both(model(), lambda t: _gguf(t, keep=0.5))),
    Case("verify-gguf-header-only", verify(), "m-F16.gguf", both(model(), lambda t: _gguf(t, keep=0.001))),
    Case("verify-empty-gguf", verify(), "not a GGUF", both(model(), lambda t: _gguf(t, data=b""))),
    Case("verify-not-a-gguf", verify(), "not a GGUF", both(model(), lambda t: _gguf(t, data=b"hello, world"))),
    Case("verify-gguf-missing", verify("{tmp}/none.gguf"), "{tmp}/none.gguf", model()),
    Case("verify-quant-truncated", verify("{tmp}/m-F16.gguf", "{tmp}/m", "--quant", "{tmp}/q.gguf"), "{tmp}/q.gguf",
         both(model(), _gguf, lambda t: _gguf(t, keep=0.7, name="q.gguf"))),
    Case("verify-hf-hub-id", verify("{tmp}/m-F16.gguf", "Qwen/Qwen3-4B"), "ecmiip pull Qwen/Qwen3-4B", _gguf),
    Case("verify-hf-missing", verify("{tmp}/m-F16.gguf", "{tmp}/gone"), "{tmp}/gone", _gguf),
    Case("verify-adapter-hub-id", verify("{tmp}/m-F16.gguf", "{tmp}/m", "--adapter", "me/lora"), "ecmiip pull me/lora",
         both(model(), _gguf)),
    Case("verify-report-is-a-folder", verify("{tmp}/m-F16.gguf", "{tmp}/m", "--report", "{tmp}/out"), "--report",
         both(model(), _gguf, lambda t: (t / "out").mkdir())),
    Case("verify-hf-config-nested", verify(), "config.json", both(model(_write("config.json", DEEP_JSON)), _gguf)),
    Case("verify-hostile-template", verify(), "chat template",
         both(model(_write("chat_template.jinja", HOSTILE_TEMPLATE)), _gguf)),
    Case("verify-adapter-config-a-list", verify("{tmp}/m-F16.gguf", "{tmp}/m", "--adapter", "{tmp}/lora"),
         "adapter_config.json", both(model(), _gguf, lambda t: _adapter(t, config="[]"))),
    # --- ecmiip ollama create ------------------------------------------------------------------------------
    Case("ollama-no-modelfile", ("ollama", "create", "{tmp}/out"), "Modelfile", lambda t: (t / "out").mkdir()),
    Case("ollama-modelfile-unclosed-quote", ("ollama", "create", "{tmp}/out"), "Modelfile",
         both(lambda t: (t / "out").mkdir(), lambda t: (t / "out" / "Modelfile").write_text('FROM ./m.gguf\nSYSTEM """never closed\n'))),
    Case("ollama-from-missing", ("ollama", "create", "{tmp}/out"), "does not exist",
         both(lambda t: (t / "out").mkdir(), lambda t: (t / "out" / "Modelfile").write_text("FROM ./gone.gguf\n"))),
]


@pytest.fixture(scope="module")
def assets(tiny_qwen3_dir, tmp_path_factory) -> dict[str, Path]:
    from ecmiip.quantize.convert import convert

    f16 = tmp_path_factory.mktemp("assets") / "tiny-F16.gguf"
    convert(tiny_qwen3_dir, f16)
    ASSETS.update(tiny=tiny_qwen3_dir, f16=f16)
    return ASSETS


def test_enough_cases():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, assets, tmp_path):
    guard = tmp_path / "netguard"  # outside the case's folder
    env = {**netguard.guard_env(guard), **case.env}
    proc = check(dataclasses.replace(case, env=env), tmp_path / "case")
    assert netguard.attempts(guard) == [], f"{case.id}: tried the network: {netguard.attempts(guard)}"
    text = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
    assert text.count("error:") == 1, f"{case.id}: expected one error line\n{text}"
    out = tmp_path / "case" / "out"
    if out.is_dir():  # nothing half-written, nothing new next to what was there
        names = sorted(p.name for p in out.iterdir())
        assert not [n for n in names if n.endswith(".partial") or n.endswith("-Q4_K_M.gguf")], names
    assert not list(tmp_path.rglob("x-F16.gguf")), "a GGUF was written outside --out"
