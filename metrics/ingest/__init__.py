"""Write path, stage 1: landing files -> normalized observations.

`layout` says where files belong, `catalog` reads the entity tree, `adapters` turn each
platform's native body into rows, `normalize` does one landing partition with every line
accounted for, and `steps` are what the Dagster assets call.
"""
