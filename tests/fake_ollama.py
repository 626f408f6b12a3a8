"""A small local HTTP server that speaks Ollama's streaming ``/api/chat`` protocol, for tests.

The real Ollama is tested in tests/test_ollama_e2e.py; this one stays for what a real server with a tiny
model cannot do: answer scripted legal text with citations (for the citation check) and misbehave on cue.

Answers are scripted by keyword; each is streamed in small chunks with a delay so a test can
watch it arrive (and interrupt it). Every chat request body is recorded in ``Handler.requests`` (the
whole conversation as the client sent it; ``/api/show`` is answered, not recorded). Keywords in the last
message script misbehaviour too: ``挂起`` never sends a byte, ``截断`` ends with ``done_reason: "length"`` after ``num_predict`` tokens,
``坏类型`` sends fields of the wrong types, ``坏JSON`` a line that is not JSON, ``半截`` closes the stream
before ``done``, ``非HTTP`` answers with something that is not HTTP.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TRADE_SECRET = (
    "员工带走客户名单可能侵犯商业秘密。依据《反不正当竞争法》第九条，"
    "以及《最高人民法院关于审理侵犯商业秘密民事案件适用法律若干问题的规定》第九条，使用商业秘密构成侵权；"
    "情节严重的，依照《刑法》第二百一十九条追究刑事责任。现行法见《反不正当竞争法》（2025修订）第十条。"
    "另见《商业秘密保护法》第三条和《专利法》第九十九条。"
)
# Asked with an attached contract: cites a paragraph that exists, one that does not, and an article.
ATTACHMENT_ANSWER = ("改进技术无偿回授的约定风险较高〔第3段〕，参见《中华人民共和国民法典》第八百五十条；"
                     "另见〔第999段〕。")
SCRIPT = {
    "核对附件": ATTACHMENT_ANSWER,  # first: an attached document's text may hold the other keywords
    "商业秘密": TRADE_SECRET,
    "九十九": "根据《专利法》第九十九条，被告应当承担责任。另见《中华人民共和国专利法》第十一条。",
    "长": "这是一个很长的回答。" * 200,
}
DEFAULT = "专利权是发明创造的所有人依法享有的专有权利，见《中华人民共和国专利法》第十一条。"


def answer_for(question: str) -> str:
    return next((a for k, a in SCRIPT.items() if k in question), DEFAULT)


class Handler(BaseHTTPRequestHandler):
    delay = 0.02
    hang = 60.0  # seconds a 挂起 request waits before giving up (the client's timeout or Ctrl-C comes first)
    requests: list[dict] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body.get("model") != "fake":
            self._json(404, {"error": f"model '{body.get('model')}' not found"})
            return
        if self.path == "/api/show":  # what the client asks once at start: the Modelfile's num_ctx, thinking
            self._json(200, {"parameters": "num_ctx                        8192",
                             "capabilities": ["completion", "thinking"]})
            return
        if self.path != "/api/chat":
            self.send_error(404)
            return
        Handler.requests.append(body)
        question = body["messages"][-1]["content"]
        if "挂起" in question:
            deadline = time.time() + self.hang
            while time.time() < deadline:
                time.sleep(0.05)
            return
        if "非HTTP" in question:
            self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n")
            return
        text = answer_for(question)
        capped = "截断" in question
        if capped:
            text = "这是一个被截断的回答，" * 20
        prompt_tokens = sum(len(str(m.get("content") or "")) for m in body["messages"])  # one per character
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        try:
            if "坏类型" in question:
                self._line({"message": {"role": "assistant", "content": 42}, "done": False})
                return
            if "坏JSON" in question:
                self.wfile.write(b"{not json\n")
                return
            if body.get("think"):
                self._line({"message": {"role": "assistant", "content": "", "thinking": "先看事实。"}, "done": False})
            for i in range(0, len(text), 3):
                self._line({"message": {"role": "assistant", "content": text[i : i + 3]}, "done": False})
                time.sleep(self.delay)
                if "半截" in question and i > 6:
                    return
            decoded = body.get("options", {}).get("num_predict", 0) if capped else len(text) // 3
            self._line({"done": True, "done_reason": "length" if capped else "stop", "prompt_eval_count": prompt_tokens,
                        "prompt_eval_duration": 2 * 10**8, "eval_count": decoded, "eval_duration": 10**9})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (Ctrl-C)

    def _line(self, obj: dict) -> None:
        self.wfile.write((json.dumps(obj, ensure_ascii=False) + "\n").encode())
        self.wfile.flush()

    def _json(self, code: int, obj: dict) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
