"""Write path, stage 2: observations -> hourly increments -> rollups (spec §3).

`apportion`, `increments` and `followers` are the exact arithmetic, `rollups` builds the five
scopes' buckets, `plan` decides what an incremental run recomputes and rewrites (pure), `refresh`
applies it to keep `post_hourly` and the rollups up to date, and `checks` are the data checks the
assets run on what changed.
"""
