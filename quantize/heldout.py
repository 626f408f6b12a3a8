"""Legal text the model was never trained on, for the quant ladder's perplexity; statute text for calibration.

Held-out (perplexity, KL, top-1, here and in the export's drift check, ``verify.held_out_text``): the
statutes are the training data (the statute store, and the QA built from it), so perplexity on them
rewards memorisation. The held-out text is taken from ``bench/samples``, the evaluation set, which no
training recipe reads:

1. ``ip_case_samples.jsonl``, field ``facts``: 24 short case summaries written for this project
   (invented facts in ordinary legal Chinese prose; they name articles but quote none), in file order;
2. ``rag_scenarios_heldout.jsonl``, field ``question``: 32 everyday questions written after the
   retrieval tuning, never tuned or trained on.

Not used: LexEval stems (many quote statute articles verbatim), LawBench 1-1 (the articles
themselves), ``rag_scenarios.jsonl`` / ``_dev`` (retrieval was tuned on them).

Calibration (importance matrix): in-domain text that is *not* the held-out text, so the matrix is
never fitted to what it is judged on: statute articles, every 7th of the corpus, a spread across laws.
"""

from __future__ import annotations

import json
from pathlib import Path

from ecmiip.core.errors import InputError

HELDOUT_SOURCES = (("ip_case_samples.jsonl", "facts"), ("rag_scenarios_heldout.jsonl", "question"))
HELDOUT_DESCRIPTION = (
    "bench/samples: ip_case_samples.jsonl facts (24 case summaries written for the project) then "
    "rag_scenarios_heldout.jsonl questions (32); the evaluation set, never trained on"
)
CALIBRATION_DESCRIPTION = "statute corpus, every 7th article (training-domain text, disjoint from the held-out text)"


def heldout_text(samples: Path | None = None) -> str:
    """The held-out texts, one per line, in file order."""
    if samples is None:
        from ecmiip.bench.data import SAMPLES_DIR as samples
    lines: list[str] = []
    for name, field in HELDOUT_SOURCES:
        path = samples / name
        if not path.is_file():
            raise InputError(f"held-out text {path} is missing; reinstall ec-miip (it ships bench/samples)")
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)[field]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise InputError(f"{path}:{number}: not a JSON object with a {field!r} field") from None
            lines.append(str(value).strip())
    return "\n".join(lines)


def calibration_text(max_chars: int = 200_000) -> str:
    """Statute articles (every 7th) with their citations, up to ``max_chars``."""
    from ecmiip.core.statutes import all_articles

    parts, total = [], 0
    for article in all_articles()[::7]:
        parts.append(f"{article.citation}：{article.text}")
        total += len(parts[-1]) + 1
        if total >= max_chars:
            break
    return "\n".join(parts)[:max_chars]


def token_ids(llm, text: str, limit: int) -> list[int]:
    """The first ``limit`` tokens of ``text`` as the GGUF's own tokenizer gives them (its BOS if it adds one)."""
    return llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)[:limit]
