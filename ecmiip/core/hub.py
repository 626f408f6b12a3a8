"""Base models named by Hugging Face hub id (``Qwen/Qwen3-4B``) as well as by local directory.

The product rule is "no network at run time unless the user asks": :func:`resolve_base` only ever
reads the local Hugging Face cache and fails at once, naming ``ecmiip pull``, when the model is not
there; :func:`pull` (the ``ecmiip pull`` command) is the one place that downloads. Only safetensors
weights are accepted: pickled checkpoints (``*.bin``, ``*.pt``...) can run code when loaded.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import json
import os
import re
from pathlib import Path

from ecmiip.core.errors import DiskSpaceError, InputError

# What a base model needs: config, tokenizer, chat template, safetensors weights, licence and card.
# Never pickled weights (*.bin, *.pt, *.pth, *.ckpt), TF/Flax (*.h5, *.msgpack), ONNX or GGUF.
ALLOW_PATTERNS: list[str] = [
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "*.tiktoken",
    "chat_template.jinja",
    "chat_template.json",
    "additional_chat_templates/*.jinja",
    "*.safetensors",
    "*.safetensors.index.json",
    "LICENSE*",
    "README.md",
]
# Copies of the weights in other layouts that transformers does not load (Mistral's consolidated
# file, Meta's original/ folder, ONNX exports): they would double the download for nothing.
IGNORE_PATTERNS: list[str] = ["original/*", "consolidated*", "onnx/*"]

_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_-])?"
_HUB_ID = re.compile(rf"(?P<repo>{_NAME}/{_NAME})(?:@(?P<rev>[^\s@]+))?")


def is_hub_id(s: str) -> bool:
    """True for ``owner/name`` or ``owner/name@revision`` that is not an existing local path.

    A local path always wins, so a directory that happens to be called ``models/qwen`` is never
    mistaken for a hub repository.
    """
    if not s or Path(s).expanduser().exists():
        return False
    m = _HUB_ID.fullmatch(s)
    return m is not None and "--" not in m["repo"] and ".." not in m["repo"]


def split_hub_id(s: str) -> tuple[str, str | None]:
    """``"Qwen/Qwen3-4B@abc"`` → ``("Qwen/Qwen3-4B", "abc")``; no ``@`` → revision ``None``."""
    repo, _, rev = s.partition("@")
    return repo, rev or None


def hub_cache_dir() -> Path:
    """The hub cache, read from the environment now rather than when huggingface_hub was imported.

    ``huggingface_hub.constants`` freezes ``HF_HUB_CACHE`` at import time; reading the variables at call
    time (same precedence: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME) means a
    changed environment, a test's included, is honoured.
    """
    env = os.environ
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(var):
            return Path(os.path.expandvars(env[var])).expanduser()
    if env.get("HF_HOME"):
        home = Path(os.path.expandvars(env["HF_HOME"])).expanduser()
    else:
        xdg = env.get("XDG_CACHE_HOME") or "~/.cache"
        home = Path(os.path.expandvars(xdg)).expanduser() / "huggingface"
    return home / "hub"


def offline_mode() -> bool:
    """Whether HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) forbids the network, read at call time.

    (huggingface_hub reads it once, at import; its own refusal is recognised in the error instead.)
    """
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def resolve_base(base: str | os.PathLike[str], *, offline: bool | None = None) -> Path:
    """The local directory of a base model given as a directory or as a hub id (``owner/name[@rev]``).

    A hub id is looked up in the local Hugging Face cache only (``local_files_only=True``): no HTTP
    request is ever made here, so an uncached model fails at once instead of hanging on a dead
    network. ``offline`` (default: HF_HUB_OFFLINE) only changes the hint in that error.
    """
    text = os.fspath(base)
    if not is_hub_id(text):
        return _local_dir(Path(text).expanduser())
    repo_id, revision = split_hub_id(text)
    cache = hub_cache_dir()

    from huggingface_hub.errors import LocalEntryNotFoundError

    incomplete = _incomplete_snapshot_error()
    try:
        path = _snapshot(repo_id, revision, cache, local_files_only=True)
    except incomplete as e:
        raise InputError(
            f"the cached copy of {text} in {cache} is incomplete (an interrupted download?); "
            f"finish it with:  ecmiip pull {text}"
        ) from e
    except (LocalEntryNotFoundError, FileNotFoundError) as e:
        offline = offline_mode() if offline is None else offline
        name = repo_id.split("/", 1)[1]
        where = "(needs internet once; unset HF_HUB_OFFLINE for it)" if offline else "(needs internet once)"
        raise InputError(
            f"{text} is not in the local Hugging Face cache ({cache}). Download it first with:  "
            f"ecmiip pull {text}   {where}, or pass a local model directory: --base /path/to/{name}"
        ) from e
    except ValueError as e:  # HFValidationError: not a valid repo id after all
        raise InputError(f"not a valid Hugging Face model id: {text} ({e})") from e
    return check_snapshot(Path(path), text)


def check_snapshot(path: Path, what: str, *, pulled: bool = False) -> Path:
    """Refuse a snapshot that transformers could not load safely: no config, pickles only, missing shards.

    ``pulled``: the snapshot was just downloaded, so anything missing is missing on the hub too.
    """
    if not (path / "config.json").is_file():
        raise InputError(f"{what}: {path} has no config.json; download it again with:  ecmiip pull {what}")
    if not any(path.glob("*.safetensors")):
        pickles = sorted(p.name for p in path.iterdir() if p.name.endswith(_PICKLE_SUFFIXES))
        if pickles:
            raise InputError(
                f"{what} has only PyTorch pickle weights ({', '.join(pickles[:3])}) in {path}: ec-miip loads "
                "safetensors only (pickles can run code when loaded). Use a repository that ships "
                "*.safetensors, or convert the weights to safetensors yourself."
            )
        if pulled:
            raise InputError(
                f"{what} ships no *.safetensors weights on the hub: ec-miip loads safetensors only (pickled "
                "*.bin/*.pt weights can run code when loaded, and are never downloaded). Pick a repository "
                "that ships safetensors."
            )
        raise InputError(
            f"{what} has no safetensors weights in {path}: ec-miip loads safetensors only. If the repository "
            f"has them, download it again with:  ecmiip pull {what}"
        )
    for index in path.glob("*.safetensors.index.json"):
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError, AttributeError) as e:
            raise InputError(f"{what}: unreadable weight index {index}: {e}") from e
        missing = sorted(s for s in shards if not (path / s).is_file())
        if missing:
            raise InputError(
                f"{what}: {len(missing)} weight shard(s) missing from {path} ({', '.join(missing[:3])}); "
                f"finish the download with:  ecmiip pull {what}"
            )
    return path


def pull(repo_id: str, *, revision: str | None = None, token: str | None = None) -> Path:
    """Download a base model's config, tokenizer and safetensors weights into the hub cache.

    The only network use of the toolkit, and only when asked for. With HF_HUB_OFFLINE set, an already
    cached copy is returned and nothing is downloaded. ``repo_id`` may carry ``@revision``.
    """
    repo_id, at_rev = split_hub_id(repo_id)
    if at_rev and revision and at_rev != revision:
        raise InputError(f"two revisions given for {repo_id}: @{at_rev} and --revision {revision}")
    revision = revision or at_rev
    what = f"{repo_id}@{revision}" if revision else repo_id
    if not _HUB_ID.fullmatch(repo_id) or "--" in repo_id or ".." in repo_id:
        raise InputError(f"not a Hugging Face model id: {repo_id} (expected owner/name, e.g. Qwen/Qwen3-4B)")
    cache = hub_cache_dir()
    offline = offline_mode()

    try:
        path = _snapshot(repo_id, revision, cache, local_files_only=offline, token=token)
    except Exception as e:
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            raise DiskSpaceError(f"the disk holding {cache} filled up while downloading {what}") from e
        reason = _download_error(e, what, cache, offline)
        if reason is None:
            raise
        raise InputError(reason) from e
    return check_snapshot(Path(path), what, pulled=not offline)


def _snapshot(repo_id: str, revision: str | None, cache: Path, *, local_files_only: bool,
              token: str | None = None) -> str:
    """The one call into the hub: safetensors, config, tokenizer and template files only (never pickles)."""
    from huggingface_hub import snapshot_download

    return snapshot_download(repo_id, revision=revision, cache_dir=cache, token=token,
                             local_files_only=local_files_only, allow_patterns=ALLOW_PATTERNS,
                             ignore_patterns=IGNORE_PATTERNS)


def snapshot_size(path: Path) -> int:
    """Bytes on disk of a snapshot (its files are symlinks into the cache's blobs; each blob counted once)."""
    seen: set[Path] = set()
    total = 0
    for p in path.rglob("*"):
        if p.is_file():
            real = p.resolve()
            if real not in seen:
                seen.add(real)
                total += real.stat().st_size
    return total


def _local_dir(path: Path) -> Path:
    if not path.exists():
        hint = "" if "/" in str(path) else " (a Hugging Face model is named owner/name, e.g. Qwen/Qwen3-4B)"
        raise InputError(f"model directory not found: {path}{hint}")
    if not path.is_dir():
        raise InputError(f"not a model directory: {path} is a file")
    if not (path / "config.json").is_file():
        raise InputError(f"not a Hugging Face model directory: {path} has no config.json")
    return path


def _incomplete_snapshot_error() -> type[BaseException] | tuple[()]:
    """huggingface_hub's IncompleteSnapshotError, on versions that have it (it subclasses LocalEntryNotFoundError)."""
    from huggingface_hub import errors

    return getattr(errors, "IncompleteSnapshotError", ())


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Connection and timeout errors of whichever HTTP client this huggingface_hub version uses."""
    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError"), ("requests", "RequestException")):
        with contextlib.suppress(ImportError, AttributeError):
            found.append(getattr(importlib.import_module(module), name))
    return tuple(found)


def _download_error(e: Exception, what: str, cache: Path, offline: bool) -> str | None:
    """A one-line reason for a failed download, or None for an error that is not the user's to fix."""
    from huggingface_hub import errors

    repo_id = what.partition("@")[0]
    url = f"https://huggingface.co/{repo_id}"
    if isinstance(e, errors.GatedRepoError):
        return (
            f"{repo_id} is a gated model: accept its licence at {url} while logged in, then authenticate "
            "here with `hf auth login` or set HF_TOKEN"
        )
    if isinstance(e, errors.RevisionNotFoundError):
        return f"revision not found: {what} (check the branch, tag or commit at {url})"
    if isinstance(e, errors.RepositoryNotFoundError):
        return (
            f"model not found on the Hugging Face hub: {repo_id} (check the spelling; if it is private, "
            "authenticate with `hf auth login` or set HF_TOKEN)"
        )
    if isinstance(e, _incomplete_snapshot_error()):
        return f"the cached copy of {what} in {cache} is incomplete and the hub cannot be reached: {e}"
    offline_error = getattr(errors, "OfflineModeIsEnabled", ())
    if isinstance(e, (errors.LocalEntryNotFoundError, offline_error)):
        if offline or isinstance(e, offline_error) or isinstance(e.__cause__, offline_error):
            return (
                f"{what} is not in the local Hugging Face cache ({cache}) and HF_HUB_OFFLINE is set, which "
                "forbids downloading: unset HF_HUB_OFFLINE (and TRANSFORMERS_OFFLINE) to pull it"
            )
        cause = e.__cause__
        detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
        return f"cannot reach the Hugging Face hub to download {what}{detail}: check the internet connection (or proxy)"
    if isinstance(e, errors.HfHubHTTPError):
        response = getattr(e, "response", None)
        status = getattr(response, "status_code", None)
        if status == 401:
            return f"{what}: the hub refused the credentials (HTTP 401); run `hf auth login` or set a valid HF_TOKEN"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return f"the Hugging Face hub answered with an error for {what}: {first}"
    if isinstance(e, _transport_errors()):
        return f"cannot reach the Hugging Face hub to download {what}: {type(e).__name__}: {e}"
    if isinstance(e, errors.HFValidationError):
        return f"not a valid Hugging Face model id: {what} ({e})"
    return None
