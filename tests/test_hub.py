"""Base models by hub id: the local cache is used, an uncached model fails at once and never touches the network."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import huggingface_hub  # noqa: F401  imported before any test sets HF_HUB_OFFLINE, which it reads only once
import numpy as np
import pytest
from safetensors.numpy import save_file

from ecmiip.cli import main
from ecmiip.core import hub
from ecmiip.core.errors import InputError
from ecmiip.core.hub import ALLOW_PATTERNS, IGNORE_PATTERNS, is_hub_id, pull, resolve_base

MAIN = "a" * 40
V1 = "b" * 40


@pytest.fixture
def hf_home(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face home for this test only; the hub cache is ``<home>/hub``."""
    home = tmp_path / "hf"
    home.mkdir()
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(home))
    return home


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test on any attempt to resolve a host name or open a connection."""

    def boom(*args, **kwargs):
        pytest.fail(f"network access attempted: {args[1:] or kwargs}")

    monkeypatch.setattr(socket.socket, "connect", boom)
    monkeypatch.setattr(socket.socket, "connect_ex", boom)
    monkeypatch.setattr(socket, "getaddrinfo", boom)
    monkeypatch.setattr(socket, "create_connection", boom)


def _snapshot_files(d: Path, *, weights: str = "safetensors") -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps({"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"]}))
    (d / "tokenizer.json").write_text(json.dumps({"version": "1.0", "model": {"type": "BPE"}}))
    (d / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    if weights == "safetensors":
        save_file({"lm_head.weight": np.zeros((4, 4), dtype=np.float32)}, str(d / "model.safetensors"))
    elif weights == "bin":
        (d / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")


def _cache_repo(cache: Path, repo_id: str, commit: str, *, ref: str | None = "main", weights: str = "safetensors") -> Path:
    """Lay out a repo the way huggingface_hub does: blobs, snapshots/<commit> of symlinks, refs/<ref>."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    staging = repo / "staging"
    _snapshot_files(staging, weights=weights)
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    (repo / "blobs").mkdir(exist_ok=True)
    for f in staging.iterdir():
        blob = repo / "blobs" / f"{commit[:8]}-{f.name}"
        f.rename(blob)
        (snap / f.name).symlink_to(os.path.relpath(blob, snap))
    staging.rmdir()
    if ref:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / ref).write_text(commit)  # no newline, as huggingface_hub writes it
    return snap


# --- hub ids ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("s", ["Qwen/Qwen3-4B", "Qwen/Qwen3-4B@main", "meta-llama/Llama-3.2-1B@" + MAIN, "a/b"])
def test_is_hub_id(s):
    assert is_hub_id(s)


@pytest.mark.parametrize("s", ["", "Qwen3-4B", "./Qwen/Qwen3-4B", "/models/qwen", "a/b/c", "a--b/c", "a/../b", "~/x/y", "C:/x"])
def test_is_not_hub_id(s):
    assert not is_hub_id(s)


def test_an_existing_path_is_never_a_hub_id(tmp_path, monkeypatch):
    (tmp_path / "Qwen" / "Qwen3-4B").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert not is_hub_id("Qwen/Qwen3-4B")


def test_cache_dir_is_read_from_the_environment_at_call_time(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hub.hub_cache_dir() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    assert hub.hub_cache_dir() == tmp_path / "cache"


# --- (a) not cached: fail fast, name `ecmiip pull`, no network --------------------------------------------


@pytest.mark.parametrize("offline", ["1", None])
def test_uncached_hub_id_fails_fast_without_network(hf_home, no_network, monkeypatch, offline):
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", offline)
    start = time.monotonic()
    with pytest.raises(InputError) as e:
        resolve_base("Qwen/Qwen3-4B")
    assert time.monotonic() - start < 5
    msg = str(e.value)
    assert "Qwen/Qwen3-4B is not in the local Hugging Face cache" in msg
    assert str(hf_home / "hub") in msg
    assert "ecmiip pull Qwen/Qwen3-4B" in msg
    assert "--base /path/to/Qwen3-4B" in msg
    assert "\n" not in msg
    assert ("unset HF_HUB_OFFLINE" in msg) == bool(offline)


def test_uncached_revision_names_it_in_the_pull_hint(hf_home, no_network):
    _cache_repo(hf_home / "hub", "Qwen/Qwen3-4B", MAIN)
    with pytest.raises(InputError, match=r"ecmiip pull Qwen/Qwen3-4B@v2"):
        resolve_base("Qwen/Qwen3-4B@v2")


def test_pull_with_hf_hub_offline_is_one_line_without_traceback(tmp_path):
    """Through the real CLI in a fresh process, with sockets disabled there too."""
    guard = textwrap.dedent(
        """
        import socket, sys
        def boom(*a, **k):
            raise SystemExit("NETWORK ACCESS ATTEMPTED")
        socket.socket.connect = boom
        socket.getaddrinfo = boom
        from ecmiip.cli import main
        sys.exit(main(["pull", "Qwen/Qwen3-4B"]))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN")}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1", COLUMNS="300")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", guard], capture_output=True, text=True, env=env, timeout=60)
    assert time.monotonic() - start < 30
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr.strip()
    assert "Traceback" not in err and "NETWORK ACCESS" not in err
    assert err.startswith("error:") and "\n" not in err, err
    assert "HF_HUB_OFFLINE" in err and "Qwen/Qwen3-4B" in err
    assert proc.stdout == ""


# --- (b) a cached copy is used -----------------------------------------------------------------------------


def test_cached_snapshot_is_used_offline(hf_home, no_network):
    snap = _cache_repo(hf_home / "hub", "Owner/Name", MAIN)
    assert resolve_base("Owner/Name") == snap
    assert (resolve_base("Owner/Name") / "config.json").is_file()


def test_revision_forms(hf_home, no_network):
    cache = hf_home / "hub"
    main_snap = _cache_repo(cache, "Owner/Name", MAIN)
    v1_snap = _cache_repo(cache, "Owner/Name", V1, ref="v1")
    assert resolve_base("Owner/Name") == main_snap
    assert resolve_base("Owner/Name@main") == main_snap
    assert resolve_base("Owner/Name@v1") == v1_snap
    assert resolve_base(f"Owner/Name@{V1}") == v1_snap  # a commit hash needs no ref


def test_hf_hub_cache_wins_over_hf_home(hf_home, tmp_path, monkeypatch, no_network):
    other = tmp_path / "elsewhere"
    snap = _cache_repo(other, "Owner/Name", MAIN)
    monkeypatch.setenv("HF_HUB_CACHE", str(other))
    assert resolve_base("Owner/Name") == snap


def test_tiny_model_fixture_works_from_a_hub_cache(hf_home, no_network, tiny_qwen3_dir):
    """A real (tiny) model laid out as a cache snapshot resolves to a directory transformers can load."""
    import shutil

    from transformers import AutoConfig

    snap = hf_home / "hub" / "models--Qwen--Qwen3-Tiny" / "snapshots" / MAIN
    shutil.copytree(tiny_qwen3_dir, snap)
    (snap.parent.parent / "refs").mkdir()
    (snap.parent.parent / "refs" / "main").write_text(MAIN)
    got = resolve_base("Qwen/Qwen3-Tiny")
    assert got == snap
    assert AutoConfig.from_pretrained(got).model_type == "qwen3"


def test_incomplete_shards_are_refused(hf_home, no_network):
    snap = _cache_repo(hf_home / "hub", "Owner/Name", MAIN)
    index = {"metadata": {}, "weight_map": {"a": "model.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (snap / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(InputError, match=r"1 weight shard\(s\) missing .*model-00002-of-00002.safetensors"):
        resolve_base("Owner/Name")


def test_snapshot_known_incomplete_by_the_hub_is_refused(hf_home, no_network):
    from huggingface_hub import errors

    if not hasattr(errors, "IncompleteSnapshotError"):
        pytest.skip("this huggingface_hub keeps no tree listing")
    cache = hf_home / "hub"
    _cache_repo(cache, "Owner/Name", MAIN)
    trees = cache / "models--Owner--Name" / "trees"
    trees.mkdir()
    files = {n: {"size": 1, "blob_id": "x"} for n in ("config.json", "model.safetensors", "tokenizer.json", "merges.txt")}
    (trees / f"{MAIN}.json").write_text(json.dumps({"format_version": 1, "files": files}))
    with pytest.raises(InputError, match=r"incomplete.*ecmiip pull Owner/Name"):
        resolve_base("Owner/Name")


# --- (c) local directories -----------------------------------------------------------------------------------


def test_local_dir_is_returned_as_is(tmp_path, no_network):
    _snapshot_files(tmp_path / "m")
    assert resolve_base(tmp_path / "m") == tmp_path / "m"
    assert resolve_base(str(tmp_path / "m")) == tmp_path / "m"


def test_local_dir_looking_like_a_hub_id_wins(tmp_path, monkeypatch, no_network):
    _snapshot_files(tmp_path / "Qwen" / "Qwen3-4B")
    monkeypatch.chdir(tmp_path)
    assert resolve_base("Qwen/Qwen3-4B") == Path("Qwen/Qwen3-4B")


def test_local_dir_without_config_is_named(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(InputError, match=rf"{tmp_path / 'm'} has no config.json"):
        resolve_base(tmp_path / "m")


def test_missing_local_dir_is_named(tmp_path):
    with pytest.raises(InputError, match=rf"model directory not found: {tmp_path / 'nope'}"):
        resolve_base(tmp_path / "nope")
    with pytest.raises(InputError, match=r"owner/name"):
        resolve_base("Qwen3-4B-that-does-not-exist")


# --- (d) safetensors only ---------------------------------------------------------------------------------


def test_pickle_only_snapshot_is_refused(hf_home, no_network):
    _cache_repo(hf_home / "hub", "Owner/Old", MAIN, weights="bin")
    with pytest.raises(InputError, match=r"only PyTorch pickle weights \(pytorch_model.bin\).*safetensors only"):
        resolve_base("Owner/Old")


def test_snapshot_without_weights_is_refused(hf_home, no_network):
    _cache_repo(hf_home / "hub", "Owner/Empty", MAIN, weights="none")
    with pytest.raises(InputError, match=r"no safetensors weights"):
        resolve_base("Owner/Empty")


# --- pull ---------------------------------------------------------------------------------------------------


def test_download_patterns_take_weights_as_safetensors_only():
    from huggingface_hub.utils import filter_repo_objects

    repo = [
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json",
        "merges.txt", "tokenizer.model", "special_tokens_map.json", "chat_template.jinja", "LICENSE", "README.md",
        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json",
        "pytorch_model.bin", "pytorch_model.bin.index.json", "consolidated.safetensors", "original/consolidated.00.pth",
        "tf_model.h5", "flax_model.msgpack", "onnx/model.onnx", "model.ckpt", "training_args.bin", "model.pt",
        "model-q4.gguf", ".gitattributes",
    ]
    kept = set(filter_repo_objects(repo, allow_patterns=ALLOW_PATTERNS, ignore_patterns=IGNORE_PATTERNS))
    assert kept == {
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json",
        "merges.txt", "tokenizer.model", "special_tokens_map.json", "chat_template.jinja", "LICENSE", "README.md",
        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json",
    }


def test_pull_prints_path_and_size(hf_home, monkeypatch, capsys):
    calls = []

    def fake_snapshot_download(repo_id, **kw):
        calls.append((repo_id, kw))
        return str(_cache_repo(Path(kw["cache_dir"]), repo_id, MAIN))

    monkeypatch.setattr("huggingface_hub.snapshot_download", fake_snapshot_download)
    assert main(["pull", "Owner/Name", "--revision", "v1"]) == 0
    (repo_id, kw), = calls
    assert repo_id == "Owner/Name" and kw["revision"] == "v1" and kw["local_files_only"] is False
    assert kw["allow_patterns"] == ALLOW_PATTERNS and kw["cache_dir"] == hf_home / "hub"
    out, err = capsys.readouterr()
    snap = hf_home / "hub" / "models--Owner--Name" / "snapshots" / MAIN
    assert out.strip() == str(snap)
    assert "pulled" in err and "GiB" in err and "bytes" in err


def test_pull_revision_twice_is_refused(hf_home):
    with pytest.raises(InputError, match="two revisions"):
        pull("Owner/Name@v1", revision="v2")


def test_pull_of_a_pickle_only_repo_is_refused(hf_home, monkeypatch):
    monkeypatch.setattr(
        "huggingface_hub.snapshot_download",
        lambda repo_id, **kw: str(_cache_repo(Path(kw["cache_dir"]), repo_id, MAIN, weights="none")),
    )
    with pytest.raises(InputError, match=r"ships no \*\.safetensors weights"):
        pull("Owner/Old")


def _http_error(cls, status: int):
    from huggingface_hub import errors

    url = "https://huggingface.co/api/models/Owner/Name"
    try:
        import httpx2

        response = errors.Response(status, request=httpx2.Request("GET", url))
    except (ImportError, TypeError):  # requests-based huggingface_hub
        response = errors.Response()
        response.status_code = status
    return cls(f"{status} Client Error", response=response)


@pytest.mark.parametrize(
    ("name", "status", "expected"),
    [
        ("GatedRepoError", 403, r"gated model.*hf auth login.*HF_TOKEN"),
        ("RepositoryNotFoundError", 404, r"model not found on the Hugging Face hub: Owner/Name"),
        ("RevisionNotFoundError", 404, r"revision not found: Owner/Name"),
        ("HfHubHTTPError", 401, r"HTTP 401.*hf auth login"),
        ("HfHubHTTPError", 503, r"hub answered with an error for Owner/Name: 503"),
    ],
)
def test_pull_http_errors_become_user_errors(hf_home, monkeypatch, name, status, expected):
    from huggingface_hub import errors

    err = _http_error(getattr(errors, name), status)

    def fail(*a, **k):
        raise err

    monkeypatch.setattr("huggingface_hub.snapshot_download", fail)
    with pytest.raises(InputError, match=expected):
        pull("Owner/Name")


def test_pull_connection_error_is_a_user_error(hf_home, monkeypatch):
    from huggingface_hub import errors

    def fail(*a, **k):
        try:
            raise ConnectionError("Name or service not known")
        except ConnectionError as cause:
            raise errors.LocalEntryNotFoundError("An error happened while trying to locate the files") from cause

    monkeypatch.setattr("huggingface_hub.snapshot_download", fail)
    with pytest.raises(InputError, match=r"cannot reach the Hugging Face hub.*Name or service not known"):
        pull("Owner/Name")


def test_pull_with_hf_hub_offline_returns_a_cached_copy(hf_home, monkeypatch, no_network):
    snap = _cache_repo(hf_home / "hub", "Owner/Name", MAIN)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert pull("Owner/Name") == snap


def test_pull_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["pull", "--help"])
    assert e.value.code == 0
    assert "--revision" in capsys.readouterr().out
