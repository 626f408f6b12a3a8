"""``ecmiip publish``: lay out a Hugging Face hub repository from an export folder, and upload it.

The repository is what ``ollama run hf.co/ORG/NAME:Q4_K_M`` and llama.cpp need: the quantized GGUFs,
the Ollama files ``template``/``system``/``params`` read out of the export's Modelfile (hub_files), the
Modelfile itself and a model card (publish_card). The 16-bit reference GGUF stays out unless asked for:
it is three to four times the size of Q4_K_M and only needed to quantize again.

Everything is checked and laid out before the first byte is written or sent; ``--dry-run OUT`` writes
exactly the folder that would be uploaded (atomically), and the upload sends that same folder. This is,
with ``ecmiip pull``, the only command that uses the network, and only because the user asked.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ecmiip.core.console import console
from ecmiip.core.errors import EcmiipError, InputError
from ecmiip.core.outputs import atomic_dir, check_free_disk, refuse_existing
from ecmiip.quantize.hub_files import HubFiles, hub_files

REPORT_NAME = "export-report.json"  # quantize.export.REPORT_NAME (not imported: that module loads transformers)
REFERENCE_TYPES = ("F16", "BF16", "F32")
LORA = "LoRA"
_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?"
REPO_ID = re.compile(rf"{_REPO_PART}/{_REPO_PART}")


@dataclass
class ExportFolder:
    """What ``ecmiip export`` left in a folder, checked."""

    path: Path
    modelfile: Path
    hub: HubFiles
    quants: dict[str, Path]  # quant type -> GGUF, in QUANT_TYPES order
    reference: Path | None
    report: dict
    lora: Path | None = None  # the adapter as a LoRA GGUF: small, published for users who have the base
    others: list[Path] = field(default_factory=list)  # GGUFs of no known type: not published


@dataclass
class RepoLayout:
    """Repository path -> a local file (hard-linked or copied) or the exact bytes to write."""

    repo_id: str
    files: dict[str, Path | bytes]

    @property
    def total_bytes(self) -> int:
        return sum(len(v) if isinstance(v, bytes) else v.stat().st_size for v in self.files.values())


def quant_types() -> tuple[str, ...]:
    from ecmiip.quantize.quantize import QUANT_TYPES

    return tuple(QUANT_TYPES)


def classify_gguf(path: Path, known: tuple[str, ...]) -> str | None:
    """``NAME-Q4_K_M.gguf`` -> ``Q4_K_M``; ``NAME-F16.gguf`` -> ``F16``; ``NAME-LoRA-F16.gguf`` (``export
    --adapter-gguf``) -> ``LoRA``; any other name -> None."""
    parts = path.stem.rsplit("-", 2)
    suffix = parts[-1].upper() if len(parts) > 1 else ""
    if suffix in REFERENCE_TYPES and len(parts) == 3 and parts[1] == "LoRA":
        return LORA
    return suffix if suffix in known or suffix in REFERENCE_TYPES else None


def read_export(folder: Path) -> ExportFolder:
    """The export folder, or one InputError listing everything that is missing."""
    from ecmiip.quantize.ollama import check_export_dir

    if not folder.exists():
        raise InputError(f"export folder not found: {folder} (run `ecmiip export ... --out {folder}` first)")
    if not folder.is_dir():
        raise InputError(f"{folder} is a file; give the folder `ecmiip export --out` wrote")
    known = quant_types()
    ggufs = sorted(folder.glob("*.gguf"))
    kinds = {p: classify_gguf(p, known) for p in ggufs}
    quants = {q: p for q in known for p, k in kinds.items() if k == q}
    missing = [name for name, ok in (("Modelfile", (folder / "Modelfile").is_file()),
                                     (REPORT_NAME, (folder / REPORT_NAME).is_file()),
                                     (f"a quantized GGUF (*-{{{','.join(known)}}}.gguf)", bool(quants))) if not ok]
    if missing:
        raise InputError(f"{folder} is not a complete ec-miip export: no {', no '.join(missing)} "
                         "(run `ecmiip export` into it first)")
    modelfile = check_export_dir(folder)  # parses as Ollama does; its FROM file exists
    hub = hub_files(modelfile)
    source = (folder / hub.source).resolve()
    if source.parent != folder.resolve() or source.suffix != ".gguf":
        raise InputError(f"{modelfile}: FROM {hub.source} is not a GGUF inside {folder}; the repository holds "
                         "the Modelfile's GGUF beside it (re-run `ecmiip export`)")
    try:
        report = json.loads((folder / REPORT_NAME).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{folder / REPORT_NAME}: not a readable export report ({e}); re-run `ecmiip export`") from None
    if not isinstance(report, dict) or not isinstance(report.get("checks", []), list):
        raise InputError(f"{folder / REPORT_NAME}: not an export report (no list of checks); re-run `ecmiip export`")
    failed = [c.get("name", "?") for c in report.get("checks", []) if isinstance(c, dict) and c.get("passed") is False]
    if failed or report.get("passed") is False:
        raise InputError(f"{folder / REPORT_NAME}: the export failed verification ({', '.join(failed) or 'passed: false'}); "
                         "a model that failed its checks is not published — fix the export first")
    reference = next((p for p, k in kinds.items() if k in REFERENCE_TYPES), None)
    lora = next((p for p, k in kinds.items() if k == LORA), None)
    others = [p for p, k in kinds.items() if k is None]
    return ExportFolder(folder, modelfile, hub, quants, reference, report, lora, others)


def plan_repo(export: ExportFolder, repo_id: str, *, include_reference: bool = False,
              card: str) -> RepoLayout:
    """The repository's files in upload order: GGUFs, Modelfile, Ollama files, model card."""
    check_repo_id(repo_id)
    files: dict[str, Path | bytes] = {p.name: p for p in export.quants.values()}
    served = (export.path / export.hub.source).name
    if export.reference is not None and (include_reference or served == export.reference.name):
        files[export.reference.name] = export.reference
    if export.lora is not None:
        files[export.lora.name] = export.lora
    files["Modelfile"] = export.modelfile.read_bytes()  # byte for byte: FROM names a file beside it
    files.update(export.hub.files())
    files["README.md"] = card.encode("utf-8")
    return RepoLayout(repo_id, files)


def check_repo_id(repo_id: str) -> str:
    if not REPO_ID.fullmatch(repo_id) or "--" in repo_id or ".." in repo_id:
        raise InputError(f"--repo {repo_id!r} is not a hub repository id: expected ORG/NAME, e.g. alice/ec-miip-GGUF")
    return repo_id


def build_layout(folder: Path, repo_id: str, *, include_reference: bool = False, bench: Path | None = None,
                 base_model: str | None = None, license: str | None = None) -> tuple[RepoLayout, ExportFolder]:
    """Everything ``publish`` checks and computes before writing or sending a byte."""
    from ecmiip.core.statutes import store
    from ecmiip.quantize.publish_card import card_info, render_card

    check_repo_id(repo_id)
    export = read_export(folder)
    results = None
    if bench is not None:
        from ecmiip.bench.results import load_results

        if not bench.is_file():
            raise InputError(f"--bench {bench}: no such results file (an `ecmiip bench --out` folder holds results.json)")
        results = load_results(bench)
        if not results["models"]:
            raise InputError(f"--bench {bench}: the results hold no model")
    info = card_info(export, repo_id, base_model=base_model, license=license)
    layout = plan_repo(export, repo_id, include_reference=include_reference, card="")
    card = render_card(export, layout.files, info, as_of=store().as_of.isoformat(), bench=results)
    layout.files["README.md"] = card.encode("utf-8")
    return layout, export


# --- writing the folder ------------------------------------------------------------------------------


def _bytes_to_copy(layout: RepoLayout, target_parent: Path) -> int:
    """Bytes that cannot be hard-linked into ``target_parent`` (another filesystem) and must be copied."""
    probe = target_parent
    while not probe.exists():
        probe = probe.parent
    device = probe.stat().st_dev
    return sum(len(v) if isinstance(v, bytes) else v.stat().st_size if v.stat().st_dev != device else 0
               for v in layout.files.values())


def write_repo(layout: RepoLayout, folder: Path) -> None:
    """Write the layout into an existing empty folder: files hard-linked where possible, else copied."""
    for name, source in layout.files.items():
        target = folder / name
        if isinstance(source, bytes):
            target.write_bytes(source)
            continue
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)


def dry_run(layout: RepoLayout, out: Path, *, force: bool = False) -> Path:
    """Write exactly the repository folder to ``out`` (a temporary sibling renamed when complete)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--dry-run {out} is a file; give a folder name")
    refuse_existing([out], force)
    check_free_disk(out.parent, _bytes_to_copy(layout, out.parent))
    with atomic_dir(out, force=force) as tmp:
        write_repo(layout, tmp)
    return out


@contextlib.contextmanager
def staged(layout: RepoLayout, near: Path) -> Iterator[Path]:
    """The repository folder in a temporary place (beside the export, so GGUFs are hard links)."""
    parent = near.parent if os.access(near.parent, os.W_OK) else Path(tempfile.gettempdir())
    check_free_disk(parent, _bytes_to_copy(layout, parent))
    folder = Path(tempfile.mkdtemp(prefix=".ecmiip-publish-", dir=parent))
    try:
        write_repo(layout, folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- uploading ---------------------------------------------------------------------------------------


def hub_endpoint() -> str:
    """HF_ENDPOINT read now (huggingface_hub freezes it at import), else the public hub."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def find_token() -> str:
    """The token huggingface_hub would use (HF_TOKEN, then `hf auth login`'s file); never printed."""
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise InputError("no Hugging Face token: log in with `hf auth login` (a token with write access), "
                         "or set HF_TOKEN, then rerun")
    return token


def upload(layout: RepoLayout, near: Path, *, private: bool = False, revision: str | None = None,
           token: str | None = None) -> str:
    """Create the repository if needed and upload the layout in one commit; returns the repository URL.

    ``upload_folder`` does the transfer the way huggingface_hub does it (with hf_xet: chunked, deduplicated,
    resumable by running the same command again; progress on stderr).
    """
    from huggingface_hub import HfApi

    token = token or find_token()
    endpoint = hub_endpoint()
    api = HfApi(endpoint=endpoint, token=token)
    repo_id = layout.repo_id
    with _hub_errors(repo_id, endpoint):
        api.create_repo(repo_id, repo_type="model", private=True if private else None, exist_ok=True)
        if revision and revision != "main":
            api.create_branch(repo_id, branch=revision, repo_type="model", exist_ok=True)
        with staged(layout, near) as folder:
            console.print(f"uploading {len(layout.files)} files ({layout.total_bytes / 2**30:.2f} GiB) to "
                          f"{endpoint}/{repo_id}" + (f" (branch {revision})" if revision else ""), highlight=False)
            api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type="model", revision=revision,
                              commit_message="Upload ec-miip export (ecmiip publish)")
    return f"{endpoint}/{repo_id}"


@contextlib.contextmanager
def _hub_errors(repo_id: str, endpoint: str) -> Iterator[None]:
    """huggingface_hub's errors as one line each (the token is never part of them)."""
    from huggingface_hub import errors

    from ecmiip.core.hub import _transport_errors

    try:
        yield
    except errors.HfHubHTTPError as e:
        status = getattr(getattr(e, "response", None), "status_code", None)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        if status == 401:
            raise EcmiipError("the hub refused the token (HTTP 401): log in again with `hf auth login` "
                              "or set a valid HF_TOKEN") from None
        if status == 403:
            raise EcmiipError(f"the token may not write to {repo_id} (HTTP 403): use a token with write access "
                              f"to that namespace, or a --repo under your own name") from None
        raise EcmiipError(f"the hub answered with an error for {repo_id}: {first}") from None
    except _transport_errors() as e:
        raise EcmiipError(f"cannot reach {endpoint} to upload {repo_id}: {type(e).__name__}: {e}") from None
