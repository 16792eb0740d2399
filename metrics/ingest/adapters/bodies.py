"""Typed structures of each endpoint's body, holding only the fields the metric mapping uses.

msgspec decodes a body straight into these: the fields nobody reads (captions, paging, titles,
descriptions, thumbnails) are skipped without building a Python object, which is most of what a
plain `json.loads` pays for. The structures are strict about shape (a record is an object, an
insight has a string name and a list of values); a body that does not fit raises
`msgspec.ValidationError` and the endpoint's `loose` path (plain JSON values) takes it, so an odd
body is still judged record by record. Leaf values other than counters are JSON scalars, checked
exactly by `values.count` and friends, whichever path they came from.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from metrics.ingest.adapters.values import INT64_MAX, INT64_MIN

# A lifetime counter as the common case has it: a JSON integer in 0..2^63-1. Anything else (a
# numeric string, a float, a negative or huge number) fails the typed decode, and the plain path
# judges it exactly (values.count).
Count = Annotated[int, Meta(ge=0, le=INT64_MAX)]
NativeId = Annotated[str, Meta(min_length=1)]
# Any other leaf the mapping reads: a JSON scalar, an integer within 64 bits (a larger one, which
# the plain path reads as a float, goes there, so both say it the same way).
Int64 = Annotated[int, Meta(ge=INT64_MIN, le=INT64_MAX)]
Scalar = Int64 | float | str | bool | None


class _Body(Struct, forbid_unknown_fields=False, gc=False):
    pass


# -- TikTok Business API ------------------------------------------------------------------------


class TikTokVideo(_Body):
    item_id: NativeId
    create_time: Scalar = None
    media_type: Scalar = None
    video_views: Count | None = None
    reach: Count | None = None
    likes: Count | None = None
    comments: Count | None = None
    shares: Count | None = None
    favorites: Count | UnsetType | None = UNSET
    favorities: Count | None = None
    total_time_watched: Scalar = None


class TikTokVideoData(_Body):
    videos: list[TikTokVideo]


class TikTokVideoList(_Body):
    code: Scalar = 0
    message: Scalar = ""
    data: TikTokVideoData | None = None


class TikTokAccountData(_Body):
    followers_count: Scalar = None


class TikTokAccount(_Body):
    code: Scalar = 0
    message: Scalar = ""
    data: TikTokAccountData | None = None


# -- Instagram Graph API ------------------------------------------------------------------------


class InsightValue(_Body):
    value: Count | None = None


class MediaInsight(_Body):
    """An insight inside a media node: its media is the node."""

    name: str | None = None
    values: list[InsightValue] | None = None


class Insight(MediaInsight):
    """An insight fetched on its own names its media in `id`."""

    id: str | None = None


class Insights(_Body):
    data: list[MediaInsight]


class InstagramMedia(_Body):
    id: NativeId | None = None
    timestamp: str | None = None
    media_type: Scalar = None
    media_product_type: Scalar = None
    like_count: Count | None = None
    comments_count: Count | None = None
    insights: Insights | None = None


class InstagramMediaList(_Body):
    """`/{ig-user-id}/media`; without `data` (and without `error`) the body is a batch lookup."""

    data: list[InstagramMedia] | UnsetType | None = UNSET
    error: Any = UNSET


class InstagramInsights(_Body):
    """`/{media-id}/insights`: the insights edge fetched on its own."""

    data: list[Insight]
    error: Any = UNSET


class InstagramUser(_Body):
    followers_count: Scalar = None
    error: Any = UNSET


# -- YouTube ------------------------------------------------------------------------------------


class YouTubeSnippet(_Body):
    publishedAt: Scalar = None


class YouTubeVideo(_Body):
    id: Scalar = None
    snippet: YouTubeSnippet | None = None


class YouTubeVideoList(_Body):
    items: list[YouTubeVideo] | None = None
    error: Any = UNSET


class ColumnHeader(_Body):
    name: str | None = None


class YouTubeReport(_Body):
    columnHeaders: list[ColumnHeader] | None = None
    rows: list[list[Scalar]] | None = None
    error: Any = UNSET


class ChannelStatistics(_Body):
    subscriberCount: Scalar = None


class YouTubeChannel(_Body):
    statistics: ChannelStatistics | None = None


class YouTubeChannelList(_Body):
    items: list[YouTubeChannel] | None = None
    error: Any = UNSET


# -- X API v2 -----------------------------------------------------------------------------------


class PublicMetrics(_Body):
    impression_count: Count | None = None
    like_count: Count | None = None
    reply_count: Count | None = None
    retweet_count: Count | None = None
    quote_count: Count | None = None
    bookmark_count: Count | None = None


class Tweet(_Body):
    id: NativeId
    created_at: str | None = None
    public_metrics: PublicMetrics | None = None


class XTweets(_Body):
    """`data` is a list, or one object for the single-post lookup `GET /2/tweets/:id`."""

    data: list[Tweet] | Tweet | None = None
    errors: list[Any] | None = None


class UserMetrics(_Body):
    followers_count: Scalar = None


class XUserData(_Body):
    public_metrics: UserMetrics | None = None


class XUser(_Body):
    data: XUserData | None = None
    errors: Any = None


def decoder(kind: type[Any]) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(kind)


__all__ = ["UNSET", "UnsetType"]
