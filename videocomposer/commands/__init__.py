"""The ``videocomposer`` subcommands: one module each, exposing ``add_parser(subparsers)`` and ``run(args) -> int``.

:mod:`videocomposer.cli` only registers them and dispatches; shared argument helpers are in :mod:`.common`.
"""
