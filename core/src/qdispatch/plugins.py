"""The plugin manager: loading plugins from entry points and the catalogue they fill."""

from __future__ import annotations

import inspect
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

import attrs
import pluggy

from qdispatch import hookspecs
from qdispatch.errors import ConfigurationError, PluginNotFoundError, QDispatchError

ENTRY_POINT_GROUP = "qdispatch"
"""The entry-point group every qdispatch plugin, built-in or not, registers in."""

DISABLE_AUTOLOAD_ENV = "QDISPATCH_DISABLE_PLUGIN_AUTOLOAD"
"""Set to a non-empty value to load no plugin from entry points."""

DISABLED_PLUGINS_ENV = "QDISPATCH_DISABLED_PLUGINS"
"""Comma-separated entry-point names of plugins never to import."""

Kind = Literal["backend", "executor", "store"]
KINDS: tuple[Kind, ...] = ("backend", "executor", "store")
Factory = Callable[..., Any]
Register = Callable[[str, Factory], None]


@attrs.frozen
class Registration:
    """One catalogue entry: who registered ``name`` and how to build it."""

    kind: Kind
    name: str
    factory: Factory
    plugin: str


@attrs.frozen
class PluginInfo:
    """What ``qdispatch plugins`` shows for one plugin."""

    name: str
    distribution: str | None
    version: str | None
    registers: dict[str, list[str]]
    error: str | None = None


class PluginManager(pluggy.PluginManager):
    """A pluggy manager for the ``qdispatch`` hooks that also keeps the catalogue.

    Use :func:`make_plugin_manager` to build one.
    """

    def __init__(self) -> None:
        super().__init__("qdispatch")
        self.add_hookspecs(hookspecs)
        self.failures: dict[str, BaseException] = {}
        self.entry_points: dict[str, EntryPoint] = {}
        self._catalogue: dict[Kind, dict[str, Registration]] | None = None
        self._devices: dict[tuple[str, str], Any] = {}
        self._listeners: dict[str, tuple[pluggy.HookImpl, ...]] = {}
        self._lock = threading.Lock()

    def load_entry_points(self, disabled: Iterable[str] = ()) -> None:
        """Import and register every plugin of the ``qdispatch`` entry-point group.

        A plugin named in ``disabled`` is blocked and never imported. A plugin
        whose import raises is recorded in :attr:`failures` with a warning;
        the others still load.
        """
        blocked = set(disabled)
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in blocked:
                self.set_blocked(ep.name)
                continue
            if self.has_plugin(ep.name) or self.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
                self.register(plugin, name=ep.name)
                self._check_known_hooks(ep.name)
            except Exception as exc:
                if self.has_plugin(ep.name):
                    self.unregister(name=ep.name)
                self.failures[ep.name] = exc
                warnings.warn(
                    f"qdispatch plugin {ep.name!r} failed to load: {exc}", RuntimeWarning, stacklevel=2
                )
                continue
            self.entry_points[ep.name] = ep
        self._catalogue = None

    def _check_known_hooks(self, plugin_name: str) -> None:
        """Refuse a plugin implementing a hook this qdispatch does not define.

        pluggy's ``check_pending`` would do it for all plugins at once and so
        stop every plugin from loading; here only the offending one is refused.
        """
        for hook_name, caller in vars(self.hook).items():
            if hook_name.startswith("_") or caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin_name == plugin_name and not impl.optionalhook:
                    raise pluggy.PluginValidationError(
                        impl.plugin,
                        f"implements {hook_name!r}, a hook this qdispatch does not define "
                        "(written for another version?)",
                    )

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register ``plugin`` (and forget the catalogue and devices so they are rebuilt)."""
        registered = super().register(plugin, name)
        self._forget()
        return registered

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        """Unregister ``plugin`` (and forget the catalogue and devices so they are rebuilt)."""
        removed = super().unregister(plugin, name)
        self._forget()
        return removed

    def _forget(self) -> None:
        self._catalogue = None
        self._devices = {}
        self._listeners = {}

    def catalogue(self) -> dict[Kind, dict[str, Registration]]:
        """Return every registered backend, executor and store, by kind and name."""
        with self._lock:
            if self._catalogue is None:
                self._catalogue = self._build_catalogue()
            return self._catalogue

    def _build_catalogue(self) -> dict[Kind, dict[str, Registration]]:
        catalogue: dict[Kind, dict[str, Registration]] = {kind: {} for kind in KINDS}
        for kind in KINDS:
            hook = getattr(self.hook, f"register_{kind}s")
            for impl in hook.get_hookimpls():  # registration order: the first name wins
                plugin_name = impl.plugin_name

                def register(name: str, factory: Factory, _p: str = plugin_name, _k: Kind = kind) -> None:
                    if not isinstance(name, str) or not name:
                        raise ConfigurationError(f"plugin {_p!r} registered a {_k} without a name")
                    existing = catalogue[_k].get(name)
                    if existing is not None and existing.plugin != _p:
                        warnings.warn(
                            f"{_k} {name!r} of plugin {_p!r} ignored: plugin "
                            f"{existing.plugin!r} registered it first",
                            RuntimeWarning,
                            stacklevel=2,
                        )
                        return
                    catalogue[_k][name] = Registration(_k, name, factory, _p)

                try:
                    impl.function(register=register)
                except Exception as exc:
                    self.failures.setdefault(plugin_name, exc)
                    warnings.warn(
                        f"qdispatch plugin {plugin_name!r} failed to register {kind}s: {exc}",
                        RuntimeWarning,
                        stacklevel=2,
                    )
        return catalogue

    def names(self, kind: Kind) -> list[str]:
        """Return the sorted names registered for ``kind``."""
        return sorted(self.catalogue()[kind])

    def registration(self, kind: Kind, name: str) -> Registration:
        """Return the registration of ``name``, or raise an error listing the available ones."""
        entries = self.catalogue()[kind]
        if not isinstance(name, str) or name not in entries:
            raise PluginNotFoundError(kind, str(name), entries)
        return entries[name]

    def create(self, kind: Kind, name: str, options: Mapping[str, Any] | None = None) -> Any:
        """Build the ``kind`` named ``name`` with keyword ``options``.

        Unknown option names are a :class:`ConfigurationError` that names them;
        an error the factory raises becomes one too, unless it is already a
        qdispatch error.
        """
        registration = self.registration(kind, name)
        options = dict(options or {})
        check_options(registration, options)
        try:
            return registration.factory(**options)
        except QDispatchError:
            raise
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"invalid options for {kind} {name!r}: {exc}") from exc

    def device(self, name: str, options: Mapping[str, Any] | None = None) -> Any:
        """Return the backend device ``name`` built with ``options``, reusing one built before.

        Devices are kept per plugin manager, so a process builds each
        (backend, options) pair once however many providers and tasks use it.
        """
        options = dict(options or {})
        key = (name, repr(sorted(options.items())))
        with self._lock:
            cached = self._devices.get(key)
        if cached is None:
            cached = self.create("backend", name, options)
            with self._lock:
                cached = self._devices.setdefault(key, cached)
        return cached

    def plugin_infos(self) -> list[PluginInfo]:
        """Describe every loaded or failed plugin, for ``qdispatch plugins``."""
        registers: dict[str, dict[str, list[str]]] = {}
        for kind, entries in self.catalogue().items():
            for entry in entries.values():
                registers.setdefault(entry.plugin, {}).setdefault(f"{kind}s", []).append(entry.name)
        infos = []
        for name, plugin in self.list_name_plugin():
            if plugin is None:
                continue
            dist = self.entry_points[name].dist if name in self.entry_points else None
            infos.append(
                PluginInfo(
                    name=name,
                    distribution=dist.name if dist else None,
                    version=dist.version if dist else None,
                    registers={k: sorted(v) for k, v in sorted(registers.get(name, {}).items())},
                    error=repr(self.failures[name]) if name in self.failures else None,
                )
            )
        for name, exc in self.failures.items():
            if not self.has_plugin(name):
                ep = next(iter(entry_points(group=ENTRY_POINT_GROUP, name=name)), None)
                dist = ep.dist if ep is not None else None
                infos.append(
                    PluginInfo(
                        name=name,
                        distribution=dist.name if dist else None,
                        version=dist.version if dist else None,
                        registers={},
                        error=f"{type(exc).__name__}: {exc}",
                    )
                )
        return sorted(infos, key=lambda info: info.name)

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call a lifecycle hook one implementation at a time.

        An implementation that raises is reported as a ``RuntimeWarning`` naming
        its plugin; the other implementations are still called.
        """
        impls = self._listeners.get(hook_name)
        if impls is None:  # looked up once per hook until a plugin comes or goes
            impls = self._listeners[hook_name] = tuple(getattr(self.hook, hook_name).get_hookimpls())
        for impl in impls:
            try:
                impl.function(*[kwargs[arg] for arg in impl.argnames])
            except Exception as exc:
                warnings.warn(
                    f"qdispatch plugin {impl.plugin_name!r} raised in {hook_name}: "
                    f"{type(exc).__name__}: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )


def check_options(registration: Registration, options: Mapping[str, Any]) -> None:
    """Raise a :class:`ConfigurationError` naming options the factory does not take."""
    try:
        params = inspect.signature(registration.factory).parameters.values()
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    accepted = {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ConfigurationError(
            f"unknown option {', '.join(map(repr, unknown))} for {registration.kind} "
            f"{registration.name!r}; accepted: {', '.join(sorted(accepted)) or 'none'}"
        )


def disabled_from_env() -> list[str]:
    """Return the plugin names listed in ``QDISPATCH_DISABLED_PLUGINS``."""
    return [n.strip() for n in os.environ.get(DISABLED_PLUGINS_ENV, "").split(",") if n.strip()]


def make_plugin_manager(
    *, autoload: bool | None = None, disabled: Iterable[str] = ()
) -> PluginManager:
    """Return a new plugin manager.

    :param autoload: load plugins from entry points; ``None`` means yes unless
        ``QDISPATCH_DISABLE_PLUGIN_AUTOLOAD`` is set.
    :param disabled: plugin names to block, in addition to those in
        ``QDISPATCH_DISABLED_PLUGINS``.
    """
    pm = PluginManager()
    if autoload is None:
        autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
    if autoload:
        pm.load_entry_points([*disabled, *disabled_from_env()])
    return pm


_default: PluginManager | None = None
_default_lock = threading.Lock()


def get_plugin_manager() -> PluginManager:
    """Return this process's shared plugin manager, built from the configuration on first use."""
    global _default
    with _default_lock:
        if _default is None:
            from qdispatch.config import load_settings

            settings = load_settings()
            _default = make_plugin_manager(
                autoload=settings.autoload, disabled=settings.disabled_plugins
            )
        return _default


def reset_plugin_manager() -> None:
    """Forget the shared plugin manager (the next use rebuilds it)."""
    global _default
    with _default_lock:
        _default = None
