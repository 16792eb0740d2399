"""Read path: rollups -> answers. `window` and `zones` turn a request into buckets, `index`
holds the rollups in memory, `query` answers (the `Store`), `http` and `keys` serve it."""
