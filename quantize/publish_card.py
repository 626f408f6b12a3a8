"""The model card (``README.md``) of a published export: the hub's YAML header, then what the model is for
and not for, how it was verified, which file to take, and how to run it.

Every figure comes from the export folder (``export-report.json``, the files' sizes, the Modelfile as
Ollama reads it) or from a bench ``results.json``; nothing is measured or typed in again here. The card
carries no date or path of this machine, so publishing the same export twice gives the same card.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ecmiip import __version__
from ecmiip.quantize.modelcard import read_model_card

TAGS = ["gguf", "ollama", "legal", "intellectual-property", "chinese"]
# llama-cli flags for the Ollama parameters we write (llama.cpp's common arguments).
_LLAMA_FLAGS = {"num_ctx": "-c", "temperature": "--temp", "top_p": "--top-p", "top_k": "--top-k",
                "min_p": "--min-p", "repeat_penalty": "--repeat-penalty"}
_CACHE_ID = re.compile(r"models--([^/]+?)--([^/]+)")


@dataclass
class CardInfo:
    repo_id: str
    base_model: str | None
    license: str | None
    adapter: bool


def card_info(export, repo_id: str, *, base_model: str | None = None, license: str | None = None) -> CardInfo:
    """Licence and base model: the options, else the base model's own card and its hub-cache path."""
    from ecmiip.core.errors import EcmiipError
    from ecmiip.core.hub import is_hub_id, resolve_base, split_hub_id

    base = str(export.report.get("base") or "")
    folder = Path(base) if base and Path(base).is_dir() else None
    named = split_hub_id(base)[0] if base and is_hub_id(base) else None
    if named is not None:
        try:
            folder = resolve_base(base)  # the local hub cache only: nothing is downloaded
        except EcmiipError:
            folder = None
    card = read_model_card(folder) if folder is not None else None
    if base_model is None:
        m = _CACHE_ID.search(base.replace("\\", "/"))
        base_model = named or (f"{m[1]}/{m[2]}" if m else None)
    if license is None and card is not None:
        license = card.license
    return CardInfo(repo_id, base_model, license, adapter=bool(export.report.get("adapter")))


def _header(info: CardInfo) -> str:
    meta: dict[str, object] = {}
    if info.license:
        meta["license"] = info.license
    if info.base_model:
        meta["base_model"] = info.base_model
        meta["base_model_relation"] = "finetune" if info.adapter else "quantized"
    meta |= {"language": ["zh"], "tags": TAGS, "pipeline_tag": "text-generation"}
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def _size(n: int) -> str:
    if n >= 2**30:
        return f"{n / 2**30:.2f} GiB"
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def _drift(report: dict) -> dict[str, dict]:
    """Quant type (or file stem) -> the drift check's figures."""
    out = {}
    for c in report.get("checks", []):
        name = str(c.get("name", ""))
        if name.startswith("drift ") and isinstance(c.get("details"), dict):
            out[name.removeprefix("drift ")] = c["details"]
    return out


def quant_table(export, layout_files: dict) -> list[str]:
    drift = _drift(export.report)
    rows = [(q, p) for q, p in export.quants.items()]
    if export.reference is not None and export.reference.name in layout_files:
        rows.append((export.reference.stem.rsplit("-", 1)[-1].upper(), export.reference))
    if export.lora is not None and export.lora.name in layout_files:
        rows.append((f"LoRA adapter ({export.lora.stem.rsplit('-', 1)[-1].upper()})", export.lora))
    has_drift = any((drift.get(q) or drift.get(p.stem)) for q, p in rows)
    head = "| file | type | size |" + (" KL vs. model as trained | top-1 agreement | perplexity |" if has_drift else "")
    lines = [head, "|" + "---|" * (3 + 3 * has_drift)]
    for q, p in rows:
        cells = [f"`{p.name}`", q, _size(p.stat().st_size)]
        d = drift.get(q) or drift.get(p.stem)
        if has_drift:
            if d and not d.get("untrained"):
                cells += [f"{d['mean_kl']:.4f}", f"{100 * d['top1_agreement']:.1f} %", f"{d['ppl']:.3f}"]
            elif d:
                cells += ["(untrained model)"] * 3
            else:
                cells += ["-", "-", "-"]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if has_drift:
        tokens = next((d.get("tokens") for d in drift.values() if d.get("tokens")), None)
        lines += ["", f"KL divergence and top-1 agreement against the fp32 model as trained, on "
                      f"{f'{tokens} tokens of ' if tokens else ''}held-out legal text (not training text); lower KL "
                      "and higher agreement mean the file answers more like the trained model."]
    if export.lora is not None and export.lora.name in layout_files:
        lines += ["", f"`{export.lora.name}` is the fine-tune alone, as a llama.cpp LoRA GGUF, for users who already "
                      f"have the base model's GGUF: `llama-cli -m BASE.gguf --lora {export.lora.name}`."]
    if export.reference is not None and export.reference.name not in layout_files:
        lines += ["", f"The 16-bit reference `{export.reference.name}` ({_size(export.reference.stat().st_size)}) "
                      "is not uploaded: it is only needed to quantize again."]
    return lines


def verification_table(report: dict) -> list[str]:
    checks = [c for c in report.get("checks", []) if isinstance(c, dict)]
    if not checks:
        return ["The export was written with `--no-verify`: no verification results are recorded for it."]
    lines = ["Checks `ecmiip export` ran on these files (from `export-report.json`):", "",
             "| check | result | detail |", "|---|---|---|"]
    for c in checks:
        result = {True: "pass", False: "FAIL", None: "info"}[c.get("passed")]
        lines.append(f"| {_cell(c.get('name', ''))} | {result} | {_cell(c.get('summary', ''))} |")
    return lines


def bench_table(results: dict) -> list[str]:
    """Headline per model and task from a bench results.json (``bench.results`` layout)."""
    from ecmiip.bench.report import headline

    tasks = sorted({t for m in results["models"].values() for t in m.get("tasks", {})})
    lines = ["| model | " + " | ".join(tasks) + " |", "|" + "---|" * (len(tasks) + 1)]
    for spec, m in results["models"].items():
        cells = [Path(spec).name]
        for task in tasks:
            summary = m.get("tasks", {}).get(task, {}).get("summary") or {}
            value = headline(task, summary)
            if value is None:
                cells.append("-")
            else:
                cells.append((f"{value:.3f}" if task == "recite" else f"{100 * value:.1f} %") + f" (n={summary['n']})")
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines + ["", "Accuracy (recite: ROUGE-L) from `ecmiip bench`; n is the number of items scored."]


def _run_lines(export, repo_id: str, first: Path) -> list[str]:
    quant = next(q for q, p in export.quants.items() if p == first)
    params = export.hub.params
    flags = [f"{flag} {params[key]}" for key, flag in _LLAMA_FLAGS.items() if key in params]
    others = [f"`:{q}`" for q in export.quants if q != quant]
    return [
        "### Ollama", "", "```sh", f"ollama run hf.co/{repo_id}:{quant}", "```", "",
        *([f"Other quantizations: {', '.join(others)}.", ""] if others else []),
        "### llama.cpp", "", "```sh",
        f"hf download {repo_id} {first.name} system --local-dir .",
        f"llama-cli -m {first.name} --jinja {' '.join(flags)} -sys \"$(cat system)\"".replace("  ", " "),
        "```", "",
        "### ec-miip", "", "```sh", f"ecmiip-chat --model {first.name}",
        f"ecmiip-chat --ollama hf.co/{repo_id}:{quant}   # through a local Ollama", "```",
    ]


def _ollama_lines(export) -> list[str]:
    hub = export.hub
    lines = ["The repository carries the files `ollama run hf.co/...` reads, taken from the `Modelfile` as "
             "Ollama parses it, so the hub model runs like `ollama create -f Modelfile`:", ""]
    if hub.template is not None:
        lines.append("- `template`: the Modelfile's Go TEMPLATE, written to render what the model's own chat "
                     "template renders (the `Modelfile TEMPLATE parity` check under Verification); Ollama 0.30 and "
                     "later may render the chat template inside the GGUF instead, which gives the same prompt "
                     "(`OLLAMA_GO_TEMPLATE=1` makes it use this one);")
    else:
        lines.append(f"- no `template`: no Go template renders exactly what this model's chat template renders, so "
                     f"Ollama {hub.requires or '0.30.0'} or later should render the chat template inside the GGUF "
                     "itself (llama.cpp's Jinja engine); older Ollama versions may use an approximate template;")
    if hub.system is not None:
        lines.append("- `system`: the legal system prompt;")
    keys = ", ".join(sorted(hub.params))
    lines.append(f"- `params`: {keys}.")
    if hub.requires:
        lines += ["", f"The Modelfile asks for Ollama {hub.requires} or later (`REQUIRES`)."]
    return lines


def render_card(export, layout_files: dict, info: CardInfo, *, as_of: str, bench: dict | None = None) -> str:
    """The README.md text."""
    first = next((p for p in export.quants.values() if p.name == Path(export.hub.source).name),
                 next(iter(export.quants.values())))
    base = f" from [{info.base_model}](https://huggingface.co/{info.base_model})" if info.base_model else ""
    kind = "fine-tuned for Chinese intellectual-property law" if info.adapter else "set up for Chinese intellectual-property law"
    lines = [
        _header(info), f"# {info.repo_id.split('/', 1)[1]}", "",
        f"A GGUF model {kind}{base}, exported with ec-miip {__version__} for llama.cpp and "
        "Ollama: patents, trademarks, copyright, unfair competition and trade secrets, plant varieties and "
        "integrated-circuit layouts.", "",
        "## Intended use and limits", "",
        "- Help with reading and reasoning about Chinese IP law: facts, applicable provisions, conclusion.",
        "- **Not legal advice.** Answers can be wrong, incomplete or out of date, and cited articles can be "
        "mistaken; check every citation against the official text and consult a qualified lawyer for decisions.",
        f"- Law changes. The statute store ec-miip checks citations against was reviewed as of {as_of}; "
        "the model knows nothing later than its training data.",
        "- Chinese in, Chinese out; the system prompt (`system`) sets the assistant's role and rules.", "",
        "## Files", "", *quant_table(export, layout_files), "",
        "## Run it", "", *_run_lines(export, info.repo_id, first), "",
        "## Ollama files", "", *_ollama_lines(export), "",
        "## Verification", "", *verification_table(export.report), "",
    ]
    if export.report.get("quant_ladder"):  # `ecmiip export --quant ladder`: every rung measured against the F16
        from ecmiip.quantize.ladder import Ladder, ladder_markdown

        lines += ["## Quant ladder", "", ladder_markdown(Ladder.from_json(export.report["quant_ladder"])).rstrip(), ""]
    if bench is not None:
        lines += ["## Benchmark", "", *bench_table(bench), ""]
    if info.license:
        lines += ["## Licence", "", f"`{info.license}`, the licence of the base model"
                  + (f" {info.base_model}" if info.base_model else "") + ".", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
