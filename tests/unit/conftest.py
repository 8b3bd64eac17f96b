"""Unit tests run the pure core only: no database, network or subprocess (checked)."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest


def _refuse(what: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a unit test must not use {what}: move it to integration/ or e2e/")

    return refuse


@pytest.fixture(autouse=True)
def _pure(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket.socket, "connect", _refuse("the network"))
    monkeypatch.setattr(socket, "create_connection", _refuse("the network"))
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("a subprocess"))
    monkeypatch.setattr(sqlite3, "connect", _refuse("a database"))
    yield
