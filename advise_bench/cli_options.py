"""Typer options made from the declarations of :mod:`advise_bench.run_options`, for ``cli.py`` and
``analysis/commands.py``.

A command takes its declared options with :func:`takes_options`: its parameter ``options`` stands for them
(in the help, they appear where it is) and receives them as :class:`GivenOptions`, which also makes the
command's :class:`~advise_bench.config.RunConfig`.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from typing import Annotated

import typer

from .backend import choose
from .config import RunConfig
from .run_options import BY_NAME, CommandOption, options_of


def _choose_backend(value: str | None) -> str | None:
    """Runs while the options are parsed, before any command imports Keras."""
    choose(value)
    return value


# --backend must take effect before Keras is imported: an eager callback does it during parsing.
_CALLBACKS = {"backend": {"callback": _choose_backend, "is_eager": True}}


def typer_option(option: CommandOption):
    """The annotation ``Annotated[type, typer.Option(...)]`` of a declared option as one command takes it."""
    return Annotated[option.type, typer.Option(*option.flags, help=option.help, **_CALLBACKS.get(option.name, {}))]


# For the commands that take no other declared option (models, methods, report).
BackendOption = typer_option(BY_NAME["backend"].for_command("models"))


class GivenOptions(dict):
    """The declared options a command was given: name -> the value typed, or the command's default."""

    def __init__(self, command: str, values: dict):
        super().__init__(values)
        self.command = command

    def config_values(self) -> dict:
        """The command's RunConfig fields among them, each parsed from its command-line form (``--shard 0/4``:
        ``(0, 4)``; ``-m a,b``: checked method names)."""
        out = {}
        for option in options_of(self.command):
            if option.in_run_config:
                out[option.name] = _parser(option.parse)(self[option.name]) if option.parse else self[option.name]
        return out

    def run_config(self, **fields) -> RunConfig:
        """The command's RunConfig: :meth:`config_values`, then ``fields``; RunConfig's defaults for the rest."""
        return RunConfig(**{**self.config_values(), **fields})


def _parser(parse):
    if callable(parse):
        return parse
    module, _, name = parse.partition(":")
    return getattr(importlib.import_module(module), name)


def takes_options(command: str):
    """Decorator of a Typer command function: adds the options ``command`` takes (``run_options.options_of``)
    in place of its parameter ``options``, which receives them as :class:`GivenOptions`."""
    declared = options_of(command)

    def decorate(fn):
        own = inspect.signature(fn, eval_str=True)
        if "options" not in own.parameters:
            raise TypeError(f"{fn.__name__}: a command with declared options needs a parameter `options`")
        params = []
        for p in own.parameters.values():
            if p.name != "options":
                params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY))
                continue
            params += [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, default=o.default,
                                         annotation=typer_option(o)) for o in declared]

        @functools.wraps(fn)
        def command_fn(**kwargs):
            given = GivenOptions(command, {o.name: kwargs.pop(o.name) for o in declared})
            return fn(**kwargs, options=given)

        command_fn.__signature__ = own.replace(parameters=params)
        command_fn.__annotations__ = {p.name: p.annotation for p in params}  # Typer reads the type hints too
        return command_fn

    return decorate
