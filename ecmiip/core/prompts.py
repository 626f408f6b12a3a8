"""The legal system prompt and sampling defaults, shared by export (Modelfile), chat and bench.

Kept in one place so the Ollama model, the terminal client and the benchmark all ask the model the
same way; the paper's advice is a low temperature for rigorous legal reasoning.
"""

from __future__ import annotations

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

# Context length written into the Modelfile: long enough for a judgment excerpt plus an answer, small
# enough for an 8 GB laptop with a 4B Q4_K_M model.
DEFAULT_NUM_CTX = 8192
