"""``ecmiip publish`` and ``ecmiip ollama push``: the repository folder byte for byte, the Ollama hub files
against Ollama's own Modelfile handling (Go, tests/ollama_go), the upload against a local fake hub
(tests/fake_hub.py), and the one-line refusals. Nothing here reaches the internet."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from ecmiip.core.errors import EcmiipError, InputError, OutputExistsError
from ecmiip.core.prompts import LEGAL_SYSTEM_PROMPT, SAMPLING_DEFAULTS
from ecmiip.core.statutes import store
from ecmiip.quantize import ollama as ollama_mod
from ecmiip.quantize.hub_files import hub_files_from_text
from ecmiip.quantize.modelfile import REQUIRES_GGUF_TEMPLATE, render_modelfile
from ecmiip.quantize.ollama_template import GGUF_JINJA, STOP_TOKENS, OllamaTemplate, go_template
from ecmiip.quantize.publish import build_layout, dry_run, read_export, upload
from ecmiip.quantize.template_parity import go_env
from tests.fake_hub import serve
from tests.netguard import no_network
from tests.ollama_go import SOURCE as OLLAMA_GO_SOURCE
from tests.ollama_server import skip_unless_required

REPO = "alice/ec-miip-GGUF"
TOKEN = "hf_test_token_never_printed_0123456789"
QWEN3 = OllamaTemplate("qwen3", go_template("qwen3"), stops=STOP_TOKENS)
JINJA = OllamaTemplate(GGUF_JINJA, "", stops=STOP_TOKENS, why="the test says so")
DRIFT = {"tokens": 256, "mean_kl": 0.0123, "top1_agreement": 0.953, "ppl": 7.25, "reference_ppl": 7.1,
         "untrained": False, "against": "fp32 model as trained"}


def main(argv: list[str]) -> int:
    """``ecmiip ARGV`` with ``publish`` registered even before ecmiip/cli.py registers it."""
    from ecmiip.cli import build_parser, run
    from ecmiip.quantize import publish_cli

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "publish" not in sub.choices:
        publish_cli.register(sub)
    args = parser.parse_args(argv)
    return run(args.handler, args)


def fake_gguf(path: Path, seed: int) -> None:
    """A small valid GGUF (the gguf package's writer); its bytes differ by ``seed``."""
    import gguf

    w = gguf.GGUFWriter(str(path), "qwen3")
    w.add_name("ec-miip")
    w.add_tensor("token_embd.weight", np.random.default_rng(seed).standard_normal((64, 32)).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def make_export(folder: Path, template: OllamaTemplate = QWEN3, quants=("Q4_K_M", "Q8_0"), *,
                checks: list[dict] | None = None, base: str = "/cache/hub/models--Qwen--Qwen3-4B/snapshots/abc") -> Path:
    """A synthetic export folder: fake GGUFs, the Modelfile ``render_modelfile`` writes, a report."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, q in enumerate(["F16", *quants]):
        fake_gguf(folder / f"ec-miip-{q}.gguf", i)
    served = f"ec-miip-{quants[0]}.gguf" if quants else "ec-miip-F16.gguf"
    text = render_modelfile(gguf_name=served, template=template, system=LEGAL_SYSTEM_PROMPT,
                            parameters={**SAMPLING_DEFAULTS, "num_ctx": 8192})
    (folder / "Modelfile").write_text(text, encoding="utf-8")
    if checks is None:
        checks = [{"name": "tokenizer parity", "passed": True, "summary": "905/905 lines | identical", "details": {}},
                  *({"name": f"drift {q}", "passed": None, "summary": "KL 0.0123", "details": DRIFT} for q in quants)]
    report = {"base": base, "adapter": "/runs/adapter", "outtype": "f16", "files": {}, "timings": {},
              "checks": checks, "passed": all(c["passed"] is not False for c in checks)}
    (folder / "export-report.json").write_text(json.dumps(report), encoding="utf-8")
    return folder


def front_matter(readme: str) -> dict:
    assert readme.startswith("---\n")
    return yaml.safe_load(readme[4:].split("\n---\n", 1)[0])


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- the repository folder --------------------------------------------------------------------------


def test_dry_run_writes_the_repository_byte_for_byte(tmp_path):
    export = make_export(tmp_path / "dist")
    out = tmp_path / "repo"
    assert main(["publish", str(export), "--repo", REPO, "--dry-run", str(out)]) == 0
    files = listing(out)
    assert list(files) == sorted(["ec-miip-Q4_K_M.gguf", "ec-miip-Q8_0.gguf", "Modelfile", "README.md",
                                  "params", "system", "template"])
    for name in ("ec-miip-Q4_K_M.gguf", "ec-miip-Q8_0.gguf", "Modelfile"):
        assert files[name] == (export / name).read_bytes()
    assert files["template"] == go_template("qwen3").encode()
    assert files["system"] == LEGAL_SYSTEM_PROMPT.encode()
    assert files["params"] == (json.dumps({
        "min_p": 0.0, "num_ctx": 8192, "repeat_penalty": 1.05, "stop": ["<|im_end|>", "<|im_start|>", "<|endoftext|>"],
        "temperature": 0.6, "top_k": 20, "top_p": 0.95}, indent=2) + "\n").encode()
    readme = files["README.md"].decode()
    assert front_matter(readme) == {
        "base_model": "Qwen/Qwen3-4B", "base_model_relation": "finetune", "language": ["zh"],
        "tags": ["gguf", "ollama", "legal", "intellectual-property", "chinese"], "pipeline_tag": "text-generation"}
    for section in ("## Intended use and limits", "## Files", "## Run it", "## Ollama files", "## Verification"):
        assert section in readme
    assert "**Not legal advice.**" in readme and store().as_of.isoformat() in readme
    assert f"ollama run hf.co/{REPO}:Q4_K_M" in readme and "llama-cli -m ec-miip-Q4_K_M.gguf" in readme
    assert "ecmiip-chat --model ec-miip-Q4_K_M.gguf" in readme
    assert "| `ec-miip-Q8_0.gguf` | Q8_0 |" in readme and "| 0.0123 | 95.3 % | 7.250 |" in readme
    assert "`ec-miip-F16.gguf`" in readme and "not uploaded" in readme  # why the F16 is left out
    assert "| tokenizer parity | pass | 905/905 lines \\| identical |" in readme
    assert "## Benchmark" not in readme
    # The same export gives the same folder (no date or local path in it).
    again = tmp_path / "again"
    assert main(["publish", str(export), "--repo", REPO, "--dry-run", str(again)]) == 0
    assert listing(again) == files and not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_include_f16_force_and_existing_output(tmp_path):
    export = make_export(tmp_path / "dist", quants=("Q4_K_M",))
    out = tmp_path / "repo"
    out.mkdir()
    with pytest.raises(OutputExistsError, match="--force"):
        dry_run(build_layout(export, REPO)[0], out)
    assert main(["publish", str(export), "--repo", REPO, "--dry-run", str(out), "--include-f16", "--force"]) == 0
    assert (out / "ec-miip-F16.gguf").read_bytes() == (export / "ec-miip-F16.gguf").read_bytes()
    assert "not uploaded" not in (out / "README.md").read_text(encoding="utf-8")


def test_lora_gguf_is_published_and_a_hub_id_base_names_the_base_model(tmp_path):
    export = make_export(tmp_path / "dist", quants=("Q4_K_M",), base="Qwen/Qwen3-4B")
    fake_gguf(export / "ec-miip-LoRA-F16.gguf", 9)  # `ecmiip export --adapter-gguf`
    fake_gguf(export / "notes.gguf", 10)  # a GGUF export does not write: left out
    exp = read_export(export)
    assert (exp.reference.name, exp.lora.name, [p.name for p in exp.others]) == (
        "ec-miip-F16.gguf", "ec-miip-LoRA-F16.gguf", ["notes.gguf"])
    layout, _ = build_layout(export, REPO)
    assert [n for n in layout.files if n.endswith(".gguf")] == ["ec-miip-Q4_K_M.gguf", "ec-miip-LoRA-F16.gguf"]
    readme = layout.files["README.md"].decode()
    assert "--lora ec-miip-LoRA-F16.gguf" in readme and "| LoRA adapter (F16) |" in readme
    assert front_matter(readme)["base_model"] == "Qwen/Qwen3-4B"


def test_gguf_template_export_has_no_template_file(tmp_path):
    export = make_export(tmp_path / "dist", template=JINJA)
    out = tmp_path / "repo"
    assert main(["publish", str(export), "--repo", REPO, "--dry-run", str(out)]) == 0
    assert not (out / "template").exists()
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert f"REQUIRES {REQUIRES_GGUF_TEMPLATE}" in (out / "Modelfile").read_text(encoding="utf-8")
    assert f"Ollama {REQUIRES_GGUF_TEMPLATE} or later should render the chat template inside the GGUF" in readme
    assert json.loads((out / "params").read_text())["stop"] == list(STOP_TOKENS)


def test_bench_table_in_the_card(tmp_path):
    export = make_export(tmp_path / "dist", checks=[])
    results = {"format": 1, "settings": {"models": ["dist/ec-miip-Q4_K_M.gguf"]}, "invalid": {}, "models": {
        "dist/ec-miip-Q4_K_M.gguf": {"tasks": {"mcq": {"items": [], "summary": {
            "n": 40, "accuracy": {"overall": 0.625}}}}}}}
    (tmp_path / "results.json").write_text(json.dumps(results), encoding="utf-8")
    layout, _ = build_layout(export, REPO, bench=tmp_path / "results.json", license="apache-2.0")
    readme = layout.files["README.md"].decode()
    assert "## Benchmark" in readme and "| ec-miip-Q4_K_M.gguf | 62.5 % (n=40) |" in readme
    assert front_matter(readme)["license"] == "apache-2.0"
    assert "`--no-verify`" in readme and "KL vs." not in readme


@pytest.mark.parametrize("remove, message", [
    ("Modelfile", "no Modelfile"),
    ("export-report.json", "no export-report.json"),
    ("quants", "no a quantized GGUF"),
])
def test_incomplete_export_is_refused_with_what_is_missing(tmp_path, remove, message):
    export = make_export(tmp_path / "dist")
    for p in export.glob("*-Q*.gguf") if remove == "quants" else [export / remove]:
        p.unlink()
    with pytest.raises(InputError, match=message):
        read_export(export)
    assert main(["publish", str(export), "--repo", REPO, "--dry-run", str(tmp_path / "out")]) != 0
    assert not (tmp_path / "out").exists()


def test_other_refusals(tmp_path):
    with pytest.raises(InputError, match="export folder not found"):
        read_export(tmp_path / "nowhere")
    export = make_export(tmp_path / "dist", checks=[{"name": "logits", "passed": False, "summary": "x", "details": {}}])
    with pytest.raises(InputError, match="failed verification \\(logits\\)"):
        read_export(export)
    good = make_export(tmp_path / "good")
    with pytest.raises(InputError, match="not a hub repository id"):
        build_layout(good, "no-namespace")
    (good / "ec-miip-Q4_K_M.gguf").unlink()  # the Modelfile's FROM
    with pytest.raises(InputError, match="FROM ./ec-miip-Q4_K_M.gguf does not exist"):
        read_export(good)


# --- parity with Ollama's own Modelfile handling -----------------------------------------------------

CREATE_REQUEST_GO = """package main

import (
	"encoding/json"
	"os"
	"strings"

	"github.com/ollama/ollama/parser"
)

// Reads {"modelfile", "dir"}; prints what `ollama create` sends the server: Template, System, Parameters.
func main() {
	var in struct{ Modelfile, Dir string }
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	f, err := parser.ParseFile(strings.NewReader(in.Modelfile))
	if err != nil {
		panic(err)
	}
	req, err := f.CreateRequest(in.Dir)
	if err != nil {
		panic(err)
	}
	out, _ := json.Marshal(map[string]any{"template": req.Template, "system": req.System,
		"parameters": req.Parameters, "requires": req.Requires})
	os.Stdout.Write(out)
}
"""


@pytest.fixture(scope="module")
def create_request(tmp_path_factory):
    """Ollama's parser.ParseFile + Modelfile.CreateRequest (the module version tests/ollama_go pins), built offline."""
    go = shutil.which("go")
    if go is None:
        skip_unless_required("Go is not installed: Ollama's Modelfile handling runs in Go")
    src = tmp_path_factory.mktemp("createrequest")
    for name in ("go.mod", "go.sum"):
        shutil.copy(OLLAMA_GO_SOURCE / name, src / name)
    (src / "main.go").write_text(CREATE_REQUEST_GO)
    binary = src / "createrequest"
    proc = subprocess.run([go, "build", "-o", str(binary), "."], cwd=src, capture_output=True, text=True,
                          env=go_env(GOFLAGS="-mod=mod -buildvcs=false"), timeout=600)
    if proc.returncode != 0:
        if "GOPROXY=off" in proc.stderr or "module lookup disabled" in proc.stderr:
            skip_unless_required("the Go module cache lacks github.com/ollama/ollama; run `cd tests/ollama_go && go mod download`")
        raise AssertionError(proc.stderr)

    def run(modelfile: Path) -> dict:
        payload = json.dumps({"modelfile": modelfile.read_text(encoding="utf-8"), "dir": str(modelfile.parent)})
        done = subprocess.run([str(binary)], input=payload.encode(), capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        return json.loads(done.stdout)

    return run


@pytest.mark.parametrize("template", [QWEN3, JINJA], ids=["go-template", "gguf-template"])
def test_hub_files_equal_what_ollama_creates_from_the_modelfile(tmp_path, create_request, template):
    export = make_export(tmp_path / "dist", template=template)
    out = tmp_path / "repo"
    dry_run(build_layout(export, REPO)[0], out)
    ollama = create_request(out / "Modelfile")  # the Modelfile as uploaded, beside its GGUF
    assert ollama["system"] == (out / "system").read_text(encoding="utf-8")
    assert ollama["parameters"] == json.loads((out / "params").read_text(encoding="utf-8"))
    if template.is_go:
        assert ollama["template"] == (out / "template").read_text(encoding="utf-8") == template.text
    else:
        assert ollama["template"] == "" and not (out / "template").exists()
    assert ollama["requires"] == hub_files_from_text((out / "Modelfile").read_text(encoding="utf-8")).requires


def test_hub_files_parameter_types_follow_ollama():
    text = 'FROM ./x.gguf\nPARAMETER num_ctx 4096\nPARAMETER num_ctx 8192\nPARAMETER use_mmap false\nPARAMETER stop "a"\n'
    assert hub_files_from_text(text).params == {"num_ctx": 8192, "use_mmap": False, "stop": ["a"]}
    with pytest.raises(InputError, match="not a parameter Ollama knows"):
        hub_files_from_text("FROM ./x.gguf\nPARAMETER bogus 1\n")
    with pytest.raises(InputError, match="not a valid int"):
        hub_files_from_text("FROM ./x.gguf\nPARAMETER top_k 0.5\n")


# --- upload against the fake hub ---------------------------------------------------------------------


@pytest.fixture
def hub(monkeypatch, tmp_path):
    import huggingface_hub.constants

    server = serve(TOKEN)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", server.url)  # frozen at import; its side calls use it
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)  # the LFS protocol (no CAS server)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token-file"))
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    yield server
    server.stop()


def test_upload_sends_the_dry_run_folder(tmp_path, hub, capfd):
    export = make_export(tmp_path / "dist")
    out = tmp_path / "repo"
    assert main(["publish", str(export), "--repo", REPO, "--dry-run", str(out)]) == 0
    with no_network() as attempts:
        assert main(["publish", str(export), "--repo", REPO, "--private"]) == 0
    assert attempts == []  # only the local fake hub was spoken to
    assert hub.repos[REPO]["visibility"] == "private"
    assert hub.files(REPO) == listing(out)  # names and bytes: exactly the dry-run folder
    (commit,) = hub.commits
    assert sorted(commit["lfs"]) == ["ec-miip-Q4_K_M.gguf", "ec-miip-Q8_0.gguf"]
    for name in commit["lfs"]:  # LFS objects arrive under the sha256 of the export's file
        assert hashlib.sha256((export / name).read_bytes()).hexdigest() in hub.lfs
    assert set(commit["regular"]) == {"Modelfile", "README.md", "params", "system", "template"}
    assert front_matter(hub.files(REPO)["README.md"].decode())["pipeline_tag"] == "text-generation"
    assert ("POST", "/api/validate-yaml", True) in hub.requests  # the hub checked the card's header
    assert all(ok for method, path, ok in hub.requests if not path.startswith(("/lfs-upload/", "/api/agent-harnesses")))
    printed = capfd.readouterr()
    assert TOKEN not in printed.out + printed.err
    assert f"ollama run hf.co/{REPO}:Q4_K_M" in printed.err + printed.out
    # Again, to a branch: the repository exists (409 is fine), the branch is created, no file is re-sent.
    lfs_puts = sum(1 for m, p, _ in hub.requests if p.startswith("/lfs-upload/"))
    assert main(["publish", str(export), "--repo", REPO, "--revision", "v2"]) == 0
    assert hub.files(REPO, "v2") == listing(out)
    assert sum(1 for m, p, _ in hub.requests if p.startswith("/lfs-upload/")) == lfs_puts
    assert not any(p.name.startswith(".ecmiip-publish-") for p in tmp_path.iterdir())  # staging removed


def test_missing_token_is_one_line(tmp_path, hub, monkeypatch, capfd):
    monkeypatch.delenv("HF_TOKEN")
    export = make_export(tmp_path / "dist")
    with pytest.raises(InputError, match="hf auth login"):
        upload(build_layout(export, REPO)[0], export)
    assert main(["publish", str(export), "--repo", REPO]) != 0
    err = capfd.readouterr().err
    assert "no Hugging Face token" in err and "Traceback" not in err
    assert [p for _, p, _ in hub.requests if p != "/api/agent-harnesses"] == []  # nothing was sent


def test_rejected_token_is_one_line_and_not_printed(tmp_path, hub, monkeypatch, capfd):
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token_also_never_printed")
    export = make_export(tmp_path / "dist")
    assert main(["publish", str(export), "--repo", REPO]) != 0
    err = capfd.readouterr().err
    assert "HTTP 401" in err and "hf_wrong_token" not in err and "Traceback" not in err


@pytest.mark.slow
def test_publish_the_tiny_model_export(tiny_qwen3_gguf, tmp_path, hub):
    dist = tiny_qwen3_gguf.parent
    out = tmp_path / "repo"
    assert main(["publish", str(dist), "--repo", REPO, "--dry-run", str(out)]) == 0
    files = listing(out)
    assert {"ec-miip-Q4_K_M.gguf", "Modelfile", "README.md", "params", "system"} <= set(files)
    assert "ec-miip-F16.gguf" not in files
    hub_view = hub_files_from_text(files["Modelfile"].decode())
    assert ("template" in files) == (hub_view.template is not None)
    assert files["system"].decode() == LEGAL_SYSTEM_PROMPT
    assert main(["publish", str(dist), "--repo", REPO]) == 0
    assert hub.files(REPO) == files


# --- ecmiip ollama push ------------------------------------------------------------------------------

FAKE_OLLAMA = """#!/bin/sh
echo "$@" >> "$OLLAMA_CALLS"
case "$FAKE_OLLAMA_MODE" in
  down) echo "Error: could not connect to ollama server, run 'ollama serve' to start it" >&2; exit 1 ;;
  signin) [ "$1" = push ] && { echo "You need to be signed in to push models to ollama.com."; exit 0; } ;;
  denied) [ "$1" = push ] && { echo "Error: you are not authorized to push to this namespace, create the model under a namespace you own" >&2; exit 1; } ;;
  nokey) [ "$1" = push ] && { echo "Error: open /home/u/.ollama/id_ed25519: no such file or directory" >&2; exit 1; } ;;
  missing) [ "$1" = cp ] && { echo "Error: model 'ec-miip' not found" >&2; exit 1; } ;;
esac
[ "$1" = push ] && echo "pushing manifest" >&2
exit 0
"""


@pytest.fixture
def fake_ollama(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "ollama"
    script.write_text(FAKE_OLLAMA)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / "calls"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("OLLAMA_CALLS", str(calls))
    return lambda: calls.read_text().splitlines() if calls.exists() else []


def test_push_copies_into_the_namespace_then_pushes(fake_ollama):
    assert ollama_mod.push("ec-miip", namespace="alice") == "alice/ec-miip"
    assert fake_ollama() == ["cp ec-miip alice/ec-miip", "push alice/ec-miip"]
    assert ollama_mod.push("alice/ec-miip:q4") == "alice/ec-miip:q4"
    assert fake_ollama()[-1] == "push alice/ec-miip:q4"


@pytest.mark.parametrize("mode, message", [
    ("down", "server is not running"),
    ("signin", "not signed in to ollama.com"),  # Ollama prints this and exits 0
    ("denied", "refused the push"),
    ("nokey", "Ollama has no key"),
    ("missing", "no local model ec-miip"),
])
def test_push_errors_are_one_line(fake_ollama, monkeypatch, mode, message):
    monkeypatch.setenv("FAKE_OLLAMA_MODE", mode)
    with pytest.raises(EcmiipError, match=message):
        ollama_mod.push("ec-miip", namespace="alice")


def test_push_refusals_before_running_ollama(fake_ollama, monkeypatch):
    with pytest.raises(InputError, match="has no namespace"):
        ollama_mod.push("ec-miip")
    with pytest.raises(InputError, match="already in namespace bob"):
        ollama_mod.push("bob/ec-miip", namespace="alice")
    assert fake_ollama() == []
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(InputError, match="ollama is not installed"):
        ollama_mod.push("alice/ec-miip")
