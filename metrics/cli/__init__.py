"""The `metrics` command line: `main` (every subcommand), `query` (query, serve, keys) and
`demo`."""
