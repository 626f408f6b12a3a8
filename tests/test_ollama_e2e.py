"""The export against a real Ollama server (the pinned build of .ci/build-ollama_server): create, show, the prompt it
renders, greedy generation, thinking, stops, num_ctx, and what it refuses.

Both test models are used: tiny Qwen3 (real vocabulary and chat template, random weights) and SmolLM2-135M
(real weights), plus tiny Qwen3 with a simplified chat template outside the exporter's Go families.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from llama_cpp import Llama
from transformers import AutoTokenizer

from ecmiip.cli import main
from ecmiip.core.llama import captured_llama_log
from ecmiip.core.prompts import LEGAL_SYSTEM_PROMPT
from ecmiip.quantize.modelfile import REQUIRES_GGUF_TEMPLATE, REQUIRES_GO_TEMPLATE
from ecmiip.quantize.parity_conversations import PARITY_CONVERSATIONS, Conversation
from ecmiip.quantize.template_parity import hf_render
from tests.ollama_go import ollama_parse_one
from tests.ollama_server import OllamaServer

ROOT = Path(__file__).resolve().parents[1]

# A user's own simplification of Qwen's template (ChatML, the empty think block for enable_thinking=False,
# but no reasoning in history): the exporter's qwen3 Go template cannot render it exactly.
SIMPLIFIED_QWEN_TEMPLATE = """{%- for message in messages %}
{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|im_start|>assistant\\n' }}
{%- if enable_thinking is defined and enable_thinking is false %}
{{- '<think>\\n\\n</think>\\n\\n' }}
{%- endif %}
{%- endif %}
"""

MODELS = {"qwen3": "Tiny Qwen3", "smollm2": "SmolLM2", "custom": "Tiny Qwen3, simplified template"}
SERVERS = {"default": "default choice", "go": "OLLAMA_GO_TEMPLATE=1"}


@pytest.fixture(scope="module")
def custom_template_dir(tiny_qwen3_dir, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("custom-template") / "model"
    folder.mkdir()
    for f in tiny_qwen3_dir.iterdir():
        if f.name != "chat_template.jinja":
            (folder / f.name).symlink_to(f)
    (folder / "chat_template.jinja").write_text(SIMPLIFIED_QWEN_TEMPLATE, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def custom_export(custom_template_dir, tmp_path_factory) -> Path:
    """The simplified-template model exported with full verification (the Go template does not fit it)."""
    out = tmp_path_factory.mktemp("custom-export") / "dist"
    assert main(["export", str(custom_template_dir), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def exports(tiny_qwen3_gguf, smollm2_gguf, custom_export, tiny_qwen3_dir, smollm2_dir, custom_template_dir):
    """name → (export folder, HF model folder)."""
    return {
        "qwen3": (tiny_qwen3_gguf.parent, tiny_qwen3_dir),
        "smollm2": (smollm2_gguf.parent, smollm2_dir),
        "custom": (custom_export, custom_template_dir),
    }


def _create(server: OllamaServer, name: str, export: Path) -> None:
    done = server.cli("create", name, "-f", "Modelfile", cwd=export)
    assert done.returncode == 0 and "success" in done.stderr + done.stdout, done.stderr[-2000:]


@pytest.fixture(scope="module")
def created(ollama_server, exports) -> dict[str, tuple[Path, Path]]:
    """Every export created in the session's Ollama as ``ecmiip-<name>`` (``ollama create -f Modelfile``)."""
    for name, (export, _) in exports.items():
        _create(ollama_server, f"ecmiip-{name}", export)
    return exports


def test_ollama_is_the_pinned_release(ollama_server):
    assert ollama_server.version() == "0.34.4"
    assert ollama_server.cli("--version").stdout.strip().endswith("0.34.4")


def _values(commands: list[tuple[str, str]]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in commands:
        values.setdefault(name, []).append(value)
    return values


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


@pytest.mark.parametrize("name", ["qwen3", "smollm2", "custom"])
def test_show_modelfile_gives_back_ours(created, ollama_server, name):
    """SYSTEM, TEMPLATE, every PARAMETER (stops included), LICENSE and REQUIRES come back from the server."""
    export, _ = created[name]
    ours = _values(ollama_parse_one((export / "Modelfile").read_text(encoding="utf-8")))
    shown = ollama_server.cli("show", "--modelfile", f"ecmiip-{name}")
    assert shown.returncode == 0, shown.stderr
    theirs = _values(ollama_parse_one(shown.stdout))
    assert theirs["system"] == ours["system"] == [LEGAL_SYSTEM_PROMPT]
    assert theirs["license"] == ours["license"]
    if name == "custom":
        # No Go TEMPLATE: the server keeps the GGUF's Jinja (/api/show), but `show --modelfile` prints Ollama's
        # placeholder, which would become a real Go template if that output were fed back to `ollama create`.
        assert "template" not in ours and theirs["template"] == ["{{ .Prompt }}"]
        assert ollama_server.post("/api/show", {"model": "ecmiip-custom"})["template"] == SIMPLIFIED_QWEN_TEMPLATE
    else:
        assert theirs["template"] == ours["template"]
    assert ours["stop"][:2] == ["<|im_end|>", "<|im_start|>"]
    for key in ("stop", "num_ctx", "temperature", "top_p", "top_k", "min_p", "repeat_penalty"):
        assert sorted(map(_number_or_text, theirs[key])) == sorted(map(_number_or_text, ours[key])), key
    requires = REQUIRES_GGUF_TEMPLATE if name == "custom" else REQUIRES_GO_TEMPLATE
    assert ours["requires"] == [requires]
    show = ollama_server.post("/api/show", {"model": f"ecmiip-{name}"})
    assert show["requires"] == requires and show["system"] == LEGAL_SYSTEM_PROMPT


# --- the prompt Ollama builds ----------------------------------------------------------------------


def _request(conversation: Conversation, model: str) -> dict:
    """``conversation`` as a client sends it to /api/chat: its own messages only (the server adds SYSTEM)."""
    messages = [{"role": r, "content": c, **({"thinking": t} if t else {})} for r, c, t in conversation._messages("")]
    body = {"model": model, "messages": messages, "_debug_render_only": True}
    return body if conversation.think is None else {**body, "think": conversation.think}


def _without_reasoning(conversation: Conversation) -> Conversation:
    return Conversation(conversation.system, [(r, c, None) for r, c, _ in conversation.turns], conversation.think)


def _reasoning_after_last_query(conversation: Conversation) -> bool:
    last_query = max(i for i, (r, c, _) in enumerate(conversation.turns) if r == "user" and "<tool_response>" not in c)
    return any(r == "assistant" and t for r, _, t in conversation.turns[last_query + 1:])


def _outcome(server: OllamaServer, model: str, tokenizer, conversation: Conversation) -> str:
    reply = server.post("/api/chat", _request(conversation, model))
    if "does not support thinking" in str(reply.get("error")):
        return "refused: no thinking"
    got = reply["_debug_info"]["rendered_template"]
    if got == hf_render(tokenizer, conversation, modelfile_system=LEGAL_SYSTEM_PROMPT):
        return "= HF"
    if got == hf_render(tokenizer, _without_reasoning(conversation), modelfile_system=LEGAL_SYSTEM_PROMPT):
        return "≠ HF: history reasoning dropped"
    return f"≠ HF: {got[-200:]!r}"


def _expected(model: str, server: str, conversation: Conversation) -> str:
    """What Ollama 0.34.4 does, as observed: SmolLM2 has no thinking, so a request with think=true is
    refused; on its llama-server path Ollama sends no ``reasoning_content`` for history turns
    (llm/llama_server.go, llamaServerChatMessage), so reasoning kept after the last query is lost."""
    if model == "smollm2" and conversation.think:
        return "refused: no thinking"
    native = model == "custom" or (model == "qwen3" and server == "default")
    if native and model == "qwen3" and _reasoning_after_last_query(conversation):
        return "≠ HF: history reasoning dropped"
    return "= HF"


CHOICES = {("qwen3", "default"): "gguf_chat_template", ("qwen3", "go"): "go_template",
           ("smollm2", "default"): "go_template", ("smollm2", "go"): "go_template",
           ("custom", "default"): "gguf_chat_template", ("custom", "go"): "gguf_chat_template"}


def parity_table(outcomes: dict[tuple[str, str], dict[str, str]], choices: dict[tuple[str, str], str]) -> str:
    """The README's table: per parity conversation, what Ollama rendered under each model and setting."""
    columns = list(outcomes)
    head = ["conversation", *(f"{MODELS[m]}, {SERVERS[s]}: `{choices[m, s]}`" for m, s in columns)]
    rows = [head, ["---"] * len(head)]
    for conversation in PARITY_CONVERSATIONS:
        rows.append([f"`{conversation.label}`", *(outcomes[c][conversation.label] for c in columns)])
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def test_rendered_prompts_equal_hf_and_the_readme_says_so(created, ollama_server, ollama_go_template):
    """/api/chat with _debug_render_only, every parity conversation, both models and the custom template,
    under Ollama's default template choice and with OLLAMA_GO_TEMPLATE=1; the README's table is this run's."""
    servers = {"default": ollama_server, "go": ollama_go_template}
    outcomes, choices = {}, {}
    for model, (_, hf_dir) in created.items():
        tokenizer = AutoTokenizer.from_pretrained(hf_dir)
        for key, server in servers.items():
            outcomes[model, key] = {c.label: _outcome(server, f"ecmiip-{model}", tokenizer, c) for c in PARITY_CONVERSATIONS}
            choices[model, key] = server.template_choice(f"ecmiip-{model}")
    expected = {(m, s): {c.label: _expected(m, s, c) for c in PARITY_CONVERSATIONS} for m, s in outcomes}
    assert choices == CHOICES
    assert outcomes == expected
    table = parity_table(outcomes, choices)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert table in readme, f"README.md must hold this run's table:\n{table}"


def test_custom_template_exports_without_a_go_template(custom_export):
    text = (custom_export / "Modelfile").read_text(encoding="utf-8")
    commands = dict(ollama_parse_one(text))
    assert "template" not in commands and commands["requires"] == REQUIRES_GGUF_TEMPLATE
    assert "after-last-query" in text  # the Modelfile says why there is no TEMPLATE
    report = json.loads((custom_export / "export-report.json").read_text(encoding="utf-8"))
    checks = {c["name"]: c for c in report["checks"]}
    assert report["passed"] and checks["chat-template parity"]["passed"]
    assert checks["Modelfile TEMPLATE parity"]["passed"] is None


# --- generation ---------------------------------------------------------------------------------------

GREEDY_TOKENS = 32
STOPS = ["<|im_end|>", "<|im_start|>", "<|endoftext|>"]


@pytest.mark.parametrize("name,question", [("qwen3", "什么是专利的新颖性？"), ("smollm2", "List the days of the week.")])
def test_greedy_generation_equals_llama_cpp_python(created, ollama_server, name, question):
    """Temperature 0 through Ollama (its llama-server) and through llama-cpp-python on the same GGUF and the
    prompt Ollama rendered: the same text, token for token, for GREEDY_TOKENS tokens.

    Only where greedy decoding is well defined: at a near tie between the top two tokens the thread count
    or the SIMD kernels (Ollama loads the best of its CPU variants) can flip the choice in either engine, so
    the test first shows the top-1 margin of every step is clear (asked of llama.cpp's log-probabilities).
    """
    export, _ = created[name]
    body = {"model": f"ecmiip-{name}", "messages": [{"role": "user", "content": question}],
            "options": {"temperature": 0, "seed": 1, "num_predict": GREEDY_TOKENS, "repeat_penalty": 1.0}}
    if name == "qwen3":
        body["think"] = False
    prompt = ollama_server.post("/api/chat", {**body, "_debug_render_only": True})["_debug_info"]["rendered_template"]
    reply = ollama_server.post("/api/chat", body)
    with captured_llama_log():
        llm = Llama(str(export / "ec-miip-Q4_K_M.gguf"), n_ctx=2048, verbose=False, seed=1, logits_all=True)
    try:
        ours = llm.create_completion(prompt, max_tokens=GREEDY_TOKENS, temperature=0, repeat_penalty=1.0,
                                     stop=STOPS, logprobs=2)
    finally:
        with captured_llama_log():
            llm.close()
    choice = ours["choices"][0]
    margins = [top[0] - top[1] for step in choice["logprobs"]["top_logprobs"]
               if len(top := sorted(step.values(), reverse=True)) > 1]
    assert min(margins) > 0.1, f"a near tie (margin {min(margins):.3f}): choose a prompt with a clear greedy path"
    assert reply["message"]["content"] == choice["text"]
    assert reply["prompt_eval_count"] == ours["usage"]["prompt_tokens"]
    assert reply["done_reason"] == choice["finish_reason"] == "length"
    assert reply["eval_count"] == ours["usage"]["completion_tokens"] == GREEDY_TOKENS
    if name == "smollm2":  # a real model: a real answer
        assert "Monday" in reply["message"]["content"]


def _ps(server: OllamaServer) -> dict[str, dict]:
    with urllib.request.urlopen(f"{server.url}/api/ps", timeout=10) as r:
        return {m["name"]: m for m in json.load(r)["models"]}


def test_num_ctx_from_the_modelfile_is_the_runners_and_a_longer_prompt_is_refused(created, ollama_server, tmp_path):
    """The runner takes num_ctx from the Modelfile; a prompt longer than it is refused with HTTP 400, not cut."""
    export, _ = created["qwen3"]
    small = tmp_path / "small"
    small.mkdir()
    (small / "ec-miip-Q4_K_M.gguf").symlink_to(export / "ec-miip-Q4_K_M.gguf")
    text = (export / "Modelfile").read_text(encoding="utf-8").replace("PARAMETER num_ctx 8192", "PARAMETER num_ctx 512")
    assert "PARAMETER num_ctx 512" in text
    (small / "Modelfile").write_text(text, encoding="utf-8")
    _create(ollama_server, "ecmiip-ctx512", small)
    options = {"temperature": 0, "num_predict": 2}
    reply = ollama_server.post("/api/chat", {"model": "ecmiip-ctx512", "think": False, "options": options,
                                      "messages": [{"role": "user", "content": "你好"}]})
    assert reply["done"] and _ps(ollama_server)["ecmiip-ctx512:latest"]["context_length"] == 512
    long_question = "专利" * 400
    refused = ollama_server.post("/api/chat", {"model": "ecmiip-ctx512", "think": False, "options": options,
                                        "messages": [{"role": "user", "content": long_question}]})
    assert refused["status"] == 400 and "exceeds the available context size (512 tokens)" in refused["error"]

    # ecmiip-chat adopts the Modelfile's num_ctx and refuses before sending, in one line
    done = subprocess.run([sys.executable, "-m", "ecmiip.chat.cli", "--ollama", "ecmiip-ctx512", "--ollama-host",
                           ollama_server.url, "--no-think", "-p", long_question], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr and not done.stdout.strip(), done.stderr
    assert "取自模型 ecmiip-ctx512 的 Modelfile num_ctx" in done.stderr and "--ctx 512" in done.stderr


def test_adapter_is_refused_by_this_ollama(created, ollama_server, tmp_path):
    """Ollama 0.34.4 refuses ADAPTER (server/create.go: errAdaptersUnsupported): the README says so and the
    exporter writes none."""
    export, _ = created["smollm2"]
    folder = tmp_path / "adapter"
    folder.mkdir()
    for f in ("ec-miip-Q4_K_M.gguf",):
        (folder / f).symlink_to(export / f)
    (folder / "Modelfile").write_text("FROM ./ec-miip-Q4_K_M.gguf\nADAPTER ./ec-miip-Q4_K_M.gguf\n", encoding="utf-8")
    done = ollama_server.cli("create", "ecmiip-adapter", "-f", "Modelfile", cwd=folder)
    assert done.returncode != 0 and "LoRA adapters are no longer supported" in done.stderr, done.stderr
    assert "ADAPTER" not in (export / "Modelfile").read_text(encoding="utf-8")
    assert "LoRA adapters are no longer supported" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_build_runs_ollama_create_for_real(created, ollama_server, tmp_path, monkeypatch):
    """``ecmiip build``'s last step runs the real ``ollama create`` when ollama is on PATH."""
    from types import SimpleNamespace

    from ecmiip.pipeline.cli import _ollama

    export, _ = created["smollm2"]
    folder = tmp_path / "b" / "06-export"
    folder.mkdir(parents=True)
    (folder / "ec-miip-Q4_K_M.gguf").symlink_to(export / "ec-miip-Q4_K_M.gguf")
    (folder / "Modelfile").write_text((export / "Modelfile").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("PATH", f"{ollama_server.binary.parent}:{os.environ['PATH']}")
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.host)
    _ollama(SimpleNamespace(out=tmp_path / "b", name="ecmiip-built"))
    show = ollama_server.post("/api/show", {"model": "ecmiip-built"})
    assert show.get("system") == LEGAL_SYSTEM_PROMPT, show


def test_bench_puts_the_ollama_model_beside_its_gguf(created, ollama_server, tmp_path):
    """``ecmiip bench --model GGUF --model ollama:NAME --task mcq,speed``: one table, the same items, both rows."""
    export, _ = created["smollm2"]
    gguf, served = str(export / "ec-miip-Q4_K_M.gguf"), "ollama:ecmiip-smollm2"
    out = tmp_path / "bench"
    argv = ["bench", "--model", gguf, "--model", served, "--ollama-host", ollama_server.url, "--task", "mcq,speed",
            "--scorer", "generation", "--limit", "3", "--speed-tokens", "8", "--out", str(out)]
    assert main(argv) == 0
    models = json.loads((out / "results.json").read_text(encoding="utf-8"))["models"]
    assert set(models) == {gguf, served}
    items = {spec: [i["id"] for i in m["tasks"]["mcq-generation"]["items"]] for spec, m in models.items()}
    assert items[gguf] == items[served] and len(items[gguf]) == 3
    assert models[served]["speed"]["decode_tokens"] > 0 and models[gguf]["speed"]["decode_tokens"] > 0
    table = next(t for t in (out / "report.md").read_text(encoding="utf-8").split("\n\n") if served in t)
    assert gguf in table or Path(gguf).name in table


def test_review_and_compare_claims_ask_the_real_server(created, ollama_server, tmp_path):
    """``ecmiip review`` and ``compare-claims`` with ollama:NAME: every clause and every 等同 candidate is a
    real request (SmolLM2 cannot think: its requests must not ask it to, or Ollama refuses them)."""
    from docx import Document as Docx

    from tests import doc_fixtures

    contract, report = doc_fixtures.contract_docx(tmp_path), tmp_path / "审查报告.docx"
    assert main(["review", str(contract), "--model", "ollama:ecmiip-qwen3", "--ollama-host", ollama_server.url,
                 "--out", str(report)]) == 0
    doc = Docx(str(report))
    assert len(doc.tables[0].rows) == 1 + 21  # the header and every part of the contract
    assert "模型：ollama:ecmiip-qwen3" in "\n".join(p.text for p in doc.paragraphs)
    table = tmp_path / "比对表.md"
    assert main(["compare-claims", "--claims", str(doc_fixtures.CLAIMS_TXT), "--target", str(doc_fixtures.PRODUCT_TXT),
                 "--model", "ollama:ecmiip-smollm2", "--ollama-host", ollama_server.url, "--out", str(table)]) == 0
    text = table.read_text(encoding="utf-8")
    assert "ollama:ecmiip-smollm2" in text and "缺失" in text and "不落入" in text


def test_chat_in_a_terminal_against_the_real_server(created, ollama_server, tmp_path):
    """ecmiip-chat --ollama in tmux: the answer streams, Ctrl-C stops it and keeps the session, /stats has
    Ollama's figures, /think switches thinking on."""
    from tests.test_chat_tmux import CHAT, Terminal, _env

    term = Terminal([*CHAT, "--ollama", "ecmiip-qwen3", "--ollama-host", ollama_server.url, "--no-think",
                     "--max-tokens", "4000"], _env(tmp_path / "home"))
    try:
        screen = term.wait_prompt(timeout=120)
        assert "取自模型 ecmiip-qwen3 的 Modelfile num_ctx" in screen
        question = "请详细说明专利的新颖性。"
        term.type(question)  # random weights: 4000 tokens of anything, streamed
        # The answer is text below the echoed question other than the spinner, judged on one capture: before
        # the echo nothing is below the question yet (and a Ctrl-C sent then, while the line editor still
        # reads keys, would not interrupt anything), and the spinner is redrawn in place, so a second
        # capture may fall between its erase and its text.
        answer = lambda screen: question in screen and [  # noqa: E731
            line for line in screen.split(question, 1)[1].splitlines() if line.strip() and "等待模型" not in line]
        deadline = time.time() + 180  # the first request loads the model: slow on a busy 2-core machine
        while not answer(screen := term.screen()) and time.time() < deadline:
            time.sleep(0.05)
        if not answer(screen):
            ps = json.dumps(_ps(ollama_server), ensure_ascii=False)
            raise AssertionError(f"no part of the answer appeared; screen:\n{screen}\nterminal:\n"
                                 f"{term.diagnose()}\nollama ps: {ps}\nserver log:\n{ollama_server.log_tail(8000)}")
        assert "已停止" not in screen
        term.send("C-c")  # part of the answer is on screen and it is not finished: it streams
        term.wait_for("已停止")
        term.wait_prompt(2)  # the session goes on
    finally:
        term.close()
    term = Terminal([*CHAT, "--ollama", "ecmiip-qwen3", "--ollama-host", ollama_server.url, "--no-think",
                     "--max-tokens", "16"], _env(tmp_path / "home"))
    try:
        term.wait_prompt(timeout=120)
        term.type("什么是专利？")
        term.wait_prompt(2, timeout=120)
        term.type("/stats")
        screen = term.wait_for("生成")
        assert "16 tokens" in screen.split("生成", 1)[1].splitlines()[0]  # Ollama's eval_count
        term.type("/think")
        term.wait_for("思考模式：开")
        term.type("什么是著作权？")
        term.wait_prompt(5, timeout=120)
        assert "错误" not in term.screen()
    finally:
        term.close()


@pytest.fixture(scope="module")
def scripted(tiny_qwen3_scripted_dir, ollama_server, tmp_path_factory) -> str:
    """The scripted tiny Qwen3 (it says SCRIPTED_* and would run on into an invented user turn), exported
    and created in the session's Ollama."""
    out = tmp_path_factory.mktemp("scripted") / "dist"
    assert main(["export", str(tiny_qwen3_scripted_dir), "--out", str(out), "--no-verify"]) == 0
    _create(ollama_server, "ecmiip-scripted", out)
    return "ecmiip-scripted"


@pytest.mark.parametrize("server", ["default", "go"])
@pytest.mark.parametrize("think", [True, False])
def test_thinking_is_separated_and_the_turn_ends_at_its_stop(scripted, ollama_server, ollama_go_template, server, think):
    """think=true: the reasoning in message.thinking, the answer without <think> tags; think=false: no
    reasoning; either way the reply ends at <|im_end|>, not in the user turn the model would invent next."""
    from tests.models import SCRIPTED_ANSWER, SCRIPTED_NEXT_TURN, SCRIPTED_QUESTION, SCRIPTED_REASONING

    chosen = {"default": ollama_server, "go": ollama_go_template}[server]
    reply = chosen.post("/api/chat", {"model": scripted, "think": think, "options": {"temperature": 0, "num_predict": 120},
                                      "messages": [{"role": "user", "content": SCRIPTED_QUESTION}]})
    message = reply["message"]
    assert message["content"] == SCRIPTED_ANSWER
    assert (message.get("thinking") or "").strip() == (SCRIPTED_REASONING if think else "")
    assert reply["done_reason"] == "stop" and SCRIPTED_NEXT_TURN not in json.dumps(reply, ensure_ascii=False)
    assert chosen.template_choice(scripted) == {"default": "gguf_chat_template", "go": "go_template"}[server]


def test_chat_keeps_reasoning_apart_from_the_answer(scripted, ollama_server, tmp_path):
    """``ecmiip-chat --ollama NAME --think``: with -p, stdout is the answer alone; in a terminal the reasoning
    streams first and is folded when the answer starts; never a <think> tag or the invented next turn."""
    from tests.models import (
        SCRIPTED_ANSWER,
        SCRIPTED_AS_OF,
        SCRIPTED_NEXT_TURN,
        SCRIPTED_QUESTION,
        SCRIPTED_REASONING,
    )
    from tests.test_chat_tmux import CHAT, Terminal, _env

    # The day fixes the system prompt's statute note: the scripted model was taught under exactly that prompt.
    command = [*CHAT, "--ollama", scripted, "--ollama-host", ollama_server.url, "--think", "--as-of", SCRIPTED_AS_OF.isoformat()]
    done = subprocess.run([*command, "-p", SCRIPTED_QUESTION], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == SCRIPTED_ANSWER
    assert "《中华人民共和国专利法》第二十二条 — 现行" in done.stderr  # the citation check

    term = Terminal(command, _env(tmp_path / "home"))
    try:
        term.wait_prompt(timeout=120)
        term.type(SCRIPTED_QUESTION)
        screen = term.wait_for("第二十二条 — 现行")
        folded = re.search(r"▸ 思考过程 (\d+) 字（已折叠）", screen)
        assert folded and int(folded.group(1)) == len(SCRIPTED_REASONING) + 1, screen  # its text and a newline
        assert folded.start() < screen.index("新颖性是指该发明")
        assert "<think>" not in screen and SCRIPTED_NEXT_TURN not in screen
    finally:
        term.close()
