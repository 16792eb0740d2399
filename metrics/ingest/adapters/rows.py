"""The row writers every platform shares, and the one place a post id is built."""

from __future__ import annotations

from typing import Any

from metrics.ingest.adapters.protocol import Context, Reject, Sink
from metrics.ingest.adapters.values import Bad, count


def post_row(
    out: Sink,
    ctx: Context,
    post_id: str,
    values: tuple[int | None, ...],
    published_at: int | None,
    media_kind: str | None,
) -> None:
    """One snapshot row; its publication time and media kind ride along, so the post's
    sighting is aggregated in polars later (normalize._sightings) instead of per record here."""
    out.posts.append(
        (
            post_id,
            ctx.platform,
            ctx.account,
            ctx.collected_at,
            ctx.file,
            ctx.line,
            *values,
            published_at,
            media_kind,
        )
    )


def follower_row(out: Sink, ctx: Context, value: object) -> Reject | None:
    """One follower gauge; a missing or negative count rejects the whole line."""
    parsed = count(value)
    if isinstance(parsed, Bad):
        return parsed.reject("follower count", value)
    if parsed is None:
        return Reject("invalid_envelope", "the follower count is missing")
    if parsed < 0:
        return Reject("negative_counter", f"follower count is negative ({parsed})")
    out.followers.append((ctx.account, ctx.platform, ctx.collected_at, ctx.file, ctx.line, parsed))
    return None


def list_of_records(value: object, where: str) -> list[Any] | Reject:
    if not isinstance(value, list):
        return Reject("invalid_envelope", f"{where} must be a list")
    return value
