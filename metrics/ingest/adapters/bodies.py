"""Typed structures of each endpoint's body, holding only the fields the metric mapping uses.

msgspec decodes a body straight into these: the fields nobody reads (captions, paging, titles,
descriptions, thumbnails) are skipped without building a Python object, which is most of what a
plain `json.loads` pays for. The structures are strict about shape (a record is an object, an
insight has a string name and a list of values); a body that does not fit raises
`msgspec.ValidationError` and the endpoint's `loose` path (plain JSON values) takes it, so an odd
body is still judged record by record. Leaf values stay `Any`: `values.count` and friends check
them exactly, whichever path they came from.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from metrics.ingest.adapters.values import INT64_MAX

# A lifetime counter as the common case has it: a JSON integer in 0..2^63-1. Anything else (a
# numeric string, a float, a negative or huge number) fails the typed decode, and the plain path
# judges it exactly (values.count).
Count = Annotated[int, Meta(ge=0, le=INT64_MAX)]
NativeId = Annotated[str, Meta(min_length=1)]


class _Body(Struct, forbid_unknown_fields=False):
    pass


# -- TikTok Business API ------------------------------------------------------------------------


class TikTokVideo(_Body):
    item_id: NativeId
    create_time: Any = None
    media_type: Any = None
    video_views: Count | None = None
    reach: Count | None = None
    likes: Count | None = None
    comments: Count | None = None
    shares: Count | None = None
    favorites: Count | UnsetType | None = UNSET
    favorities: Count | None = None
    total_time_watched: Any = None


class TikTokVideoData(_Body):
    videos: list[TikTokVideo]


class TikTokVideoList(_Body):
    code: Any = 0
    message: Any = ""
    data: TikTokVideoData | None = None


class TikTokAccountData(_Body):
    followers_count: Any = None


class TikTokAccount(_Body):
    code: Any = 0
    message: Any = ""
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
    media_type: Any = None
    media_product_type: Any = None
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
    followers_count: Any = None
    error: Any = UNSET


# -- YouTube ------------------------------------------------------------------------------------


class YouTubeSnippet(_Body):
    publishedAt: Any = None


class YouTubeVideo(_Body):
    id: Any = None
    snippet: YouTubeSnippet | None = None


class YouTubeVideoList(_Body):
    items: list[YouTubeVideo] | None = None
    error: Any = UNSET


class ColumnHeader(_Body):
    name: str | None = None


class YouTubeReport(_Body):
    columnHeaders: list[ColumnHeader] | None = None
    rows: list[list[Any]] | None = None
    error: Any = UNSET


class ChannelStatistics(_Body):
    subscriberCount: Any = None


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
    followers_count: Any = None


class XUserData(_Body):
    public_metrics: UserMetrics | None = None


class XUser(_Body):
    data: XUserData | None = None
    errors: Any = None


def decoder(kind: type[Any]) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(kind)


__all__ = ["UNSET"]
