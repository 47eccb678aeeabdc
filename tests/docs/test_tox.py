"""tox.ini runs what ``python3 dev.py test`` runs.

Every directory holding tests is in an env, and every distribution has its own.
"""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tox_ini() -> configparser.ConfigParser:
    """Return tox.ini, parsed without interpolation (``{posargs}`` stays as it is)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini", encoding="utf-8")
    return parser


def envs() -> dict[str, list[list[str]]]:
    """Return ``{env name: its commands, each split into words}`` for every ``[testenv:NAME]``."""
    ini = tox_ini()
    return {
        section.removeprefix("testenv:"): [
            shlex.split(line) for line in ini[section].get("commands", "").splitlines() if line.strip()
        ]
        for section in ini.sections()
        if section.startswith("testenv:")
    }


def pytest_paths() -> dict[Path, str]:
    """Return ``{directory: env}`` for every path an env passes to pytest."""
    found = {}
    for env, commands in envs().items():
        for words in commands:
            if words and words[0] == "pytest":
                for word in words[1:]:
                    if not word.startswith(("-", "{")):
                        found[(ROOT / word).resolve()] = env
    return found


def directories_with_tests() -> list[Path]:
    """Return every directory holding a ``test_*.py`` module (outside virtual environments and builds)."""
    skip = {".venv", ".tox", "build", "site", "node_modules"}
    return sorted(
        {
            path.parent
            for top in (ROOT / "tests", ROOT / "plugins")
            for path in top.rglob("test_*.py")
            if not skip & set(path.relative_to(ROOT).parts)
        }
    )


@pytest.mark.parametrize("directory", directories_with_tests(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_test_directory_is_in_an_env(directory: Path) -> None:
    covered = pytest_paths()
    assert any(directory == path or path in directory.parents for path in covered), (
        f"{directory.relative_to(ROOT)} holds tests but no tox env runs them; "
        "add it to an env's pytest command in tox.ini"
    )


def test_every_env_is_listed_and_every_listed_env_exists() -> None:
    env_list = tox_ini()["tox"]["env_list"].replace("\n", ",").split(",")
    listed = {name.strip() for name in env_list if name.strip()}
    assert listed == set(envs()), f"env_list {sorted(listed)} and the [testenv:*] sections differ"


def test_every_distribution_has_an_env() -> None:
    plugins = {p.parent.name.removeprefix("qdispatch-") for p in (ROOT / "plugins").glob("*/pyproject.toml")}
    missing = sorted({"core", *plugins} - set(envs()))
    assert not missing, f"distributions without a tox env: {', '.join(missing)}"


def test_lint_runs_what_dev_py_runs() -> None:
    assert envs()["lint"] == [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]]
    dev = (ROOT / "dev.py").read_text(encoding="utf-8")
    for call in ('"ruff", "check", "."', '"ruff", "format", "--check", "."', '"mypy"'):
        assert call in dev, f"dev.py test does not run {call}"
