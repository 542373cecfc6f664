"""Subcommands: every module here defines ``add_commands(subparsers)``, found at start-up."""
