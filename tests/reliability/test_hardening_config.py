"""Hardening of the configuration loader: special files, missing named files, typos, bad store options."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pytest

from qdispatch import ConfigurationError, Provider, load_settings
from qdispatch.config import MAX_CONFIG_BYTES, Settings, unknown_plugin_names


def test_fifo_as_configuration_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: Any, faults
) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    monkeypatch.setenv("QDISPATCH_CONFIG", str(fifo))
    with pytest.raises(ConfigurationError, match="is a FIFO"):
        tools.call_with_deadline(load_settings, 20, "load_settings")
    faults.record("config", "QDISPATCH_CONFIG naming a FIFO", 1, "ConfigurationError at once, no hang")


def test_device_and_oversized_configuration_files_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tools: Any, faults
) -> None:
    monkeypatch.setenv("QDISPATCH_CONFIG", "/dev/zero")
    with pytest.raises(ConfigurationError, match="is a device"):
        tools.call_with_deadline(load_settings, 20, "load_settings")
    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    monkeypatch.setenv("QDISPATCH_CONFIG", str(big))
    with pytest.raises(ConfigurationError, match="more than the limit"):
        tools.call_with_deadline(load_settings, 20, "load_settings")
    faults.record(
        "config", "QDISPATCH_CONFIG naming /dev/zero, then a file over 1 MiB", 2, "ConfigurationError"
    )


def test_missing_configuration_file_named_explicitly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    for missing in (tmp_path / "no-such-dir" / "config.toml", tmp_path / "config.toml"):
        monkeypatch.setenv("QDISPATCH_CONFIG", str(missing))
        with pytest.raises(ConfigurationError, match="named by QDISPATCH_CONFIG does not exist; create it"):
            load_settings()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[stors.sqlite]\npath = 'x'\n", r"unknown key 'stors' \(did you mean 'stores'\?\)"),
        ("executer = 'thread'\n", r"unknown key 'executer' \(did you mean 'executor'\?\)"),
        (
            "[stores.sqlite]\npath = 42\n",
            r"configuration file .*config.toml: \[stores.sqlite\] 'path' must be a path",
        ),
        ("[stores.file]\npath = ''\n", r"\[stores.file\] 'path' is empty"),
    ],
)
def test_configuration_mistakes_name_key_file_and_nearest(
    qdispatch_home: Path, text: str, message: str
) -> None:
    (qdispatch_home / "config.toml").write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        load_settings()


def test_typod_variable_is_named_with_the_nearest(monkeypatch: pytest.MonkeyPatch, faults) -> None:
    monkeypatch.setenv("QDISPATCH_EXECUTER", "process")
    monkeypatch.setenv("QDISPATCH_SOMETHING_ELSE_ENTIRELY", "1")
    with pytest.warns(
        RuntimeWarning, match=r"QDISPATCH_EXECUTER is not a qdispatch setting .*QDISPATCH_EXECUTOR"
    ) as got:
        load_settings()
    assert not any("SOMETHING_ELSE" in str(w.message) for w in got)
    monkeypatch.delenv("QDISPATCH_EXECUTER")
    monkeypatch.setenv("QDISPATCH_EXECUTERS__THREAD__MAX_WORKERS", "2")
    with pytest.raises(ConfigurationError, match="did you mean 'EXECUTORS'"):
        load_settings()
    faults.record(
        "config",
        "QDISPATCH_EXECUTER and QDISPATCH_EXECUTERS__THREAD__MAX_WORKERS",
        2,
        "warning, then ConfigurationError, each naming the nearest valid name",
    )


def test_unknown_plugin_names_are_reported_with_the_nearest() -> None:
    settings = Settings(executor="thred", executors={"proces": {}}, stores={"sqlite": {}}, source="cfg.toml")
    messages = unknown_plugin_names(
        settings, {"executors": ["thread", "process"], "stores": ["sqlite", "file"]}
    )
    assert messages == [
        "cfg.toml: no executor named 'proces' is installed (did you mean 'process'?); available: process, "
        "thread",
        "cfg.toml: no executor named 'thred' is installed (did you mean 'thread'?); available: process, "
        "thread",
    ]


@pytest.mark.parametrize("timeout", ["nan", "inf", "-1"])
def test_sqlite_timeout_from_the_environment_is_refused(
    qdispatch_home: Path, monkeypatch: pytest.MonkeyPatch, timeout: str
) -> None:
    monkeypatch.setenv("QDISPATCH_STORES__SQLITE__TIMEOUT", timeout)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(
            ConfigurationError,
            match=r"option 'timeout' of store 'sqlite' must be (a finite number above 0|at most)",
        ):
            Provider().store  # noqa: B018 - opening the store is the point
