"""The `metrics` command line: `main` builds the parser, and each subcommand module registers
its own commands (`query`: query, serve and keys; `listing`: ls; `top`; `maintain`), with
`answer` and `checks` beside them and `demo` for `make demo`. `parsing` holds what the parser and
the subcommand modules share, below them all."""
