"""Configuration: defaults, a TOML file, environment variables, keywords.

Precedence, highest first: keyword arguments, environment variables, the
configuration file, built-in defaults. Options live under their plugin's name
in every place: ``[executors.process] max_workers = 2`` in the file is
``QDISPATCH_EXECUTORS__PROCESS__MAX_WORKERS=2`` in the environment and
``Provider(executor="process", executor_options={"max_workers": 2})`` in code.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import platformdirs

from qdispatch.errors import ConfigurationError
from qdispatch.stores.paths import UnreadableFileError, read_regular_file

APP_NAME = "qdispatch"
CONFIG_ENV = "QDISPATCH_CONFIG"
ENV_PREFIX = "QDISPATCH_"
DEFAULT_MAX_CIRCUITS_PER_TASK = 100
SECTIONS = ("executors", "stores", "backends")
MAX_CONFIG_BYTES = 1024 * 1024
"""The largest configuration file read (1 MiB); a larger one, a FIFO or a device is refused."""
ENV_SETTINGS = {
    "EXECUTOR": "executor",
    "STORE": "store",
    "AUTOSAVE": "autosave",
    "MAX_CIRCUITS_PER_TASK": "max_circuits_per_task",
    "DISABLED_PLUGINS": "disabled_plugins",
}
"""Environment variables (after ``QDISPATCH_``) that set a top-level setting."""
ENV_OTHERS = ("CONFIG", "DISABLE_PLUGIN_AUTOLOAD")
"""The other ``QDISPATCH_*`` variables qdispatch reads."""


def _nearest(name: str, known: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest known name, or nothing."""
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.7)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """Return the configuration file path: ``$QDISPATCH_CONFIG`` or the user config dir."""
    override = (os.environ if env is None else env).get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def default_data_dir() -> Path:
    """Return the directory where the default stores keep jobs."""
    return platformdirs.user_data_path(APP_NAME)


@attrs.frozen(kw_only=True)
class Settings:
    """The configuration in effect (after merging file, environment and defaults)."""

    executor: str = "thread"
    store: str = "sqlite"
    executors: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    stores: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    backends: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    disabled_plugins: tuple[str, ...] = ()
    autoload: bool = True
    autosave: bool = False
    max_circuits_per_task: int = DEFAULT_MAX_CIRCUITS_PER_TASK
    source: str | None = None

    def options_for(self, section: str, name: str) -> dict[str, Any]:
        """Return a copy of the options configured for plugin ``name`` in ``section``."""
        table: dict[str, dict[str, Any]] = getattr(self, section)
        return dict(table.get(name, {}))


_TOP_LEVEL = {f.name for f in attrs.fields(Settings)} - {"source"}


def _check_type(key: str, value: Any, expected: type | tuple[type, ...], where: str) -> None:
    if not isinstance(value, expected) or (isinstance(value, bool) and expected is int):
        names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
        raise ConfigurationError(f"{where}: {key!r} must be a {names}, not {value!r}")


def _check_store_path(value: Any, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ConfigurationError(f"{what} must be a path (a string), not {value!r}")
    if not value.strip():
        raise ConfigurationError(
            f"{what} is empty, which would make the current directory the store; "
            f"give a path, or remove the option to use the default location"
        )


def settings_from_mapping(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validate a configuration table and return the keyword arguments of :class:`Settings`."""
    unknown = sorted(set(data) - _TOP_LEVEL)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown key {unknown[0]!r}{_nearest(unknown[0], _TOP_LEVEL)}; "
            f"known keys: {', '.join(sorted(_TOP_LEVEL))}"
        )
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("executor", "store"):
            _check_type(key, value, str, where)
            out[key] = value
        elif key in ("autoload", "autosave"):
            _check_type(key, value, bool, where)
            out[key] = value
        elif key == "max_circuits_per_task":
            _check_type(key, value, int, where)
            if value < 1:
                raise ConfigurationError(f"{where}: 'max_circuits_per_task' must be at least 1")
            out[key] = value
        elif key == "disabled_plugins":
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            _check_type(key, value, list, where)
            out[key] = tuple(str(v) for v in value)
        else:  # executors / stores / backends
            _check_type(key, value, dict, where)
            for name, options in value.items():
                if not isinstance(options, dict):
                    raise ConfigurationError(
                        f"{where}: [{key}.{name}] must be a table of options, not {options!r}"
                    )
                if key == "stores" and "path" in options:
                    _check_store_path(options["path"], f"{where}: [stores.{name}] 'path'")
            out[key] = {name: dict(options) for name, options in value.items()}
    return out


def read_config_file(path: Path, *, required: bool = False, named_by_env: bool = False) -> dict[str, Any]:
    """Read and validate a TOML configuration file.

    Only a regular file of at most :data:`MAX_CONFIG_BYTES` is read (a FIFO
    never hangs the caller). A missing file is empty, but an error if
    ``required`` (the caller named it) or ``named_by_env`` (``QDISPATCH_CONFIG``
    named it): a file named on purpose that is not there is a mistake.
    """
    try:
        raw = read_regular_file(path, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        if required:
            raise ConfigurationError(
                f"configuration file {path} does not exist; it was named explicitly: "
                f"create it, or name another file"
            ) from None
        if named_by_env:
            raise ConfigurationError(
                f"configuration file {path} named by {CONFIG_ENV} does not exist; create it (it may be "
                f"empty), fix {CONFIG_ENV}, or unset it to use the default location"
            ) from None
        return {}
    except UnreadableFileError as exc:
        raise ConfigurationError(f"cannot read configuration file: {exc}") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read configuration file {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"configuration file {path} is not UTF-8 text: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"configuration file {path} is not valid TOML: {exc}") from exc
    return settings_from_mapping(data, f"configuration file {path}")


def parse_env_value(text: str) -> Any:
    """Read an environment value as a TOML value (``2``, ``true``, ``"x"``), else as text."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def read_environment(env: Mapping[str, str]) -> dict[str, Any]:
    """Collect settings from ``QDISPATCH_*`` environment variables."""
    data: dict[str, Any] = {}
    for suffix, key in ENV_SETTINGS.items():
        raw = env.get(ENV_PREFIX + suffix)
        if raw:
            data[key] = raw if key in ("executor", "store", "disabled_plugins") else parse_env_value(raw)
    if env.get(ENV_PREFIX + "DISABLE_PLUGIN_AUTOLOAD"):
        data["autoload"] = False
    known_variables = [ENV_PREFIX + suffix for suffix in (*ENV_SETTINGS, *ENV_OTHERS)]
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        if "__" not in name:
            hint = _nearest(name, known_variables) if name not in known_variables else ""
            if hint:  # other tools may use the prefix too: only a near miss is worth a warning
                warnings.warn(
                    f"environment variable {name} is not a qdispatch setting and is ignored{hint}",
                    RuntimeWarning,
                    stacklevel=3,
                )
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 3 or parts[0] not in SECTIONS or not parts[1] or not parts[2]:
            hint = (
                _nearest(parts[0].upper(), [s.upper() for s in SECTIONS]) if parts[0] not in SECTIONS else ""
            )
            raise ConfigurationError(
                f"environment variable {name}: expected QDISPATCH_<SECTION>__<PLUGIN>__<OPTION> "
                f"with SECTION one of {', '.join(s.upper() for s in SECTIONS)}{hint}"
            )
        section, plugin, option = parts
        data.setdefault(section, {}).setdefault(plugin, {})[option] = parse_env_value(raw)
    return settings_from_mapping(data, "environment")


def _merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if key in SECTIONS:
            table = {name: dict(opts) for name, opts in merged.get(key, {}).items()}
            for name, options in value.items():
                table.setdefault(name, {}).update(options)
            merged[key] = table
        elif key == "disabled_plugins":
            merged[key] = tuple(dict.fromkeys([*merged.get(key, ()), *value]))
        else:
            merged[key] = value
    return merged


def load_settings(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Return the settings from the configuration file and the environment.

    :param path: the configuration file; default :func:`default_config_path`.
    :param env: the environment to read; default ``os.environ``.
    """
    env = os.environ if env is None else env
    config_path = Path(path).expanduser() if path is not None else default_config_path(env)
    merged = _merge(
        read_config_file(config_path, required=path is not None, named_by_env=bool(env.get(CONFIG_ENV))),
        read_environment(env),
    )
    return Settings(**merged, source=str(config_path))


def unknown_plugin_names(settings: Settings, available: Mapping[str, Iterable[str]]) -> list[str]:
    """Return a message for each plugin named in ``[executors.X]``, ``[stores.X]``, ``[backends.X]``
    (or ``executor``/``store``) that no installed plugin registered, with the nearest registered name.

    :param available: registered names by section, e.g. ``{"executors": ["thread", "process"], ...}``
        from the plugin manager's catalogue; sections it leaves out are not checked.
    """
    messages = []
    singular = {"executors": "executor", "stores": "store", "backends": "backend"}
    for section in SECTIONS:
        if section not in available:
            continue
        known = sorted(available[section])
        named: list[str] = list(getattr(settings, section))
        if section != "backends":
            named.append(getattr(settings, singular[section]))
        for name in dict.fromkeys(named):
            if name not in known:
                messages.append(
                    f"{settings.source or 'configuration'}: no {singular[section]} named {name!r} is "
                    f"installed{_nearest(name, known)}; available: {', '.join(known) or 'none'}"
                )
    return messages
