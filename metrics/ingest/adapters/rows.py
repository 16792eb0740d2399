"""The row writers every platform shares, and the one place a post id is built."""

from __future__ import annotations

from typing import Any

from metrics.ingest.adapters.protocol import Context, Reject, Sink
from metrics.ingest.adapters.values import Bad, count
from metrics.model.reasons import INVALID_BODY, MISSING_FOLLOWER_COUNT

Media = tuple[str | None, str | None, str | None]
"""(media_kind, media_type, media_product_type), as the registry's MEDIA columns."""
NO_MEDIA: Media = (None, None, None)


def text(value: object) -> str | None:
    """A field the platform says as a string; anything else is not said (null, never invented)."""
    return value if type(value) is str else None


def post_row(
    out: Sink,
    ctx: Context,
    post_id: str,
    values: tuple[int | None, ...],
    published_at: int | None,
    media: Media,
) -> None:
    """One snapshot row; its publication time and media ride along, so the post's sighting is
    aggregated in polars later (normalize._sightings) instead of per record here."""
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
            *media,
        )
    )


def follower_row(out: Sink, ctx: Context, value: object) -> Reject | None:
    """One follower gauge; a missing count (the collector did not ask for the field) or a
    negative one rejects the whole line: a missing count is never a zero."""
    parsed = count(value)
    if isinstance(parsed, Bad):
        return parsed.reject("follower count", value)
    if parsed is None:
        return Reject(MISSING_FOLLOWER_COUNT, "the body has no follower count; ask for the field")
    if parsed < 0:
        return Reject("negative_counter", f"follower count is negative ({parsed})")
    out.followers.append((ctx.account, ctx.platform, ctx.collected_at, ctx.file, ctx.line, parsed))
    return None


def list_of_records(value: object, where: str) -> list[Any] | Reject:
    if not isinstance(value, list):
        return Reject(INVALID_BODY, f"{where} must be a list")
    return value
