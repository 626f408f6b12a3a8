"""``ecmiip-chat``: an offline IP-law assistant in the terminal, over llama.cpp or a local Ollama.

Answers stream as Markdown; Qwen3's thinking is shown dimmed and folded, never kept in history;
every 《…》第…条 an answer cites is checked against the statute store when it ends, and listed with
its status (现行, 已被取代, 无此条, 库中无此法 …) on the date asked (``--as-of``, today by default). Ctrl-C stops an
answer and keeps the session; Ctrl-D leaves. ``-p`` or piped stdin answers once, for scripts.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table
from rich_argparse import RichHelpFormatter

from ecmiip.chat.render import StreamView
from ecmiip.chat.session import Session, Turn, load, save, transcript_path, transcripts_dir
from ecmiip.core.errors import EcmiipError, InputError
from ecmiip.core.prompts import MODES, TASKS, system_prompt

HELP = """\
/help                 本帮助
/reset                清空对话历史
/system [文本]        查看或替换系统提示
/mode [rigorous|drafting]   严谨推理（低温）或文书起草（较高温度）
/task [名称]          任务预设：{tasks}
/think                切换 Qwen3 思考模式
/law 专利法 11 [版本]  查看法条原文及其效力（默认现行版本）
/draft 律师函         按模板起草文书（会询问缺少的信息；留空则标为【待填写】）
/save [md|json] [名称]  保存对话（权限 0600）
/load 名称            载入 /save json 保存的对话
/stats                速度与上下文用量
Ctrl-C 停止当前回答（保留对话），Ctrl-D 退出。"""

ANSWER_RESERVE = 1024  # tokens kept free for the answer when trimming history


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ecmiip-chat",
        description="Offline Chinese IP-law assistant over llama.cpp (or a local Ollama). Nothing leaves this machine.",
        formatter_class=RichHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--model", type=Path,
        help="GGUF file (e.g. dist/ec-miip-Q4_K_M.gguf), or an HF model folder, or FOLDER+ADAPTER (transformers)",
    )
    src.add_argument("--ollama", metavar="NAME", help="a model served by a local Ollama, e.g. ec-miip")
    p.add_argument("--ollama-host", default="http://127.0.0.1:11434", help="Ollama address (loopback only) (default: %(default)s)")
    p.add_argument("-p", "--prompt", help="answer this question and exit (also: pipe it on stdin)")
    p.add_argument("--ctx", type=int, default=8192, help="context length in tokens (default: 8192)")
    p.add_argument("--gpu-layers", type=int, default=-1, help="layers offloaded to the GPU; -1 = all when there is one (default: -1)")
    p.add_argument("--threads", type=int, help="CPU threads (default: llama.cpp's choice)")
    p.add_argument("--mode", choices=sorted(MODES), default="rigorous", help="sampling preset (default: rigorous)")
    p.add_argument("--task", choices=sorted(TASKS), help="task preset added to the system prompt")
    think = p.add_mutually_exclusive_group()
    think.add_argument("--think", dest="think", action="store_const", const=True, help="Qwen3 thinking on")
    think.add_argument("--no-think", dest="think", action="store_const", const=False, help="Qwen3 thinking off")
    p.add_argument("--hide-thinking", action="store_true", help="show only a one-line note while the model thinks")
    p.add_argument("--rag", action="store_true", help="retrieve relevant articles into the prompt and list them as sources")
    p.add_argument("--max-tokens", type=int, default=2048, help="longest answer in tokens (default: 2048)")
    p.add_argument("--as-of", type=_day, metavar="YYYY-MM-DD",
                   help="answer and check citations against the versions in force on this date (old cases); default: today")
    return p


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def open_backend(args: argparse.Namespace):
    from ecmiip.chat.backends import LlamaCppBackend, OllamaBackend
    from ecmiip.chat.open_model import parse_spec

    if args.ollama:
        return OllamaBackend(args.ollama, host=args.ollama_host, num_ctx=args.ctx)
    kind, target, adapter = parse_spec(str(args.model))
    if kind == "hf":  # try a fine-tune before exporting it
        from ecmiip.chat.transformers_backend import TransformersBackend

        return TransformersBackend(target, adapter=adapter, n_ctx=args.ctx)
    return LlamaCppBackend(args.model, n_ctx=args.ctx, n_gpu_layers=args.gpu_layers, n_threads=args.threads)


class Chat:
    """One session against one backend; every error leaves the session and its history intact."""

    def __init__(self, backend, args: argparse.Namespace, out: Console, err: Console) -> None:
        self.backend, self.args, self.out, self.err = backend, args, out, err
        self.as_of: date | None = getattr(args, "as_of", None)
        self.session = Session(system=system_prompt(args.task, as_of=self.as_of), mode=args.mode, task=args.task,
                               think=args.think)
        self.stop = threading.Event()

    # --- one question -----------------------------------------------------------------------------
    def ask(self, question: str, *, interactive: bool) -> Turn | None:
        from ecmiip.core.citations import verify_citations

        context, sources = "", []
        if self.args.rag:
            from ecmiip.chat.rag import format_context, retrieve
            from ecmiip.chat.rag import sources as cite

            found = retrieve(question, as_of=self.as_of)
            context, sources = format_context(found, self.as_of), cite(found)
        budget = self.backend.context_size - min(self.args.max_tokens, ANSWER_RESERVE, self.backend.context_size // 4)
        dropped = self.session.fit(question, budget, lambda m: self.backend.count_tokens(m, self.session.think), context)
        if dropped:
            self.err.print(f"[yellow]上下文将满：已移除最早的 {dropped} 轮对话。[/]")
        turn = Turn(question, sources=sources)
        self.stop.clear()
        stream = self.backend.stream(
            self.session.messages(question, context),
            think=self.session.think,
            sampling=dict(MODES[self.session.mode]),
            max_tokens=self.args.max_tokens,
            stop_event=self.stop,
        )
        try:
            if interactive:
                with StreamView(self.out, show_thinking=not self.args.hide_thinking) as view:
                    for delta in stream:
                        view.add(delta.kind, delta.text)
                        turn.answer += delta.text if delta.kind == "content" else ""
            else:
                for delta in stream:
                    if delta.kind == "content":
                        turn.answer += delta.text
                        self.out.file.write(delta.text)
                        self.out.file.flush()
                self.out.file.write("\n")
        except KeyboardInterrupt:
            self.stop.set()
            for _ in stream:  # let the backend wind down cleanly
                pass
            self.err.print("[yellow]已停止；本轮回答未计入对话历史。[/]")
            return None
        if sources:
            self.err.print("[dim]参考条文：" + "；".join(sources) + "[/]", soft_wrap=True)
        checks = verify_citations(turn.answer, self.as_of)
        turn.flagged = [c.text for c in checks if not c.ok]
        self.report_citations(checks)
        self.session.turns.append(turn)
        return turn

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
        name, *rest = shlex.split(line[1:]) or [""]
        handler = getattr(self, f"cmd_{name}", None)
        if handler is None:
            raise InputError(f"未知命令 /{name}；输入 /help 查看命令")
        handler(rest)

    def cmd_help(self, rest: list[str]) -> None:
        self.out.print(HELP.format(tasks="、".join(TASKS)), markup=False)

    def cmd_reset(self, rest: list[str]) -> None:
        self.session.reset()
        self.out.print("对话已清空。")

    def cmd_system(self, rest: list[str]) -> None:
        if rest:
            self.session.system = " ".join(rest)
        self.out.print(Markdown(f"**系统提示**\n\n{self.session.system}"))

    def cmd_mode(self, rest: list[str]) -> None:
        if rest:
            if rest[0] not in MODES:
                raise InputError(f"模式只能是 {'、'.join(MODES)}")
            self.session.mode = rest[0]
        self.out.print(f"模式：{self.session.mode} {MODES[self.session.mode]}")

    def cmd_task(self, rest: list[str]) -> None:
        if rest:
            if rest[0] not in TASKS:
                raise InputError(f"任务只能是：{'、'.join(TASKS)}")
            self.session.task = rest[0]
            self.session.system = system_prompt(rest[0], as_of=self.as_of)
        self.out.print(f"任务：{self.session.task or '通用'}")

    def cmd_think(self, rest: list[str]) -> None:
        self.session.think = not (self.session.think is not False)
        self.out.print(f"思考模式：{'开' if self.session.think else '关'}")

    def cmd_law(self, rest: list[str]) -> None:
        from ecmiip.core.citations import lookup, validity_note

        if len(rest) not in (2, 3):
            raise InputError("用法：/law 专利法 11 [版本，如 2008 或 2019修正]")
        article = lookup(rest[0], rest[1], as_of=self.as_of, version=rest[2] if len(rest) == 3 else None)
        note = validity_note(article, self.as_of)
        live = article.doc.in_force_on(self.as_of or date.today())
        self.out.print(Markdown(f"**{article.citation}**（{article.version}）\n\n{article.text}"))
        self.out.print(f"[{'green' if live else 'bold yellow'}]{note}[/]", soft_wrap=True, highlight=False)

    def cmd_draft(self, rest: list[str]) -> None:
        from ecmiip.chat.templates import TEMPLATES, draft_prompt, missing_fields

        if not rest or rest[0] not in TEMPLATES:
            raise InputError(f"用法：/draft 模板名；可选：{'、'.join(TEMPLATES)}")
        template, values = TEMPLATES[rest[0]], {}
        try:
            for f in missing_fields(template, values):  # the example is a hint; a blank answer stays 【待填写】
                values[f.name] = input(f"{f.prompt}（例：{f.example}；留空则标为【待填写】）：").strip()
        except (KeyboardInterrupt, EOFError):
            self.out.print("\n已取消起草；对话保持不变。")
            return
        self.ask(draft_prompt(template, values, self.as_of), interactive=True)

    def cmd_save(self, rest: list[str]) -> None:
        fmt = rest[0] if rest and rest[0] in ("md", "json") else "md"
        name = rest[1] if len(rest) > 1 else (rest[0] if rest and rest[0] not in ("md", "json") else None)
        path = save(self.session, transcript_path(name, fmt), fmt)
        self.out.print(f"已保存：{path}")

    def cmd_load(self, rest: list[str]) -> None:
        if not rest:
            raise InputError(f"用法：/load 名称（{transcripts_dir()} 中 /save json 保存的文件）")
        self.session = load(transcript_path(rest[0], "json"))
        self.out.print(f"已载入 {len(self.session.turns)} 轮对话。")

    def cmd_stats(self, rest: list[str]) -> None:
        s = self.backend.last_stats
        table = Table(show_header=False)
        if s is not None:
            table.add_row("prompt", f"{s.prompt_tokens} tokens, {s.prompt_tokens_per_s:.1f} tokens/s")
            table.add_row("decode", f"{s.decode_tokens} tokens, {s.decode_tokens_per_s:.1f} tokens/s")
            table.add_row("context", f"{s.ctx_used} / {s.ctx_size} tokens")
        table.add_row("history", f"{len(self.session.turns)} turns")
        self.out.print(table)

    # --- the loop ---------------------------------------------------------------------------------
    def repl(self) -> int:
        self.out.print("[bold]ec-miip[/] 知识产权法律助手（离线）。/help 查看命令，Ctrl-D 退出。")
        while True:
            try:
                line = self.out.input("[bold green]> [/]")
            except EOFError:
                self.out.print()
                return 0
            except KeyboardInterrupt:
                self.out.print()
                continue
            if not line.strip():
                continue
            try:
                if line.startswith("/"):
                    self.command(line)
                else:
                    self.ask(line, interactive=True)
            except EcmiipError as e:
                self.err.print(f"[bold red]error:[/] {e}", highlight=False)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out, err = Console(), Console(stderr=True)
    try:
        backend = open_backend(args)
    except EcmiipError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        return 1
    try:
        chat = Chat(backend, args, out, err)  # reads the statute store: a damaged user store is an error line
        prompt = args.prompt if args.prompt is not None else (None if sys.stdin.isatty() else sys.stdin.read())
        if prompt is not None:
            return 0 if chat.ask(prompt.strip(), interactive=False) is not None else 130
        return chat.repl()
    except EcmiipError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        return 1
    finally:
        backend.close()


if __name__ == "__main__":
    sys.exit(main())
