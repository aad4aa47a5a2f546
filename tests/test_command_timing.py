"""The benchmarks' command timing runs commands as a user's installation does."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from syncmotion_lab.command_timing import compile_sources, user_environment


def test_user_environment_lets_python_keep_bytecode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    environment = user_environment(SYNCMOTION_CACHE_DIR="/tmp/cache")
    assert "PYTHONDONTWRITEBYTECODE" not in environment
    assert environment["PYTHONUNBUFFERED"] == "1"
    assert environment["SYNCMOTION_CACHE_DIR"] == "/tmp/cache"


def test_compile_sources_writes_the_package_bytecode(tmp_path: Path) -> None:
    module = tmp_path / "syncmotion" / "commands" / "thing.py"
    module.parent.mkdir(parents=True)
    module.write_text("VALUE = 1\n")
    compile_sources(tmp_path)
    assert Path(importlib.util.cache_from_source(str(module))).is_file()
