"""Read path: rollups -> answers. `window` and `zones` turn a request into buckets, `index`
holds the rollups in memory (each table a `grain`, every entity's accounts in a `tree`), `query`
answers (the `Store`), `http` and `keys` serve it."""
