"""Thin command-line entry points: one module per `unival` subcommand."""
