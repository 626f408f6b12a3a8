"""Model folders built offline once per machine and reused: the demo's base model, the benchmarks' and
the tests' random models.

A build takes seconds to minutes on two CPU cores, so each is kept under :func:`cache_root`, named by
its kind and a digest of its arguments (defaults included) and :data:`CACHE_VERSION`. A build happens
in a temporary folder renamed into place only when complete; concurrent builds of one entry
(pytest-xdist) wait for each other.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ecmiip.core.outputs import atomic_dir

# Bump when a builder's output changes, so stale cache entries are not reused.
CACHE_VERSION = 1

_APACHE_NOTICE = """\
{what}

Licensed under the Apache License, Version 2.0 (the "License"); you may not use these files except in
compliance with the License. You may obtain a copy of the License at
http://www.apache.org/licenses/LICENSE-2.0. Unless required by applicable law or agreed to in writing,
software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR
CONDITIONS OF ANY KIND, either express or implied. See the License for the specific language governing
permissions and limitations under the License.
"""


def cache_root() -> Path:
    """Where built models live: ``$ECMIIP_TEST_CACHE``, else ``~/.cache/ecmiip/models``."""
    env = os.environ.get("ECMIIP_TEST_CACHE")
    root = Path(env) if env else Path.home() / ".cache" / "ecmiip" / "models"
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextlib.contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """Serialise the builds of one cache entry ``name`` across processes, where flock exists."""
    try:
        import fcntl
    except ImportError:  # not POSIX: concurrent builds are still safe, only wasteful
        yield
        return
    with open(cache_root() / f".{name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def cached_build(kind: str, builder: Callable[..., Path], **kwargs: Any) -> Path:
    """The folder ``builder(folder, **kwargs)`` builds, built on the first call and returned on every call.

    Equal arguments share one entry whether or not defaults are spelled out; an argument ``builder``
    does not take raises TypeError before anything is built.
    """
    kwargs = _with_defaults(builder, kwargs)
    root = cache_root()
    final = root / _cache_key(kind, kwargs)
    if final.is_dir():
        return final
    with cache_lock(final.name):
        if final.is_dir():  # another process built it while we waited
            return final
        with atomic_dir(final) as tmp:  # the lock makes its fixed temporary name ours
            builder(tmp, **kwargs)
            spec = json.dumps(_build_spec(kind, kwargs), indent=2)
            (tmp / "ecmiip_build.json").write_text(spec + "\n")
    return final


def write_model_card(out_dir: Path, *, title: str, what: str, body: str) -> None:
    """README.md model card (license in YAML front matter) and a LICENSE notice, as exporters expect."""
    card = f"---\nlicense: apache-2.0\nlibrary_name: transformers\npipeline_tag: text-generation\n---\n\n# {title}\n\n{body}\n"
    (out_dir / "README.md").write_text(card, encoding="utf-8")
    (out_dir / "LICENSE").write_text(_APACHE_NOTICE.format(what=what), encoding="utf-8")


def _build_spec(kind: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """What identifies a build; repr() makes values such as torch dtypes comparable as text."""
    return {"kind": kind, "version": CACHE_VERSION, "kwargs": {k: repr(v) for k, v in sorted(kwargs.items())}}


def _with_defaults(builder: Callable[..., Path], kwargs: dict[str, Any]) -> dict[str, Any]:
    """All keyword arguments of a build, defaults included (binding also rejects unknown ones)."""
    bound = inspect.signature(builder).bind(Path(), **kwargs)
    bound.apply_defaults()
    return {k: v for k, v in bound.arguments.items() if k != "out_dir"}


def _cache_key(kind: str, kwargs: dict[str, Any]) -> str:
    """Folder name for one build: readable kind plus a digest of its arguments and CACHE_VERSION."""
    digest = hashlib.sha256(json.dumps(_build_spec(kind, kwargs), sort_keys=True).encode()).hexdigest()[:12]
    return f"{kind}-{digest}"
