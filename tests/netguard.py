"""A network guard for tests: any connection (or name lookup) to a non-loopback address fails, and is
recorded so that a test can assert that none was even attempted.

In this process: ``with no_network() as attempts: ...`` (or the ``no_network`` fixture pattern below).
In child processes: ``guard_env(folder)`` writes a ``sitecustomize.py`` that installs the same guard at
interpreter start and returns the environment to run the child with; attempts are appended to
``folder/attempts.log``. HF_HUB_OFFLINE is switched *off* there on purpose: the code itself must
not try, not merely be stopped by the hub library's own switch.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class NetworkBlocked(ConnectionRefusedError):
    """Raised instead of opening a connection to a non-loopback address."""


def _is_local(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host)
    if host in ("localhost", "", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name other than localhost: resolving it is already network traffic


def _install(record) -> dict:
    """Patch socket; returns the originals."""
    saved = {
        "connect": socket.socket.connect,
        "connect_ex": socket.socket.connect_ex,
        "create_connection": socket.create_connection,
        "getaddrinfo": socket.getaddrinfo,
    }

    def refuse(what: str, where: object):
        record(f"{what} {where!r}")
        raise NetworkBlocked(f"network access blocked by the test guard: {what} {where!r}")

    def target(address) -> object:
        return address[0] if isinstance(address, tuple) else address

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(target(address)):
            refuse("connect", address)
        return saved["connect"](self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(target(address)):
            refuse("connect_ex", address)
        return saved["connect_ex"](self, address)

    def create_connection(address, *args, **kwargs):
        if not _is_local(target(address)):
            refuse("create_connection", address)
        return saved["create_connection"](address, *args, **kwargs)

    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host):
            refuse("getaddrinfo", host)
        return saved["getaddrinfo"](host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.create_connection = create_connection
    socket.getaddrinfo = getaddrinfo
    return saved


def _uninstall(saved: dict) -> None:
    socket.socket.connect = saved["connect"]
    socket.socket.connect_ex = saved["connect_ex"]
    socket.create_connection = saved["create_connection"]
    socket.getaddrinfo = saved["getaddrinfo"]


@contextlib.contextmanager
def no_network() -> Iterator[list[str]]:
    """In this process: non-loopback connections raise ``NetworkBlocked``; yields the attempts made."""
    attempts: list[str] = []
    saved = _install(attempts.append)
    try:
        yield attempts
    finally:
        _uninstall(saved)


_SITECUSTOMIZE = '''\
# Written by tests/netguard.py: no connection from this interpreter may leave the machine.
import importlib.util as _util

_spec = _util.spec_from_file_location("_ecmiip_netguard", {module!r})
_netguard = _util.module_from_spec(_spec)
_spec.loader.exec_module(_netguard)

def _record(line, _log={log!r}):
    with open(_log, "a", encoding="utf-8") as f:
        f.write(line + "\\n")

_netguard._install(_record)
'''


def guard_env(folder: Path) -> dict[str, str]:
    """Environment variables for a child Python that cannot reach the network (see the module docstring).

    ``folder`` receives ``sitecustomize.py`` and ``attempts.log``; read the attempts with ``attempts(folder)``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        _SITECUSTOMIZE.format(module=str(Path(__file__).resolve()), log=str(folder / "attempts.log")), encoding="utf-8"
    )
    path = os.pathsep.join([str(folder), str(ROOT)])
    return {"PYTHONPATH": path, "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0",
            "ECMIIP_NETGUARD": str(folder)}


def attempts(folder: Path) -> list[str]:
    log = folder / "attempts.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []
