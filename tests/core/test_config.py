"""Configuration: keywords over environment over file over defaults; unknown keys are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from qdispatch import ConfigurationError, Provider, load_settings

CONFIG = """
executor = "process"
store = "file"
max_circuits_per_task = 7

[executors.process]
max_workers = 2

[executors.thread]
max_workers = 3

[stores.file]
path = "{path}"

[backends.aer]
seed_simulator = 5
"""


def write_config(home: Path, text: str) -> Path:
    path = home / "config.toml"
    path.write_text(text)
    return path


def test_defaults_without_configuration() -> None:
    settings = load_settings()
    assert (settings.executor, settings.store, settings.max_circuits_per_task) == ("thread", "sqlite", 100)
    assert settings.autoload and not settings.autosave


def test_file_sets_plugins_and_their_options(qdispatch_home: Path) -> None:
    write_config(qdispatch_home, CONFIG.format(path=qdispatch_home / "filejobs"))
    with Provider() as provider:
        assert (provider.executor_name, provider.store_name) == ("process", "file")
        assert provider.executor().max_workers == 2  # type: ignore[attr-defined]
        assert provider.store.path == qdispatch_home / "filejobs"  # type: ignore[attr-defined]
        backend = provider.get_backend("aer")
        assert backend.device.seed_simulator == 5  # type: ignore[attr-defined]
        assert provider.settings.max_circuits_per_task == 7


def test_environment_overrides_the_file(qdispatch_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(qdispatch_home, CONFIG.format(path=qdispatch_home / "filejobs"))
    monkeypatch.setenv("QDISPATCH_EXECUTOR", "thread")
    monkeypatch.setenv("QDISPATCH_EXECUTORS__THREAD__MAX_WORKERS", "5")
    monkeypatch.setenv("QDISPATCH_STORES__FILE__PATH", str(qdispatch_home / "envjobs"))
    with Provider() as provider:
        assert provider.executor_name == "thread"
        assert provider.executor().max_workers == 5  # type: ignore[attr-defined]
        assert provider.store.path == qdispatch_home / "envjobs"  # type: ignore[attr-defined]


def test_keywords_override_the_environment(qdispatch_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(qdispatch_home, CONFIG.format(path=qdispatch_home / "filejobs"))
    monkeypatch.setenv("QDISPATCH_EXECUTORS__THREAD__MAX_WORKERS", "5")
    monkeypatch.setenv("QDISPATCH_STORE", "sqlite")
    with Provider(
        executor="thread",
        executor_options={"max_workers": 1},
        store="file",
        store_options={"path": str(qdispatch_home / "kwjobs")},
    ) as provider:
        assert provider.executor().max_workers == 1  # type: ignore[attr-defined]
        assert provider.store.path == qdispatch_home / "kwjobs"  # type: ignore[attr-defined]
        assert provider.get_backend("aer", seed_simulator=9).device.seed_simulator == 9  # type: ignore[attr-defined]


def test_config_path_can_be_moved_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text('executor = "process"\n')
    monkeypatch.setenv("QDISPATCH_CONFIG", str(elsewhere))
    assert load_settings().executor == "process"
    assert load_settings().source == str(elsewhere)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('executer = "thread"\n', "unknown key 'executer'"),
        ("executor = [\n", "not valid TOML"),
        ("executor = 3\n", "'executor' must be a str"),
        ("max_circuits_per_task = 0\n", "at least 1"),
        ("[executors]\nthread = 4\n", r"\[executors.thread\] must be a table"),
        ('autosave = "yes"\n', "'autosave' must be a bool"),
    ],
)
def test_bad_files_name_the_problem(qdispatch_home: Path, text: str, message: str) -> None:
    write_config(qdispatch_home, text)
    with pytest.raises(ConfigurationError, match=message):
        Provider()


def test_unknown_plugin_option_is_named(qdispatch_home: Path) -> None:
    write_config(qdispatch_home, "[executors.thread]\nmax_wrokers = 2\n")
    with pytest.raises(
        ConfigurationError, match=r"unknown option 'max_wrokers' for executor 'thread'; accepted: max_workers"
    ):
        Provider()
    with pytest.raises(ConfigurationError, match="unknown option 'colour' for backend 'aer'"):
        Provider(executor="process").get_backend("aer", colour="blue")


def test_malformed_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QDISPATCH_WIDGETS__X__Y", "1")
    with pytest.raises(ConfigurationError, match="QDISPATCH_WIDGETS__X__Y"):
        load_settings()
