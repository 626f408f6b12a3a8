"""What a base model says about itself: licence, base model, languages (for GGUF metadata and the Modelfile)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", re.S)


@dataclass
class ModelCard:
    license: str | None = None
    license_text: str | None = None
    base_model: str | None = None
    languages: list[str] = field(default_factory=list)


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def read_model_card(model_dir: Path) -> ModelCard:
    """Front matter of README.md and the LICENSE file; a malformed card is ignored, not fatal."""
    card = ModelCard()
    readme = model_dir / "README.md"
    if readme.is_file():
        m = _FRONT_MATTER.match(readme.read_text(encoding="utf-8", errors="replace"))
        try:
            meta = yaml.safe_load(m.group(1)) if m else None
        except yaml.YAMLError:
            meta = None
        if isinstance(meta, dict):
            card.license = next(iter(_as_list(meta.get("license"))), None)
            card.base_model = next(iter(_as_list(meta.get("base_model"))), None)
            card.languages = _as_list(meta.get("language"))
    for name in ("LICENSE", "LICENSE.txt", "LICENSE.md"):
        path = model_dir / name
        if path.is_file():
            card.license_text = path.read_text(encoding="utf-8", errors="replace").strip()
            break
    return card
