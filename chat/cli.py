"""``ecmiip-chat``: an offline IP-law assistant in the terminal, over llama.cpp or a local Ollama.

Answers stream as Markdown; Qwen3's thinking is shown dimmed and folded, never kept in history;
every 《…》第…条 an answer cites is checked against the statute store when it ends, and listed with
its status (现行, 已被取代, 无此条, 库中无此法 …) on the date asked (``--as-of``, today by default). Ctrl-C stops an
answer and keeps the session; Ctrl-D leaves. ``-p`` or piped stdin answers once, for scripts.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import shlex
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich_argparse import RichHelpFormatter

from ecmiip.chat.backends import Backend, Stats
from ecmiip.chat.history import History
from ecmiip.chat.ollama_backend import DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_OLLAMA_HOST, DEFAULT_TIMEOUT_S
from ecmiip.chat.render import StreamView
from ecmiip.chat.session import (
    ContextOverflow,
    Session,
    Turn,
    autosave_path,
    latest_autosave,
    load,
    save,
    transcript_path,
    transcripts_dir,
)
from ecmiip.core.arguments import iso_day
from ecmiip.core.boundary import EXIT_INTERRUPTED, _write_log, describe, guarded
from ecmiip.core.console import console, stdout_console
from ecmiip.core.errors import EcmiipError, InputError
from ecmiip.core.prompts import DEFAULT_NUM_CTX, MODES, TASKS, system_prompt

if TYPE_CHECKING:
    from ecmiip.chat.documents import LoadedDocument
    from ecmiip.chat.lineinput import LineReader

HELP = """\
/help                 本帮助
/reset                清空对话历史
/system [文本]        查看或替换系统提示
/mode [rigorous|drafting]   严谨推理（低温）或文书起草（较高温度）
/task [名称]          任务预设：{tasks}
/think                切换 Qwen3 思考模式
/law 专利法 11 [版本]  查看法条原文及其效力（默认现行版本）
/draft 律师函         按模板起草文书（会询问缺少的信息；留空则标为【待填写】）
/file 路径             附加文件（.txt .md .docx .pdf）；/file 列出附件，/file --clear 移除全部
                      回答可按〔第N段〕引用附件，引用会被核对；文件太长时只提供与问题最相关的段落
/export docx|md [文件] [last]  导出对话（last：只导出最后一个回答，如 /draft 文书），附引用条文
/review [报告.docx]     逐条审查附加的合同（风险等级、依据、修改建议），写出审查报告
/compare [比对表.docx]  权利要求比对：倒数第二个附件为权利要求书，最后一个为被诉产品说明
/copy                 复制最后一个回答（无剪贴板时写入文件）
/regenerate           重新生成最后一个回答
/laws                 法条库中的法律、版本和效力
/sessions [all]       已保存的会话；/resume 编号 恢复，/rename 标题 重命名当前会话，/delete 编号 删除
/save [md|json] [名称]  保存对话（权限 0600）
/load 名称|autosave   载入 /save json 保存的对话，或最近一次自动保存
/stats                速度与上下文用量
/multi                切换多行输入（多行时 Enter 换行，Esc-Enter 发送）
输入：粘贴的多行文字整体作为一条消息；Esc-Enter（或 Alt-Enter）换行；↑/↓ 历史（跨会话保留）；
      Ctrl-R 搜索历史；Tab 补全命令和法律名称。
每轮回答结束后对话存入本机的会话库（ecmiip-chat --continue 继续，--history 文字 查找；--no-history 不留记录），
并自动保存到 {autosave}（/load autosave 可恢复）。
Ctrl-C 停止当前回答或取消当前命令（保留对话），Ctrl-D 退出。"""

ANSWER_RESERVE = 1024  # tokens kept free for the answer when trimming history
MAX_CTX = 1 << 20
MODE_WORDS = {"rigorous": "严谨推理", "drafting": "文书起草"}
SAMPLING_WORDS = {"temperature": "温度", "top_p": "top-p", "top_k": "top-k", "min_p": "min-p",
                  "repeat_penalty": "重复惩罚", "presence_penalty": "出现惩罚", "frequency_penalty": "频率惩罚",
                  "seed": "随机种子"}


def _bounded(kind: type, low: float, high: float | None = None, what: str = "") -> Callable[[str], float]:
    """An argparse type: a number of ``kind`` in [low, high] (a usage error otherwise, exit 2)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"应为{what}（数字），而不是 {text!r}") from None
        if not (value >= low and (high is None or value <= high)) or value != value:
            limit = f"{kind(low)} 到 {kind(high)} 之间" if high is not None else f"不小于 {kind(low)}"
            raise argparse.ArgumentTypeError(f"{what}应{limit}，而不是 {text}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ecmiip-chat",
        description="Offline Chinese IP-law assistant over llama.cpp (or a local Ollama). Nothing leaves this machine.",
        formatter_class=RichHelpFormatter,
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--model", type=Path,
        help="GGUF file (e.g. dist/ec-miip-Q4_K_M.gguf), or an HF model folder, or FOLDER+ADAPTER (transformers)",
    )
    src.add_argument("--ollama", metavar="NAME", help="a model served by a local Ollama, e.g. ec-miip")
    p.add_argument("--ollama-host", default=DEFAULT_OLLAMA_HOST, help="Ollama address (loopback only) (default: %(default)s)")
    p.add_argument("--timeout", type=_bounded(float, 0.1, 86400, "秒数"), default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help="how long to wait for Ollama's first byte, and for any pause in an answer (default: %(default)g)")
    p.add_argument("--connect-timeout", type=_bounded(float, 0.1, 600, "秒数"), default=DEFAULT_CONNECT_TIMEOUT_S,
                   metavar="SECONDS", help="how long to wait for Ollama to accept the connection (default: %(default)g)")
    p.add_argument("-p", "--prompt", help="answer this question and exit (also: pipe it on stdin)")
    p.add_argument("--ctx", type=_bounded(int, 256, MAX_CTX, "token 数"),
                   help=f"context length in tokens (default: an Ollama model's own num_ctx, else {DEFAULT_NUM_CTX})")
    p.add_argument("--gpu-layers", type=_bounded(int, -1, None, "层数（-1 = 全部）"),
                   help="layers offloaded to the GPU, -1 = all (default for a GGUF: what `ecmiip doctor` advises "
                   "for this machine and file; else -1)")
    p.add_argument("--threads", type=_bounded(int, 1, 4096, "线程数"), help="CPU threads (default: llama.cpp's choice)")
    p.add_argument("--mode", choices=sorted(MODES), default="rigorous", help="sampling preset (default: rigorous)")
    p.add_argument("--task", choices=sorted(TASKS), help="task preset added to the system prompt")
    think = p.add_mutually_exclusive_group()
    think.add_argument("--think", dest="think", action="store_const", const=True, help="Qwen3 thinking on")
    think.add_argument("--no-think", dest="think", action="store_const", const=False, help="Qwen3 thinking off")
    p.add_argument("--hide-thinking", action="store_true", help="show only a one-line note while the model thinks")
    p.add_argument("--rag", action="store_true", help="retrieve relevant articles into the prompt and list them as sources")
    p.add_argument("--max-tokens", type=_bounded(int, 1, MAX_CTX, "token 数"), default=2048,
                   help="longest answer in tokens (default: 2048)")
    p.add_argument("--as-of", type=iso_day, metavar="YYYY-MM-DD",
                   help="answer and check citations against the versions in force on this date (old cases); default: today")
    p.add_argument("--file", action="append", type=Path, default=[], metavar="PATH",
                   help="attach a document (.txt .md .docx .pdf) to the conversation; repeatable")
    p.add_argument("--load", metavar="NAME",
                   help="continue a session saved with /save json (NAME in the transcripts folder), or 'autosave'")
    kept = p.add_argument_group("lasting sessions (SQLite in the user-data folder, mode 0600)")
    which = kept.add_mutually_exclusive_group()
    which.add_argument("-c", "--continue", dest="cont", action="store_true", help="continue the last session")
    which.add_argument("--resume", metavar="ID", help="continue session ID (see /sessions or --history)")
    which.add_argument("--history", metavar="TEXT",
                       help='search every stored session for TEXT, print the matches and exit ("" lists them all)')
    kept.add_argument("--no-history", action="store_true",
                      help="leave nothing behind: no stored session, no autosave, no input history")
    p.add_argument("--debug", action="store_true", help="show the full traceback of an unexpected error")
    return p



def open_backend(args: argparse.Namespace, say: Callable[[str], None] | None = None) -> Backend:
    """The backend ``--model`` or ``--ollama`` names, opened by :func:`~ecmiip.chat.open_model.open_model`.

    For a GGUF the user gave no ``--ctx`` or ``--gpu-layers`` for, the machine decides them by the rules of
    ``ecmiip doctor`` (free RAM and VRAM, the llama.cpp build, the model's size), and ``say`` is told once."""
    from ecmiip.chat.open_model import open_model

    n_ctx, layers = args.ctx, args.gpu_layers
    model = str(args.model) if args.model is not None else ""
    if not args.ollama and model.lower().endswith(".gguf") and (n_ctx is None or layers is None):
        from ecmiip.pipeline.doctor import chat_settings

        advised = chat_settings(model) if Path(model).is_file() else None
        if advised is not None:
            n_ctx = n_ctx if n_ctx is not None else advised.n_ctx
            layers = layers if layers is not None else advised.n_gpu_layers
            if say is not None:
                say(f"llama.cpp：上下文 {n_ctx} tokens，GPU 层数 {'全部' if layers == -1 else layers}"
                    f"（按 ecmiip doctor 的规则：{advised.note}；可用 --ctx、--gpu-layers 指定）")
    if not args.ollama and model.lower().endswith(".gguf") and say is not None:
        from ecmiip.core.llama import AMX_ENV, amx_kernels_off

        if amx_kernels_off():
            say(f"llama.cpp：此构建含 AMX 内核，它在部分 CPU 上会崩溃（llama.cpp issue 20824），已关闭"
                f"（CPU 重排加速一并关闭；{AMX_ENV}=1 可开启）")
    return open_model(
        f"ollama:{args.ollama}" if args.ollama else model,
        n_ctx=n_ctx, ollama_host=args.ollama_host, n_gpu_layers=-1 if layers is None else layers,
        n_threads=args.threads, timeout=args.timeout, connect_timeout=args.connect_timeout,
    )


def number_ranges(numbers: list[int], most: int = 12) -> str:
    """``1–6、8、9、12…``: sorted paragraph numbers as runs, the first ``most`` runs shown."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    words = [f"{a}" if a == b else f"{a}–{b}" for a, b in runs]
    return "、".join(words[:most]) + ("…" if len(words) > most else "")


def split_args(text: str) -> list[str]:
    """A command's arguments: shell-like quoting where it is balanced, plain words where it is not.

    ``/system don't invent`` or ``/law "专利法 11`` must never fail on the quote: an apostrophe is text.
    """
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def describe_mode(mode: str) -> str:
    """``rigorous（严谨推理）：温度 0.6，top-p 0.95 …`` rather than a Python dict."""
    settings = "，".join(f"{SAMPLING_WORDS.get(k, k)} {v:g}" for k, v in MODES[mode].items())
    return f"{mode}（{MODE_WORDS.get(mode, mode)}）：{settings}"


class Chat:
    """One session against one backend; every error leaves the session and its history intact."""

    def __init__(self, backend, args: argparse.Namespace, out: Console, err: Console,
                 reader: LineReader | None = None) -> None:
        self.backend, self.args, self.out, self.err, self.reader = backend, args, out, err, reader
        self.as_of: date | None = getattr(args, "as_of", None)
        self.session = Session(system=system_prompt(args.task, as_of=self.as_of), mode=args.mode, task=args.task,
                               think=args.think)
        self.stop = threading.Event()
        self.last_stats: Stats | None = None  # of the last turn of this session (cleared by /reset, /load)
        self.autosave: Path | None = None  # set by the first finished turn of an interactive session
        self._started = time.strftime("%Y%m%d-%H%M%S")
        self._raw = ""  # the text after a command's name, unsplit (/system keeps its apostrophes)
        self.history: History | None = None if getattr(args, "no_history", False) else History()
        self.history_id: int | None = None

    @property
    def model_name(self) -> str:
        return f"ollama:{self.args.ollama}" if getattr(self.args, "ollama", None) else Path(str(self.args.model)).name

    # --- lasting history (SQLite): every finished turn is committed before the next prompt --------------
    def record(self, turn: Turn, regenerating: bool = False) -> None:
        """Store a finished turn (the session is created with its first); a failure is a warning only."""
        if self.history is None:
            return
        try:
            if self.history_id is None:
                self.history_id = self.history.create(self.session, self.model_name)
            elif regenerating:
                self.history.replace_last_turn(self.history_id, turn)
            else:
                self.history.append_turn(self.history_id, turn)
        except EcmiipError as e:
            self.err.print(f"[yellow]对话历史未能保存：{escape(str(e))}；对话仍在，可用 /save 另存。[/]", soft_wrap=True)

    def on_change(self, reset: bool = False) -> None:
        """Settings or attachments changed: the stored session follows (once it exists)."""
        if self.history is None or self.history_id is None:
            return
        try:
            self.history.save_settings(self.history_id, self.session, reset=reset)
        except EcmiipError as e:
            self.err.print(f"[yellow]对话历史未能更新：{escape(str(e))}[/]", soft_wrap=True)

    def open_session(self, session_id: int) -> None:
        """``--resume``, ``--continue``, ``/resume``: a stored session replaces the one in memory."""
        if self.history is None:
            raise InputError("--no-history 下不读写对话历史")
        session, info = self.history.load(session_id)
        self.session, self.history_id, self.last_stats = session, session_id, None
        self.out.print(f"已恢复会话 #{info.id}「{info.title}」：{len(session.turns)} 轮"
                       f"{f'，附件 {len(session.attachments)} 个' if session.attachments else ''}"
                       f"（{info.updated:%Y-%m-%d %H:%M}，模型 {info.model}）。", highlight=False)

    def cmd_sessions(self, rest: list[str]) -> None:
        if self.history is None:
            raise InputError("--no-history 下不读写对话历史")
        infos = self.history.sessions(None if rest == ["all"] else 20)
        if not infos:
            self.out.print("还没有保存的会话。")
            return
        table = Table(title="会话（/resume 编号 恢复；/sessions all 列出全部）")
        for column in ("编号", "标题", "轮数", "更新于", "模型"):
            table.add_column(column, overflow="fold")
        for i in infos:
            mark = " ◀ 当前" if i.id == self.history_id else ""
            table.add_row(f"#{i.id}", i.title + mark, str(i.turns), f"{i.updated:%Y-%m-%d %H:%M}", i.model)
        self.out.print(table)

    def cmd_resume(self, rest: list[str]) -> None:
        from ecmiip.chat.history import parse_session_id

        if len(rest) != 1:
            raise InputError("用法：/resume 编号（/sessions 列出会话）")
        self.open_session(parse_session_id(rest[0]))

    def cmd_rename(self, rest: list[str]) -> None:
        if self.history is None:
            raise InputError("--no-history 下不读写对话历史")
        if not self._raw:
            raise InputError("用法：/rename 新标题（重命名当前会话）")
        if self.history_id is None:
            raise InputError("当前会话还没有保存（第一轮回答结束后才保存），请稍后再重命名")
        self.history.rename(self.history_id, rest[0] if len(rest) == 1 else self._raw)
        self.out.print("已重命名。")

    def cmd_delete(self, rest: list[str]) -> None:
        from ecmiip.chat.history import parse_session_id

        if self.history is None:
            raise InputError("--no-history 下不读写对话历史")
        if len(rest) != 1:
            raise InputError("用法：/delete 编号（/sessions 列出会话）")
        sid = parse_session_id(rest[0])
        self.history.delete(sid)
        if sid == self.history_id:
            self.history_id = None  # the conversation in memory goes on; its next turn starts a new record
        self.out.print(f"已删除会话 #{sid}。")

    # --- one question -----------------------------------------------------------------------------
    def ask(self, question: str, *, interactive: bool, regenerating: bool = False) -> Turn | None:
        """Answer ``question``; the history changes only when the answer is complete (Ctrl-C: None).

        ``regenerating``: the answer replaces the last turn (the caller took it out of the session)."""
        from ecmiip.core.citations import verify_citations

        context, sources = "", []
        if self.args.rag:
            from ecmiip.chat.rag import format_context, retrieve
            from ecmiip.chat.rag import sources as cite

            found = retrieve(question, as_of=self.as_of)
            context, sources = format_context(found, self.as_of), cite(found)
        size = self.backend.context_size
        budget = size - min(self.args.max_tokens, ANSWER_RESERVE, size // 4)
        count = lambda m: self.backend.count_tokens(m, self.session.think)  # noqa: E731
        selections = self.select_passages(question, context, budget, count)
        if selections:
            from ecmiip.chat.passages import format_document

            context = "\n\n".join([*(format_document(d, sel) for d, sel in selections), *([context] if context else [])])
        trial = replace(self.session, turns=list(self.session.turns))  # the history changes only on success
        try:
            dropped = trial.fit(question, budget, count, context)
        except ContextOverflow as e:
            raise InputError(
                f"问题连同系统提示共需 {e.needed} 个 token，而 --ctx {size} 的上下文在为回答预留 {size - budget} 个后"
                f"只余 {budget} 个：请缩短问题，或以更大的 --ctx 重新启动（问题不会被截断）") from None
        if dropped:
            self.err.print(f"[yellow]上下文将满：本轮将移除最早的 {dropped} 轮对话。[/]")
        messages = trial.messages(question, context)
        turn = Turn(question, sources=sources)
        self.stop.clear()
        stream = None
        try:
            with self._waiting(count(messages)):  # a spinner with elapsed time until the first token
                stream = self.backend.stream(
                    messages,
                    think=self.session.think,
                    sampling=dict(MODES[self.session.mode]),
                    max_tokens=self.args.max_tokens,
                    stop_event=self.stop,
                )
                first = next(stream, None)
            pieces = itertools.chain([first] if first is not None else [], stream)
            if interactive:
                with StreamView(self.out, show_thinking=not self.args.hide_thinking) as view:
                    for delta in pieces:
                        view.add(delta.kind, delta.text)
                        turn.answer += delta.text if delta.kind == "content" else ""
            else:
                try:
                    for delta in pieces:
                        if delta.kind == "content":
                            turn.answer += delta.text
                            self.out.file.write(delta.text)
                            self.out.file.flush()
                finally:  # an error after part of the answer starts on its own line
                    self.out.file.write("\n")
                    self.out.file.flush()
        except KeyboardInterrupt:
            self.stop.set()
            if stream is not None:
                stream.close()  # the backend winds down (closes its connection, stops generating)
            self.err.print("[yellow]已停止；本轮回答未计入对话历史。[/]")
            return None
        stats = self.last_stats = self.backend.last_stats
        self.notice_cut(stats)
        if sources:
            self.err.print("[dim]参考条文：" + "；".join(sources) + "[/]", soft_wrap=True)
        checks = verify_citations(turn.answer, self.as_of)
        turn.flagged = [c.text for c in checks if not c.ok]
        self.report_citations(checks)
        turn.flagged += self.report_paragraph_refs(turn.answer, selections)
        trial.turns.append(turn)
        self.session.turns = trial.turns
        if interactive and self.history is not None:
            self.save_automatically()
        self.record(turn, regenerating)
        return turn

    def select_passages(self, question: str, context: str, budget: int, count) -> list[tuple]:
        """For each attached document, the passages this question gets (all of it when it fits).

        The documents share what the system prompt, the question and retrieved articles leave of the
        budget, less a quarter kept for the conversation so far; the user is told what was left out.
        """
        if not self.session.attachments:
            return []
        from ecmiip.chat.passages import select_passages

        alone = count(Session(self.session.system).messages(question, context))
        room = max(0, (budget - alone) * 3 // 4) // len(self.session.attachments)
        per_text = lambda text: count([{"role": "user", "content": text}]) - self._empty_user(count)  # noqa: E731
        selections = []
        for doc in self.session.attachments:
            sel = select_passages(doc, question, room, per_text)
            if sel.left_out:
                shown = number_ranges([p.number for p in sel.left_out])
                self.err.print(f"[yellow]{escape(doc.name)} 共 {len(doc.paragraphs)} 段，上下文放不下全部："
                               f"本轮只提供与问题最相关的 {len(sel.kept)} 段，未提供第 {shown} 段"
                               f"（可用更大的 --ctx，或在问题中写明要看的段落）。[/]", soft_wrap=True, highlight=False)
            selections.append((doc, sel))
        return selections

    def _empty_user(self, count) -> int:
        if getattr(self, "_empty_cost", None) is None:
            self._empty_cost = count([{"role": "user", "content": ""}])
        return self._empty_cost

    def report_paragraph_refs(self, answer: str, selections: list[tuple]) -> list[str]:
        """A line for every 〔第N段〕 the answer cites: given to the model, or not (then flagged)."""
        if not selections:
            return []
        from ecmiip.chat.clauses import clause_refs, segment_clauses
        from ecmiip.chat.passages import paragraph_refs

        flagged = []
        for doc, sel in selections:
            refs = paragraph_refs(answer, doc, sel)
            clauses = clause_refs(answer, segment_clauses(doc.paragraphs))
            if not refs and not clauses:
                continue
            self.err.print(f"[bold]段落引用核查[/]（{escape(doc.name)}，共 {len(doc.paragraphs)} 段）：", highlight=False)
            for c in clauses:  # 合同第十一条: the contract's own numbering
                if c.clause is None:
                    flagged.append(f"{doc.name} {c.text}")
                    self.err.print(f"  [bold yellow]⚠ {escape(c.text)} — 附件中没有这一条[/]", soft_wrap=True, highlight=False)
                else:
                    where = number_ranges(list(c.clause.paragraphs))
                    self.err.print(f"  [green]✓ {escape(c.text)} — {escape(c.clause.name)}，见第 {where} 段[/]",
                                   soft_wrap=True, highlight=False)
            for ref in refs:
                shown = f"第{ref.number}段" + (f"（{ref.text}）" if ref.text != f"〔第{ref.number}段〕" else "")
                if ref.given:
                    self.err.print(f"  [green]✓ {escape(shown)} — 见附件[/]", soft_wrap=True, highlight=False)
                    continue
                flagged.append(f"{doc.name} 第{ref.number}段")
                why = "附件中没有这一段" if not ref.exists else "这一段本轮未提供给模型，回答不可能依据它"
                self.err.print(f"  [bold yellow]⚠ {escape(shown)} — {why}[/]", soft_wrap=True, highlight=False)
        return flagged

    @contextlib.contextmanager
    def _waiting(self, prompt_tokens: int):
        """A spinner on stderr with the seconds waited and the prompt's size, until the first token."""
        if not self.err.is_terminal:
            yield
            return
        t0 = time.monotonic()

        class Label:
            def __rich__(self) -> Text:
                return Text(f"等待模型… {time.monotonic() - t0:.0f} 秒（提示约 {prompt_tokens} tokens；Ctrl-C 取消）",
                            style="dim")

        with self.err.status(Label(), spinner="dots"):
            yield

    def notice_cut(self, stats: Stats | None) -> None:
        """Say so when an answer stopped at the token budget or the context limit, not at its end."""
        if stats is None or stats.finish != "length":
            return
        if stats.decode_tokens >= self.args.max_tokens:
            self.err.print(f"[bold yellow]⚠ 回答达到 --max-tokens 上限（{self.args.max_tokens} tokens）而中止，"
                           "可能不完整；可用更大的 --max-tokens 重新启动，或请它“继续”。[/]", soft_wrap=True)
        else:
            self.err.print(f"[bold yellow]⚠ 上下文已满（--ctx {self.backend.context_size} tokens），回答被截断；"
                           "可用 /reset 清空历史，或以更大的 --ctx 重新启动。[/]", soft_wrap=True)

    def save_automatically(self) -> None:
        """After each finished turn: the session as JSON (0600, atomic); a failure is a warning only."""
        path = self.autosave or autosave_path(self._started)
        try:
            save(self.session, path, "json")
            self.autosave = path
        except (OSError, EcmiipError) as e:
            self.err.print(f"[yellow]自动保存失败（{path}）：{escape(str(e))}；对话仍在，可用 /save 另存。[/]",
                           soft_wrap=True)

    def report_citations(self, checks: list) -> None:
        """A line for every article the answer cites, with its status: 现行 / 已被取代 / 无此条 / 库中无此法…"""
        if not checks:
            return
        day = (self.as_of or date.today()).isoformat()
        self.err.print(f"[bold]引用核查[/]（按{day}有效的版本）：", highlight=False)
        for c in checks:
            if c.ok:
                self.err.print(f"  [green]✓ {c.text} — 现行[/]（{c.doc.describe(self.as_of or date.today())}）",
                               soft_wrap=True, highlight=False)
            else:
                self.err.print(f"  [bold yellow]⚠ {c.text} — {c.word}：{c.reason}[/]", soft_wrap=True, highlight=False)

    # --- commands ---------------------------------------------------------------------------------
    def command(self, line: str) -> None:
        name, _, raw = line[1:].strip().partition(" ")
        if "\n" in name:  # "/cmd\nmore": the name ends at any whitespace
            name, _, more = name.partition("\n")
            raw = f"{more} {raw}".strip()
        handler = getattr(self, f"cmd_{name}", None) if name.isidentifier() else None
        if handler is None:
            raise InputError(f"未知命令 /{name}；输入 /help 查看命令")
        self._raw = raw.strip()
        handler(split_args(self._raw))

    def ask_field(self, prompt: str) -> str:
        """One answer in a command's dialogue (Ctrl-C: KeyboardInterrupt, Ctrl-D: EOFError)."""
        return self.reader.ask(prompt) if self.reader is not None else input(prompt)

    def cmd_help(self, rest: list[str]) -> None:
        self.out.print(HELP.format(tasks="、".join(TASKS), autosave=transcripts_dir()), markup=False)

    def cmd_reset(self, rest: list[str]) -> None:
        self.session.reset()
        self.last_stats = None
        self.on_change(reset=True)
        self.out.print("对话已清空。")

    def cmd_system(self, rest: list[str]) -> None:
        if self._raw:
            self.session.system = rest[0] if len(rest) == 1 else self._raw  # "quoted text" loses its quotes
            self.on_change()
        self.out.print(Markdown(f"**系统提示**\n\n{self.session.system}"))

    def cmd_mode(self, rest: list[str]) -> None:
        if rest:
            if rest[0] not in MODES:
                raise InputError(f"没有模式 {rest[0]!r}；可用：{'、'.join(MODES)}")
            self.session.mode = rest[0]
            self.on_change()
        self.out.print(f"模式：{describe_mode(self.session.mode)}", highlight=False)

    def cmd_task(self, rest: list[str]) -> None:
        if rest:
            if rest[0] not in TASKS:
                raise InputError(f"没有任务 {rest[0]!r}；可用：{'、'.join(TASKS)}")
            self.session.task = rest[0]
            self.session.system = system_prompt(rest[0], as_of=self.as_of)
            self.on_change()
        self.out.print(f"任务：{self.session.task or '通用'}")
        self.hint_task()

    def hint_task(self) -> None:
        """The two document tasks have a command that works through the whole attachment: say so."""
        hints = {"合同条款审查": (1, "/review 逐条审查附加的合同并写出审查报告"),
                 "专利权利要求比对": (2, "/compare 把倒数第二个附件（权利要求书）与最后一个附件（被诉产品说明）逐项比对")}
        need, hint = hints.get(self.session.task or "", (0, ""))
        if need and len(self.session.attachments) >= need:
            self.err.print(f"[dim]提示：{hint}。[/]", highlight=False, soft_wrap=True)

    def cmd_think(self, rest: list[str]) -> None:
        if getattr(self.backend, "thinks", None) is False:
            raise InputError("该模型不支持思考模式（Ollama 报告的能力中没有 thinking）")
        self.session.think = not (self.session.think is not False)
        self.on_change()
        self.out.print(f"思考模式：{'开' if self.session.think else '关'}")

    def cmd_multi(self, rest: list[str]) -> None:
        if self.reader is None:
            raise InputError("多行输入只在终端中可用；管道输入本来就整体读入")
        self.reader.multiline = not self.reader.multiline
        self.out.print("多行输入：开（Enter 换行，Esc-Enter 或 Alt-Enter 发送）" if self.reader.multiline
                       else "多行输入：关（Enter 发送，Esc-Enter 换行）")

    def cmd_law(self, rest: list[str]) -> None:
        from ecmiip.core.citations import lookup, validity_note

        if len(rest) not in (2, 3):
            raise InputError("用法：/law 专利法 11 [版本，如 2008 或 2019修正]")
        article = lookup(rest[0], rest[1], as_of=self.as_of, version=rest[2] if len(rest) == 3 else None)
        note = validity_note(article, self.as_of)
        live = article.doc.in_force_on(self.as_of or date.today())
        self.out.print(Markdown(f"**{article.citation}**（{article.version}）\n\n{article.text}"))
        self.out.print(f"[{'green' if live else 'bold yellow'}]{escape(note)}[/]", soft_wrap=True, highlight=False)

    def cmd_draft(self, rest: list[str]) -> None:
        from ecmiip.chat.drafts import TEMPLATES, draft_prompt, missing_fields

        if not rest or rest[0] not in TEMPLATES:
            raise InputError(f"用法：/draft 模板名；可选：{'、'.join(TEMPLATES)}")
        template, values = TEMPLATES[rest[0]], {}
        try:
            for f in missing_fields(template, values):  # the example is a hint; a blank answer stays 【待填写】
                values[f.name] = self.ask_field(f"{f.prompt}（例：{f.example}；留空则标为【待填写】）：").strip()
        except (KeyboardInterrupt, EOFError):
            self.out.print("\n已取消起草；对话保持不变。")
            return
        self.ask(draft_prompt(template, values, self.as_of), interactive=True)

    def cmd_file(self, rest: list[str]) -> None:
        from ecmiip.chat.documents import read_document

        if not rest:
            if not self.session.attachments:
                self.out.print("没有附件；用 /file 路径 附加文件（.txt .md .docx .pdf）。")
            for d in self.session.attachments:
                self.out.print(f"附件：{d.path}（{d.kind}，{len(d.paragraphs)} 段）", highlight=False, soft_wrap=True)
            return
        if rest == ["--clear"]:
            self.session.attachments.clear()
            self.out.print("已移除全部附件。")
            self.on_change()
            return
        for name in rest:
            doc = read_document(Path(name).expanduser())  # a bad file is one error line; nothing is attached
            again = self.session.attach(doc)
            pages = doc.paragraphs[-1].page if doc.paragraphs and doc.paragraphs[-1].page else None
            self.out.print(f"{'已重新读取' if again else '已附加'} {doc.name}：{len(doc.paragraphs)} 段"
                           f"{f'，{pages} 页' if pages else ''}（{doc.kind}）。提问时可要求按〔第N段〕引用。",
                           highlight=False, soft_wrap=True)
            for note in doc.notes:
                self.err.print(f"[yellow]{escape(doc.name)}：{escape(note)}[/]", soft_wrap=True, highlight=False)
        self.on_change()
        self.hint_task()

    def cmd_export(self, rest: list[str]) -> None:
        from ecmiip.chat.export import FORMATS, conversation_report, export_path

        words = [w for w in rest if w not in ("last", "--force")]
        if not words or words[0] not in FORMATS or len(words) > 2:
            raise InputError("用法：/export docx|md [文件名] [last] [--force]")
        last, force = "last" in rest, "--force" in rest
        path = export_path(words[0], words[1] if len(words) > 1 else None, last=last)
        report = conversation_report(self.session, model=self.model_name, as_of=self.as_of, last=last)
        written = report.write(path, force=force)
        self.out.print(f"已导出：{written.resolve()}", highlight=False, soft_wrap=True)

    def attachment(self, name: str | None, what: str) -> LoadedDocument:
        """The attached document ``name`` names (its file name or its number in /file), else the last one."""
        docs = self.session.attachments
        if not docs:
            raise InputError(f"请先用 /file 附加{what}")
        if name is None:
            return docs[-1]
        for i, d in enumerate(docs, 1):
            if name in (d.name, str(d.path), str(i)):
                return d
        raise InputError(f"没有名为 {name!r} 的附件；/file 列出附件")

    def cmd_review(self, rest: list[str]) -> None:
        """The clause-by-clause review of an attached contract, with this session's model (``ecmiip review``)."""
        from ecmiip.chat.review import SUMMARY_HEADER, review, state_path, summary_rows, write_review
        from ecmiip.chat.review_cli import default_out

        force = "--force" in rest
        words = [w for w in rest if w != "--force"]
        outs = [w for w in words if w.lower().endswith((".docx", ".md"))]
        names = [w for w in words if w not in outs]
        if len(outs) > 1 or len(names) > 1:
            raise InputError("用法：/review [附件名] [报告.docx|报告.md] [--force]")
        doc = self.attachment(names[0] if names else None, "要审查的合同")
        out = Path(outs[0]).expanduser() if outs else Path(default_out(doc.path).name)
        if out.exists() and not force:
            raise InputError(f"{out} 已存在；加 --force 覆盖，或给出另一个报告文件名")
        state = state_path(out)
        result = review(doc, self.backend, model=self.model_name, state=state, as_of=self.as_of)
        if result.reused:
            self.err.print(f"[dim]沿用上次中断前已审查的 {result.reused} 条（{state}）[/]", highlight=False, soft_wrap=True)
        table = Table(*SUMMARY_HEADER, title=f"合同条款审查：{doc.name}", show_lines=True)
        for row in summary_rows(result):
            table.add_row(*(Text(cell, overflow="fold") for cell in row))
        self.out.print(table)
        path = write_review(result, out, force=force, state=state)
        self.out.print(f"已写出审查报告：{path.resolve()}（逐条理由、依据、修改建议和引用条文）", highlight=False, soft_wrap=True)

    def cmd_compare(self, rest: list[str]) -> None:
        """Claim 1 of the first attachment against the second (``ecmiip compare-claims``), with this model."""
        from ecmiip.chat.claims import build_report, compare, design_patent_text, is_design_patent
        from ecmiip.chat.claims_cli import print_comparison
        from ecmiip.chat.claims_model import apply_model

        force = "--force" in rest
        words = [w for w in rest if w != "--force"]
        if len(self.session.attachments) < 2 or len(words) > 1:
            raise InputError("用法：先 /file 权利要求书，再 /file 被诉产品说明，然后 /compare [比对表.docx|.md] [--force]")
        claims_doc, target = self.session.attachments[-2:]
        if is_design_patent(claims_doc.text()):
            self.out.print(f"{claims_doc.name}：{design_patent_text()}", highlight=False, soft_wrap=True)
            return
        comparison = compare(claims_doc.text(), target.paragraphs, claims_name=claims_doc.name, target_name=target.name)
        apply_model(self.backend, comparison.matches, as_of=self.as_of,
                    progress=lambda label: self.err.print(f"[dim]模型判断特征 {label} 是否等同…[/]", highlight=False))
        comparison.model = self.model_name
        print_comparison(comparison, self.out)
        if words:
            path = build_report(comparison, self.as_of).write(Path(words[0]).expanduser(), force=force)
            self.out.print(f"已写出比对表：{path.resolve()}", highlight=False, soft_wrap=True)

    def cmd_copy(self, rest: list[str]) -> None:
        from ecmiip.chat.clipboard import copy_text

        if not self.session.turns:
            raise InputError("还没有回答可复制")
        where = copy_text(self.session.turns[-1].answer)
        self.out.print(f"已复制最后一个回答{where}。", highlight=False)

    def cmd_regenerate(self, rest: list[str]) -> None:
        if not self.session.turns:
            raise InputError("还没有回答可重新生成")
        last = self.session.turns.pop()  # back only if the new answer does not complete
        before = len(self.session.turns)
        try:
            self.ask(last.question, interactive=True, regenerating=True)
        finally:
            if len(self.session.turns) == before:
                self.session.turns.append(last)
                self.err.print("[yellow]保留原来的回答。[/]")

    def cmd_laws(self, rest: list[str]) -> None:
        from ecmiip.core.statutes import store

        day = self.as_of or date.today()
        table = Table(title=f"法条库（效力按{day.isoformat()}；核对至{store().as_of.isoformat()}）", show_lines=False)
        for column in ("法律、法规或司法解释", "版本", "效力"):
            table.add_column(column, overflow="fold")
        for law, docs in store().by_law.items():
            for doc in docs:
                live = doc.in_force_on(day)
                table.add_row(law, doc.version, Text(doc.validity(day), style="green" if live else "yellow"))
        self.out.print(table)

    def cmd_save(self, rest: list[str]) -> None:
        if len(rest) > 2:
            raise InputError("用法：/save [md|json] [名称]（名称中有空格时请加引号）")
        fmt = rest[0] if rest and rest[0] in ("md", "json") else "md"
        name = rest[1] if len(rest) > 1 else (rest[0] if rest and rest[0] not in ("md", "json") else None)
        path = save(self.session, transcript_path(name, fmt), fmt)
        self.out.print(f"已保存：{path}", highlight=False)

    def cmd_load(self, rest: list[str]) -> None:
        if len(rest) != 1:
            raise InputError(f"用法：/load 名称|autosave（{transcripts_dir()} 中 /save json 保存的文件）")
        path = latest_autosave() if rest[0] == "autosave" else transcript_path(rest[0], "json")
        session = load(path)  # checked whole before it replaces anything
        self.session, self.last_stats, self.history_id = session, None, None  # stored anew with its next turn
        self.out.print(f"已载入 {len(session.turns)} 轮对话（{path.name}）。", highlight=False)

    def cmd_stats(self, rest: list[str]) -> None:
        s = self.last_stats
        table = Table(show_header=False)
        if s is not None:
            table.add_row("提示", f"{s.prompt_tokens} tokens，{s.prompt_tokens_per_s:.1f} tokens/秒")
            table.add_row("生成", f"{s.decode_tokens} tokens，{s.decode_tokens_per_s:.1f} tokens/秒")
        used = self.backend.count_tokens(self.session.messages(), self.session.think)
        table.add_row("上下文", f"约 {used} / {self.backend.context_size} tokens（当前对话）")
        table.add_row("历史", f"{len(self.session.turns)} 轮")
        self.out.print(table)

    # --- the loop ---------------------------------------------------------------------------------
    def run_line(self, line: str) -> None:
        """One command or question inside the session's boundary: whatever happens, the session goes on."""
        try:
            if line.startswith("/"):
                self.command(line)
            else:
                self.ask(line.strip(), interactive=True)
        except KeyboardInterrupt:
            self.err.print("[yellow]已中断；对话保持不变。[/]")
        except EcmiipError as e:
            self.error(str(e))
        except Exception as e:  # noqa: BLE001 — the session's boundary
            message = describe(e)
            if message is None:
                if getattr(self.args, "debug", False):
                    self.err.print_exception()
                    return
                log = _write_log("ecmiip-chat")
                where = f"完整信息已写入 {log}；" if log else ""
                message = f"意外错误（{type(e).__name__}: {str(e)[:200]}）；{where}对话保持不变，请报告此问题"
            self.error(message)

    def error(self, message: str) -> None:
        self.err.print(f"[bold red]错误：[/]{escape(message)}", highlight=False, soft_wrap=True)

    def read(self) -> str:
        if self.reader is not None:
            return self.reader.read("> ")
        return self.out.input("[bold green]> [/]")

    def repl(self) -> int:
        self.out.print("[bold]ec-miip[/] 知识产权法律助手（离线）。/help 查看命令，Ctrl-D 退出。")
        while True:
            try:
                line = self.read()
            except EOFError:
                self.out.print()
                return 0
            except KeyboardInterrupt:
                continue
            except UnicodeDecodeError:
                self.error("输入不是 UTF-8 文本；请把终端设为 UTF-8")
                continue
            if line.strip():
                self.run_line(line)


def read_question(args: argparse.Namespace) -> str | None:
    """The one question of ``-p`` or piped stdin (None: interactive); checked before a model is opened."""
    if args.prompt is not None:
        text, where = args.prompt, "-p 给出的问题"
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError("-p 给出的问题不是有效的 UTF-8 文本") from None
    elif sys.stdin is None or sys.stdin.isatty():
        return None
    else:
        where = "标准输入（stdin）"
        data = sys.stdin.buffer.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"标准输入（stdin）不是 UTF-8 文本（第 {e.start} 字节起）；请以 UTF-8 编码传入问题") from None
    text = text.strip()
    if not text:
        raise InputError(f"问题为空：{where}没有内容；请给出问题，或在终端中直接运行以进入对话")
    return text


def print_history(query: str, out: Console) -> int:
    """``--history TEXT``: the stored sessions that mention TEXT, newest first, the match in bold."""
    hits = History().search(query, limit=None)
    if not hits:
        out.print(f"没有找到包含「{escape(query)}」的会话。" if query else "还没有保存的会话。")
        return 0
    table = Table(title=f"会话中的「{escape(query)}」（ecmiip-chat --resume 编号 继续）" if query else "会话")
    for column in ("编号", "更新于", "标题", "位置", "内容"):
        table.add_column(column, overflow="fold")
    for h in hits:
        snippet = Text(h.snippet)
        if h.span[1] > h.span[0]:
            snippet.stylize("bold yellow", *h.span)
        where = "标题" if h.turn is None else f"第 {h.turn} 轮" + (f"（共 {h.matches} 处）" if h.matches > 1 else "")
        table.add_row(f"#{h.session_id}", f"{h.updated:%Y-%m-%d %H:%M}", h.title, where, snippet)
    out.print(table)
    return 0


def run(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.history is not None:
        if args.no_history:
            raise InputError("--history 与 --no-history 不能同时使用")
        return print_history(args.history, out)
    if args.no_history and (args.cont or args.resume):
        raise InputError("--no-history 下不读写对话历史，不能与 --continue 或 --resume 同时使用")
    question = read_question(args)
    backend = open_backend(args, say=lambda note: err.print(f"[dim]{escape(note)}[/]", highlight=False, soft_wrap=True))
    chat: Chat | None = None
    try:
        settle = getattr(backend, "settle", None)  # Ollama: the model's num_ctx and whether it thinks
        if settle is not None and (note := settle()):
            err.print(f"[dim]{note}[/]")
        interactive = question is None
        reader = None
        if interactive and sys.stdout.isatty():
            from ecmiip.chat.lineinput import ChatCompleter, LineReader

            reader = LineReader(ChatCompleter(_completions()), persistent=not args.no_history)
        chat = Chat(backend, args, out, err, reader)  # reads the statute store: a damaged user store is an error line
        if args.cont:
            latest = chat.history.latest()
            if latest is None:
                err.print("[yellow]还没有保存的会话；开始新的对话。[/]")
            else:
                chat.open_session(latest)
        elif args.resume:
            from ecmiip.chat.history import parse_session_id

            chat.open_session(parse_session_id(args.resume))
        if args.load:
            chat.cmd_load([args.load])
        if args.file:
            chat.cmd_file([str(f) for f in args.file])
        if not interactive:
            try:
                return 0 if chat.ask(question, interactive=False) is not None else EXIT_INTERRUPTED
            except KeyboardInterrupt:
                err.print("[yellow]已停止。[/]")
                return EXIT_INTERRUPTED
        return chat.repl()
    finally:
        backend.close()
        if chat is not None and chat.history is not None:
            chat.history.close()


def _completions() -> dict:
    from ecmiip.chat.drafts import TEMPLATES
    from ecmiip.chat.lineinput import law_names

    return {
        "law": law_names,
        "draft": lambda: list(TEMPLATES),
        "mode": lambda: list(MODES),
        "task": lambda: list(TASKS),
        "save": lambda: ["md", "json"],
        "load": lambda: ["autosave", *sorted(p.stem for p in transcripts_dir().glob("*.json"))],
    }


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # a usage error: one line and exit 2
    if args.history is None and args.model is None and args.ollama is None:
        parser.error("one of the arguments --model --ollama is required (--history needs neither)")
    out, err = stdout_console(), console

    def print_error(message: str) -> None:
        err.print(f"[bold red]错误：[/]{escape(message)}", highlight=False, soft_wrap=True)

    return guarded(lambda: run(args, out, err), program="ecmiip-chat", debug=args.debug, print_error=print_error)


if __name__ == "__main__":
    sys.exit(main())
