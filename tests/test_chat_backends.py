"""The chat backends: llama.cpp on the project's own GGUFs, Ollama against a fake local server."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ecmiip.chat.backends import Backend, BackendError, Stats
from ecmiip.chat.llamacpp_backend import LlamaCppBackend
from ecmiip.chat.ollama_backend import OllamaBackend
from ecmiip.core.errors import InputError
from tests.engine_samples import CHINESE, FRANCE, GREEDY, opened, streamed_text

# --------------------------------------------------------------------------------------------------
# llama.cpp


@pytest.fixture(scope="module")
def smollm2(smollm2_gguf):
    yield from opened(LlamaCppBackend(smollm2_gguf, n_ctx=2048))


@pytest.fixture(scope="module")
def qwen3(tiny_qwen3_gguf):
    yield from opened(LlamaCppBackend(tiny_qwen3_gguf, n_ctx=1024))


def test_smollm2_answers(smollm2):
    assert isinstance(smollm2, Backend)
    deltas = list(smollm2.stream(FRANCE, think=None, sampling=GREEDY, max_tokens=48))
    assert {d.kind for d in deltas} == {"content"}
    assert "Paris" in streamed_text(deltas)
    stats = smollm2.last_stats
    assert stats.decode_tokens > 0 and stats.decode_ms > 0 and stats.decode_tokens_per_s > 0
    assert stats.ctx_size == smollm2.context_size == 2048
    assert stats.ctx_used == smollm2.count_tokens(FRANCE, None) + stats.decode_tokens
    assert stats.finish in ("stop", "length")


def test_next_turn_reuses_the_cached_prompt(smollm2):
    first = streamed_text(list(smollm2.stream(FRANCE, think=None, sampling=GREEDY, max_tokens=24)))
    turn2 = [*FRANCE, {"role": "assistant", "content": first}, {"role": "user", "content": "And of Italy?"}]
    list(smollm2.stream(turn2, think=None, sampling=GREEDY, max_tokens=8))
    # only what the first turn's prompt did not hold is evaluated (the kept answer may be reused too)
    new_part = smollm2.count_tokens(turn2, None) - smollm2.count_tokens(FRANCE, None)
    assert 0 < smollm2.last_stats.prompt_tokens <= new_part


def test_tiny_qwen3_streams(qwen3):
    deltas = list(qwen3.stream(CHINESE, think=None, sampling={"temperature": 0.8, "seed": 3}, max_tokens=40))
    assert deltas and all(d.text for d in deltas)
    assert qwen3.last_stats.decode_tokens > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chinese_stream_has_no_replacement_character(qwen3, seed):
    sampling = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "seed": seed}
    deltas = list(qwen3.stream(CHINESE, think=False, sampling=sampling, max_tokens=200))
    assert deltas
    assert not any("\ufffd" in d.text for d in deltas)


def test_split_characters_are_streamed_whole(smollm2):
    """SmolLM2 spells most Chinese characters with several byte tokens: the stream must join them."""
    llm = smollm2.llm
    assert len(llm.tokenize("专利".encode(), add_bos=False)) > 2  # the characters are split
    messages = [{"role": "user", "content": "请用中文介绍一下专利法。"}]
    streamed = list(smollm2.stream(messages, think=None, sampling=GREEDY, max_tokens=60))
    text = streamed_text(streamed)
    assert re.search(r"[\u4e00-\u9fff]", text), text
    assert not any("\ufffd" in d.text for d in streamed)
    # the same greedy answer decoded in one piece (it may run a token further to finish a character)
    tokens = smollm2.tokenize_prompt(smollm2.render_prompt(messages, None))
    llm.reset()  # the prompt prefilled again in one batch, as the stream did: the same arithmetic on every build
    whole = llm.create_completion(tokens, max_tokens=smollm2.last_stats.decode_tokens + 4, temperature=0.0)
    assert whole["choices"][0]["text"].lstrip("\n").startswith(text)
    assert len(text) >= len(whole["choices"][0]["text"].strip()) - 8


def test_think_false_renders_an_empty_think_block(qwen3):
    no_think = qwen3.render_prompt(CHINESE, False)
    assert no_think.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    for think in (None, True):
        assert qwen3.render_prompt(CHINESE, think).endswith("<|im_start|>assistant\n")
    assert qwen3.count_tokens(CHINESE, False) == qwen3.count_tokens(CHINESE, None) + 4


def test_stop_event_stops_early_and_the_backend_stays_usable(smollm2):
    stop = threading.Event()
    deltas = []
    essay = [{"role": "user", "content": "Write a long essay about patents."}]
    for delta in smollm2.stream(essay, think=None, sampling={"temperature": 0.8, "seed": 7}, max_tokens=400, stop_event=stop):
        deltas.append(delta)
        if len(deltas) == 3:
            stop.set()
    # English: one token, one delta; the stop is seen right after the token that set it
    assert len(deltas) == 3
    assert smollm2.last_stats.finish == "cancelled" and smollm2.last_stats.decode_tokens == 3
    assert "Paris" in streamed_text(list(smollm2.stream(FRANCE, think=None, sampling=GREEDY, max_tokens=48)))


def test_interrupted_reader_leaves_the_backend_usable(smollm2):
    """Ctrl-C without a stop event: the reader's loop dies, the backend must carry on."""
    essay = [{"role": "user", "content": "Write a long essay about patents."}]
    with pytest.raises(KeyboardInterrupt):
        for i, _ in enumerate(smollm2.stream(essay, think=None, sampling={"seed": 7}, max_tokens=400)):
            if i == 2:
                raise KeyboardInterrupt
    assert smollm2.last_stats.finish == "cancelled" and smollm2.last_stats.decode_tokens == 3
    assert "Paris" in streamed_text(list(smollm2.stream(FRANCE, think=None, sampling=GREEDY, max_tokens=48)))


class StopAfterChecks(threading.Event):
    """A stop event that is set by the time it has been looked at ``n`` times: deterministic timing."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0 or super().is_set()


def test_stop_event_is_honoured_while_a_long_prompt_is_read(smollm2):
    long_question = [{"role": "user", "content": "Summarise: " + "the patent holder may sue. " * 150}]
    n = smollm2.count_tokens(long_question, None)
    assert n > 3 * smollm2.PREFILL_STEP
    deltas = list(smollm2.stream(long_question, think=None, sampling=GREEDY, max_tokens=64, stop_event=StopAfterChecks(1)))
    assert deltas == [] and smollm2.last_stats.finish == "cancelled"
    assert smollm2.llm.n_tokens < n  # stopped after one slice, not after the whole prompt
    assert "Paris" in streamed_text(list(smollm2.stream(FRANCE, think=None, sampling=GREEDY, max_tokens=48)))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="model not found"):
        LlamaCppBackend(tmp_path / "nope.gguf")


def test_file_llama_cpp_cannot_load(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"this is not a GGUF file at all")
    with pytest.raises(InputError, match=r"cannot load it \(.*invalid magic"):
        LlamaCppBackend(bad)


def test_gguf_without_chat_template(tiny_qwen3_gguf, tmp_path):
    data = bytearray(tiny_qwen3_gguf.read_bytes())
    key = b"tokenizer.chat_template"
    at = data.index(len(key).to_bytes(8, "little") + key) + 8
    data[at : at + len(key)] = b"tokenizer.chat_templatX"  # same length: the file stays valid
    plain = tmp_path / "plain.gguf"
    plain.write_bytes(bytes(data))
    with pytest.raises(InputError, match="not a chat model"):
        LlamaCppBackend(plain, n_ctx=256)


def test_prompt_longer_than_the_context(tiny_qwen3_gguf):
    backend = LlamaCppBackend(tiny_qwen3_gguf, n_ctx=256)
    try:
        messages = [{"role": "user", "content": "专利权的保护范围以其权利要求的内容为准。" * 40}]
        n = backend.count_tokens(messages, None)
        assert n > backend.context_size
        with pytest.raises(InputError) as err:
            backend.stream(messages, think=None, sampling={}, max_tokens=16)
        assert str(n) in str(err.value) and str(backend.context_size) in str(err.value)
        assert list(backend.stream(CHINESE, think=False, sampling={"seed": 1}, max_tokens=8))
    finally:
        backend.close()


def test_unknown_sampling_option(qwen3):
    with pytest.raises(InputError, match="mirostat"):
        qwen3.stream(CHINESE, think=None, sampling={"mirostat": 2}, max_tokens=8)


# --------------------------------------------------------------------------------------------------
# Ollama, against a fake server speaking /api/chat


class FakeOllama(BaseHTTPRequestHandler):
    """``fake-qwen`` thinks (unless ``think`` is false) then answers; ``fake-inline`` writes its think
    block into the content, as Ollama does for models without a thinking parser; ``fake-long`` streams
    many chunks slowly; other models are 404."""

    def log_message(self, *args):  # keep pytest's output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, **body})
        model = body.get("model")
        if self.path != "/api/chat" or model not in ("fake-qwen", "fake-inline", "fake-long"):
            self._send(404, [{"error": f"model '{model}' not found"}])
            return
        lines = []
        if model == "fake-qwen" and body.get("think") is not False:
            lines += [{"message": {"role": "assistant", "content": "", "thinking": t}, "done": False} for t in ("先看", "事实。")]
        if model == "fake-inline":
            contents = ["<thi", "nk>\n想一想\n</think>\n\n", "好的。"]
        elif model == "fake-long":
            contents = ["字"] * 300
        else:
            contents = ["根据", "《专利法》", "第十一条。"]
        lines += [{"message": {"role": "assistant", "content": c}, "done": False} for c in contents]
        lines.append({
            "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
            "total_duration": 90_000_000, "prompt_eval_count": 12, "prompt_eval_duration": 24_000_000,
            "eval_count": 5, "eval_duration": 50_000_000,
        })
        self._send(200, lines, delay=0.01 if model == "fake-long" else 0.0)

    def _send(self, status, lines, delay=0.0):
        self.send_response(status)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        try:
            for line in lines:
                self.wfile.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
                self.wfile.flush()
                time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (stop event)


@pytest.fixture(scope="module")
def fake_ollama():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOllama)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _host(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_ollama_streams_thinking_content_and_stats(fake_ollama):
    backend = OllamaBackend("fake-qwen", _host(fake_ollama), num_ctx=4096)
    assert isinstance(backend, Backend)
    deltas = list(backend.stream(CHINESE, think=True, sampling={"temperature": 0.6}, max_tokens=64))
    assert [d.kind for d in deltas] == ["thinking", "thinking", "content", "content", "content"]
    assert streamed_text(deltas, "thinking") == "先看事实。" and streamed_text(deltas) == "根据《专利法》第十一条。"
    assert backend.last_stats == Stats(12, 24.0, 5, 50.0, 17, 4096, "stop")
    assert backend.last_stats.decode_tokens_per_s == pytest.approx(100.0)
    assert backend.last_stats.prompt_tokens_per_s == pytest.approx(500.0)
    request = fake_ollama.requests[-1]
    assert request["path"] == "/api/chat" and request["stream"] is True and request["think"] is True
    assert request["messages"] == CHINESE
    assert request["options"] == {"temperature": 0.6, "num_ctx": 4096, "num_predict": 64}


def test_ollama_think_field(fake_ollama):
    backend = OllamaBackend("fake-qwen", _host(fake_ollama))
    deltas = list(backend.stream(CHINESE, think=False, sampling={}, max_tokens=8))
    assert fake_ollama.requests[-1]["think"] is False
    assert {d.kind for d in deltas} == {"content"}
    list(backend.stream(CHINESE, think=None, sampling={}, max_tokens=8))
    assert "think" not in fake_ollama.requests[-1]


def test_ollama_think_block_inside_the_content(fake_ollama):
    deltas = list(OllamaBackend("fake-inline", _host(fake_ollama)).stream(CHINESE, think=None, sampling={}, max_tokens=8))
    assert (streamed_text(deltas, "thinking"), streamed_text(deltas)) == ("想一想", "好的。")


def test_ollama_stop_event(fake_ollama):
    backend = OllamaBackend("fake-long", _host(fake_ollama))
    stop = threading.Event()
    deltas = []
    for delta in backend.stream(CHINESE, think=None, sampling={}, max_tokens=300, stop_event=stop):
        deltas.append(delta)
        if len(deltas) == 3:
            stop.set()
    assert len(deltas) == 3
    assert backend.last_stats.finish == "cancelled" and backend.last_stats.decode_tokens == 3
    assert list(OllamaBackend("fake-qwen", _host(fake_ollama)).stream(CHINESE, think=None, sampling={}, max_tokens=8))


def test_ollama_unknown_model(fake_ollama):
    backend = OllamaBackend("x", _host(fake_ollama))
    with pytest.raises(BackendError, match=r"model 'x' not found \(HTTP 404\)"):
        backend.stream(CHINESE, think=None, sampling={}, max_tokens=8)


def test_ollama_not_running():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    backend = OllamaBackend("fake-qwen", f"http://127.0.0.1:{port}")
    with pytest.raises(BackendError) as err:
        backend.stream(CHINESE, think=None, sampling={}, max_tokens=8)
    assert str(err.value) == f"Ollama is not running at http://127.0.0.1:{port} (start it with `ollama serve`)"


@pytest.mark.parametrize("host", ["http://192.168.1.20:11434", "http://example.com", "10.0.0.1:11434", "https://ollama.example.org"])
def test_ollama_refuses_a_remote_host(host):
    with pytest.raises(InputError, match="refusing to send the conversation"):
        OllamaBackend("m", host)
    assert OllamaBackend("m", host, allow_remote=True).host.startswith(("http://", "https://"))


@pytest.mark.parametrize(
    ("host", "url"),
    [("localhost:11434", "http://localhost:11434"), ("http://[::1]:8080", "http://[::1]:8080"), ("127.0.0.2", "http://127.0.0.2:11434")],
)
def test_ollama_loopback_hosts(host, url):
    assert OllamaBackend("m", host).host == url


def test_ollama_count_tokens_is_a_safe_estimate(qwen3):
    ollama = OllamaBackend("m")
    for messages in (CHINESE, FRANCE, [*CHINESE, {"role": "assistant", "content": "专利法第十一条规定了专利权的效力。"}]):
        assert ollama.count_tokens(messages, None) >= qwen3.count_tokens(messages, None)
    assert ollama.count_tokens(CHINESE, False) > ollama.count_tokens(CHINESE, None)


def test_ollama_rejects_llama_only_sampling():
    with pytest.raises(InputError, match="logit_bias"):
        OllamaBackend("m").stream(CHINESE, think=None, sampling={"logit_bias": {1: -1.0}}, max_tokens=8)
