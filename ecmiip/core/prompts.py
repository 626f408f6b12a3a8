"""The legal system prompt and sampling defaults, shared by export (Modelfile), chat and bench.

Kept in one place so the Ollama model, the terminal client and the benchmark all ask the model the
same way; the paper's advice is a low temperature for rigorous legal reasoning.
"""

from __future__ import annotations

from datetime import date

from ecmiip.core.errors import InputError

LEGAL_SYSTEM_PROMPT = """你是 EC-MIIP，一名中国知识产权法律助手，熟悉专利、商标、著作权、反不正当竞争（含商业秘密）、植物新品种、集成电路布图设计等领域的法律、行政法规和司法解释。

回答时请遵守：
1. 先梳理案件事实和争议焦点，再列出适用的法律规定，最后给出结论（事实 → 适用法律 → 结论）。
2. 引用法条时使用《法律名》第X条的格式，例如《中华人民共和国专利法》第十一条；只引用你确信存在的条文，不要编造条号或条文内容。
3. 区分法律明确规定、司法实践中的通常做法和学理观点；对不确定之处或需要更多事实才能判断的地方，明确说明。
4. 法律可能已经修改，请提示用户核对现行有效的版本。
5. 你的回答仅供参考，不能替代执业律师的法律意见；涉及重大权益时，建议咨询专业律师。"""

# Rigorous legal answers: Qwen3's recommended thinking-mode sampling, with a slightly lower temperature.
SAMPLING_DEFAULTS: dict[str, float | int] = {
    "temperature": 0.6,
    "top_p": 0.95,
    "top_k": 20,
    "min_p": 0.0,
    "repeat_penalty": 1.05,
}

def system_user(user: str, system: str = LEGAL_SYSTEM_PROMPT) -> list[dict]:
    """The two-message conversation every one-shot question is (bench items, the demo, the teacher)."""
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# The context length wherever the caller does not choose one (the Modelfile's num_ctx, the chat client's
# --ctx, the engines, the teacher): long enough for a judgment excerpt plus an answer, small enough for
# an 8 GB laptop with a 4B Q4_K_M model.
DEFAULT_NUM_CTX = 8192

# Sampling presets of the chat client. The paper: a low temperature for rigorous legal reasoning, a
# higher one for drafting, where varied wording helps and the facts come from the user.
MODES: dict[str, dict[str, float | int]] = {
    "rigorous": dict(SAMPLING_DEFAULTS),
    "drafting": {"temperature": 0.9, "top_p": 0.95, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1},
}

# System-prompt additions for the paper's four jobs and two everyday IP tasks. Every article named
# here exists in the statute database (tests/test_citations.py checks).
TASKS: dict[str, str] = {
    "学理问答": "当前任务：学理问答。先给出概念的定义及其法律依据，再逐项说明构成要件或要点，"
    "区分法律明文规定、司法解释、司法实践和学理观点（通说与少数说）；可以用简短的例子说明，"
    "不要虚构学者观点、文献或案例出处。",
    "行为性质分析": "当前任务：行为性质分析。按以下顺序分析：行为事实 → 可能涉及的权利及其保护范围 → "
    "逐项对照侵权或违法的构成要件 → 抗辩与例外（如合理使用、先用权、权利用尽、合法来源、现有技术） → "
    "定性结论与法律后果（民事、行政、刑事责任；刑事责任见《中华人民共和国刑法》第二百一十三条至第二百二十条）。事实不足以定性时，列出还需要查明的事实。",
    "案例解析": "当前任务：案例解析。依次写出：案情要点、争议焦点、适用的法律和司法解释、"
    "对每个争议焦点的分析、结论（或裁判结果预测），以及对当事人的实务建议。"
    "不要编造案号、法院、当事人或判决内容；用户未提供的事实明确说明是假设。",
    "文书撰写": "当前任务：法律文书撰写。按该类文书的规范格式起草（标题、当事人信息、正文、落款、日期），"
    "语言准确、克制、无歧义；用户未提供的信息用【待填写】标出，不编造事实、金额、日期或案号；"
    "引用的法条必须真实存在；文末列出需要用户核对或补充的事项。",
    "合同条款审查": "当前任务：合同条款审查。逐条审查用户提供的条款：指出风险点（权利归属、许可范围与期限、"
    "独占或排他性、费用与支付、保密、违约责任、争议解决与管辖），说明所依据的法律规定，标注风险等级"
    "（高/中/低），并给出可以直接替换的修改条款；对可能无效的约定（如《中华人民共和国民法典》"
    "第八百五十条规定的非法垄断技术的技术合同）单独说明。",
    "专利权利要求比对": "当前任务：专利权利要求比对（侵权判定）。以权利要求的内容确定保护范围"
    "（《中华人民共和国专利法》第六十四条），说明书及附图只用于解释权利要求；先把权利要求拆分为技术特征，"
    "再与被诉侵权技术方案逐一对照并列成比对表，逐项判断相同、等同或缺失，适用全面覆盖原则"
    "（《最高人民法院关于审理侵犯专利权纠纷案件应用法律若干问题的解释》第七条）；"
    "最后考虑现有技术抗辩、先用权等抗辩事由并给出结论。",
}


def store_note(as_of: date | None = None) -> str:
    """What the model must know about the statute store: how current it is, the date answers are
    for, and the laws whose text in force the store lacks (so it says so instead of citing old numbers)."""
    from ecmiip.core.statutes import store

    s, day = store(), as_of or date.today()
    lines = [f"【法条库说明】离线法条库的效力信息核对至{s.as_of.isoformat()}；请按{day.isoformat()}有效的法律回答，"
             "引用法条时写明所依据的版本（如《中华人民共和国专利法》（2020修正）第十一条）。"]
    stale = []
    for law in s.by_law:
        if s.current(law, day) is None and (old := s.latest(law, day)) is not None:
            by = f"已被{old.superseded_by}取代" if old.superseded_by else "已失效"
            stale.append(f"《{law}》（{old.version}）{by}")
    if stale:
        lines.append("以下法律在该日期有效的文本未收录于法条库，涉及时说明其已修订或失效、请用户核对现行条文，"
                     "不要把旧版条号当作现行法：" + "；".join(stale) + "。")
    return "\n".join(lines)


def system_prompt(task: str | None = None, as_of: date | None = None, store: bool = True) -> str:
    """The legal system prompt, the task preset's instructions when one is chosen, and (for the chat
    client) a note on how current the statute store is."""
    if task is not None and task not in TASKS:
        raise InputError(f"未知任务：{task}；可选：{'、'.join(TASKS)}")
    parts = [LEGAL_SYSTEM_PROMPT, *([TASKS[task]] if task else []), *([store_note(as_of)] if store else [])]
    return "\n\n".join(parts)
