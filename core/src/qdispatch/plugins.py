"""The plugin manager: loading plugins from entry points and the catalogue they fill."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Generator, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal, cast

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

BUILTIN_DISTRIBUTIONS = frozenset({"qdispatch", "qdispatch-aer", "qdispatch-aqt", "qdispatch-dask"})
"""The distributions whose plugins are qdispatch's own: their names win over a third party's."""

LIFECYCLE_HOOKS = frozenset(
    {
        "job_created",
        "job_submitted",
        "job_status_changed",
        "job_progress",
        "job_finished",
        "job_persisted",
        "job_restored",
    }
)
"""The hooks called for every job; each implementation is guarded (see :func:`guard_hookimpl`)."""

Kind = Literal["backend", "executor", "store"]
KINDS: tuple[Kind, ...] = ("backend", "executor", "store")
Factory = Callable[..., Any]
Register = Callable[..., None]
"""``register(name, factory, **bound)``: ``factory`` is a callable or a ``"module:attribute"`` path
imported on first use; ``bound`` are keyword arguments always passed to it (not user options)."""


@attrs.frozen
class Registration:
    """One catalogue entry: who registered ``name`` and how to build it.

    The factory's options are declared once, by the factory itself (a class's
    ``__init__`` or a function): :meth:`parameters` reads them from its
    signature, less the ``bound`` keywords the plugin fixed at registration.
    """

    kind: Kind
    name: str
    factory: Factory | str
    plugin: str
    bound: Mapping[str, Any] = attrs.field(factory=dict)

    def resolve(self) -> Factory:
        """Return the factory, importing it first if it was registered as ``"module:attribute"``."""
        if callable(self.factory):
            return self.factory
        module_name, _, attribute = self.factory.partition(":")
        try:
            target: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as exc:
            raise ConfigurationError(
                f"{self.kind} {self.name!r} of plugin {self.plugin!r} cannot be loaded from "
                f"{self.factory!r}: {exc}"
            ) from exc
        if not callable(target):
            raise ConfigurationError(f"{self.kind} {self.name!r}: {self.factory!r} is not callable")
        return target  # type: ignore[no-any-return]

    @property
    def loaded(self) -> bool:
        """Whether the factory can be had without importing anything new."""
        return callable(self.factory) or self.factory.partition(":")[0] in sys.modules

    def parameters(self) -> dict[str, inspect.Parameter] | None:
        """Return the options the factory takes by name (``None``: it takes any, through ``**kwargs``)."""
        try:
            params = inspect.signature(self.resolve()).parameters.values()
        except (TypeError, ValueError):
            return None
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return None
        return {
            p.name: p
            for p in params
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in self.bound
        }

    def build(self, options: Mapping[str, Any]) -> Any:
        """Call the factory with ``options`` and the bound keywords."""
        return self.resolve()(**{**options, **self.bound})


_running: dict[int | None, tuple[str, str, float]] = {}


def running_hook(thread_id: int | None) -> tuple[str, str, float] | None:
    """Return ``(plugin, hook, since)`` for the guarded hook implementation thread ``thread_id`` is in."""
    return _running.get(thread_id)


def _hook_failed(plugin: str, hook: str, exc: BaseException) -> None:
    warnings.warn(
        f"qdispatch plugin {plugin!r} raised in {hook}: {type(exc).__name__}: {exc}",
        RuntimeWarning,
        stacklevel=3,
    )


def guard_hookimpl(impl: pluggy.HookImpl, hook: str) -> None:
    """Make ``impl`` warn (naming its plugin) instead of raising, so the other plugins and the job go on.

    The guard replaces the implementation's function in place, so the hook is
    still called through pluggy: LIFO order, ``tryfirst``/``trylast``,
    wrappers and hook-call monitoring all hold. Wrappers are guarded on both
    sides of their ``yield``. ``SystemExit`` is caught too: a plugin must not
    end a worker or the program from a hook.
    """
    function = impl.function
    plugin = impl.plugin_name
    if getattr(function, "__qdispatch_guarded__", False):
        return

    def plain(*args: Any) -> Any:
        me = threading.get_ident()
        _running[me] = (plugin, hook, time.monotonic())
        try:
            return function(*args)
        except (Exception, SystemExit) as exc:
            _hook_failed(plugin, hook, exc)
            return None
        finally:
            _running.pop(me, None)

    def wrapper(*args: Any) -> Generator[None, Any, Any]:
        inner = cast(Generator[None, Any, Any], function(*args))
        try:
            next(inner)
        except (Exception, SystemExit, StopIteration) as exc:
            if not isinstance(exc, StopIteration):
                _hook_failed(plugin, hook, exc)
            return (yield)
        try:
            outcome = yield
        except BaseException as exc:  # an inner implementation failed: let the wrapper see it
            try:
                inner.throw(exc)
            except StopIteration as stop:
                return stop.value
            except BaseException as raised:
                if raised is not exc:
                    _hook_failed(plugin, hook, raised)
                raise exc from None
            raise exc
        try:
            inner.send(outcome)
        except StopIteration as stop:
            return stop.value if impl.wrapper else None
        except (Exception, SystemExit) as exc:
            _hook_failed(plugin, hook, exc)
            return outcome if impl.wrapper else None
        inner.close()
        _hook_failed(plugin, hook, RuntimeError("the wrapper yielded more than once"))
        return outcome if impl.wrapper else None

    guarded: Callable[..., Any] = wrapper if (impl.wrapper or impl.hookwrapper) else plain
    guarded.__qdispatch_guarded__ = True  # type: ignore[attr-defined]
    setattr(impl, "function", guarded)  # noqa: B010 (pluggy marks the attribute final; the guard is deliberate)


@attrs.frozen
class PluginInfo:
    """What ``qdispatch plugins`` shows for one plugin."""

    name: str
    distribution: str | None
    version: str | None
    registers: dict[str, list[str]]
    error: str | None = None
    clashes: tuple[str, ...] = ()
    """Names this plugin registered that another plugin kept (a built-in wins)."""
    disabled: bool = False


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
        self.generation = 0
        """Counts registrations and unregistrations, so callers can cache what depends on them."""
        self._plain_hookexec = self._inner_hookexec
        self.clashes: list[str] = []
        """Names a plugin registered that another one (a built-in, or the first) kept."""
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
            except (Exception, SystemExit) as exc:  # sys.exit() at import must not end the program
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
        """Register ``plugin``, guarding its lifecycle hooks; forget the catalogue and devices."""
        registered = super().register(plugin, name)
        if registered is not None:
            for caller in self.get_hookcallers(plugin) or ():
                if caller.name in LIFECYCLE_HOOKS:
                    for impl in caller.get_hookimpls():
                        if impl.plugin is plugin:
                            guard_hookimpl(impl, caller.name)
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
        self.generation += 1

    @property
    def monitored(self) -> bool:
        """Whether hook calls are being monitored or traced (``add_hookcall_monitoring``)."""
        return self._inner_hookexec is not self._plain_hookexec

    def implementers(self, hook_name: str) -> frozenset[str]:
        """Return the names of the plugins implementing ``hook_name``."""
        caller = getattr(self.hook, hook_name, None)
        return (
            frozenset(impl.plugin_name for impl in caller.get_hookimpls())
            if caller is not None
            else frozenset()
        )

    def catalogue(self) -> dict[Kind, dict[str, Registration]]:
        """Return every registered backend, executor and store, by kind and name."""
        with self._lock:
            if self._catalogue is None:
                self._catalogue = self._build_catalogue()
            return self._catalogue

    def is_builtin(self, plugin_name: str) -> bool:
        """Whether ``plugin_name`` came from one of qdispatch's own distributions."""
        ep = self.entry_points.get(plugin_name)
        dist = ep.dist if ep is not None else None
        return dist is not None and dist.name in BUILTIN_DISTRIBUTIONS

    def _build_catalogue(self) -> dict[Kind, dict[str, Registration]]:
        """Ask every plugin what it offers; a built-in's name wins, then the first registered."""
        catalogue: dict[Kind, dict[str, Registration]] = {kind: {} for kind in KINDS}
        self.clashes = []
        for kind in KINDS:
            hook = getattr(self.hook, f"register_{kind}s")
            impls = sorted(hook.get_hookimpls(), key=lambda impl: not self.is_builtin(impl.plugin_name))
            for impl in impls:
                plugin_name = impl.plugin_name

                def register(
                    name: str, factory: Factory | str, _p: str = plugin_name, _k: Kind = kind, /, **bound: Any
                ) -> None:
                    if not isinstance(name, str) or not name:
                        raise ConfigurationError(f"plugin {_p!r} registered a {_k} without a name")
                    if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
                        raise ConfigurationError(
                            f"plugin {_p!r} registered {_k} {name!r} with {factory!r}, "
                            "neither a callable nor a 'module:attribute' path"
                        )
                    existing = catalogue[_k].get(name)
                    if existing is not None and existing.plugin != _p:
                        why = "a built-in" if self.is_builtin(existing.plugin) else "registered first"
                        clash = (
                            f"{_k} {name!r} of plugin {_p!r} ignored: plugin {existing.plugin!r} ({why}) "
                            "has that name"
                        )
                        self.clashes.append(clash)
                        warnings.warn(clash, RuntimeWarning, stacklevel=2)
                        return
                    catalogue[_k][name] = Registration(_k, name, factory, _p, dict(bound))

                try:
                    impl.function(register=register)
                except (Exception, SystemExit) as exc:
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
            error = PluginNotFoundError(kind, str(name), entries)
            blocked = sorted(n for n, p in self.list_name_plugin() if p is None)
            if blocked:
                error.message += (
                    f" (disabled plugins, which may offer it: {', '.join(blocked)}; "
                    f"see {DISABLED_PLUGINS_ENV} and 'disabled_plugins' in the configuration)"
                )
            raise error
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
            return registration.build(options)
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
                infos.append(
                    PluginInfo(name=name, distribution=None, version=None, registers={}, disabled=True)
                )
                continue
            dist = self.entry_points[name].dist if name in self.entry_points else None
            infos.append(
                PluginInfo(
                    name=name,
                    distribution=dist.name if dist else None,
                    version=dist.version if dist else None,
                    registers={k: sorted(v) for k, v in sorted(registers.get(name, {}).items())},
                    error=repr(self.failures[name]) if name in self.failures else None,
                    clashes=tuple(c for c in self.clashes if f" of plugin {name!r} ignored" in c),
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


def check_options(registration: Registration, options: Mapping[str, Any], *, lazily: bool = False) -> None:
    """Raise a :class:`ConfigurationError` naming options the factory does not take.

    :param lazily: skip the check if it would import the factory's module (it
        is checked again when the object is built).
    """
    if lazily and not registration.loaded:
        return
    accepted = registration.parameters()
    if accepted is None:
        return
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigurationError(
            f"unknown option {', '.join(map(repr, unknown))} for {registration.kind} "
            f"{registration.name!r}; accepted: {', '.join(sorted(accepted)) or 'none'}"
        )


def disabled_from_env() -> list[str]:
    """Return the plugin names listed in ``QDISPATCH_DISABLED_PLUGINS``."""
    return [n.strip() for n in os.environ.get(DISABLED_PLUGINS_ENV, "").split(",") if n.strip()]


def make_plugin_manager(*, autoload: bool | None = None, disabled: Iterable[str] = ()) -> PluginManager:
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
            _default = make_plugin_manager(autoload=settings.autoload, disabled=settings.disabled_plugins)
        return _default


def reset_plugin_manager() -> None:
    """Forget the shared plugin manager (the next use rebuilds it)."""
    global _default
    with _default_lock:
        _default = None
