"""Consoles (ecmiip.core.console): status on stderr; a command's tables on stdout, unfolded when piped."""

from __future__ import annotations

import sys

from ecmiip.core.console import console, stdout_console


def test_status_goes_to_stderr():
    assert console.stderr


def test_a_piped_table_gets_the_width_asked_for(monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert stdout_console(150).width == 150
    assert not stdout_console(150).stderr
