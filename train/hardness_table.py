"""The L1–L4 distribution of statute records per document type: the table in the README's hardness section.

``python -m ecmiip.train.hardness_table`` prints it for the statute store's texts in force (what
``data.statutes: builtin`` trains on; ``--include-superseded`` adds the texts no longer in force);
``--by-title`` gives the levels by title alone (before issue 15) and ``--config`` any HardnessConfig,
so the table can be checked against the rules it describes.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from ecmiip.train.article_hardness import DOC_TYPE_NAMES, DOC_TYPES, document_type
from ecmiip.train.hardness import LEVELS, HardnessConfig, builtin_statutes, label, load_config


def level_counts(records: Iterable[Mapping[str, Any]], config: HardnessConfig,
                 as_of: date | None = None) -> dict[str, Counter]:
    """{document type: Counter of levels} for statute records labelled with ``config``."""
    counts: dict[str, Counter] = {t: Counter() for t in DOC_TYPES}
    for record in records:
        counts[document_type(record["law"], config)][label(record, config, as_of).level] += 1
    return counts


def markdown_table(counts: Mapping[str, Counter]) -> str:
    """Counts and shares per level, one row per document type that has records, and the total."""
    def row(name: str, c: Counter) -> str:
        n = sum(c.values())
        cells = [f"{c[level]} ({100 * c[level] / n:.1f} %)" if n else "0" for level in LEVELS]
        return f"| {name} | {n} | " + " | ".join(cells) + " |"

    lines = ["| document type | articles | " + " | ".join(LEVELS) + " |", "|---" * (2 + len(LEVELS)) + "|"]
    lines += [row(DOC_TYPE_NAMES[t], c) for t, c in counts.items() if sum(c.values())]
    lines.append(row("**all**", sum(counts.values(), Counter())))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecmiip.train.hardness_table", description=__doc__)
    parser.add_argument("--config", type=Path, metavar="YAML", help="HardnessConfig settings")
    parser.add_argument("--by-title", action="store_true", help="level statutes by title alone (before issue 15)")
    parser.add_argument("--include-superseded", action="store_true", help="every stored text, not only those in force")
    parser.add_argument("--as-of", type=date.fromisoformat, metavar="YYYY-MM-DD", help="the day (default: today)")
    args = parser.parse_args(argv)
    config = load_config(args.config) if args.config else HardnessConfig()
    if args.by_title:
        config = replace(config, statute_by_content=False)
    print(markdown_table(level_counts(builtin_statutes(args.as_of, args.include_superseded), config, args.as_of)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
