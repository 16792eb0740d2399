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

from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType


class _Body(Struct, forbid_unknown_fields=False):
    pass


# -- TikTok Business API ------------------------------------------------------------------------


class TikTokVideo(_Body):
    item_id: Any = None
    create_time: Any = None
    media_type: Any = None
    video_views: Any = None
    reach: Any = None
    likes: Any = None
    comments: Any = None
    shares: Any = None
    favorites: Any = UNSET
    favorities: Any = None
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
    value: Any = None


class Insight(_Body):
    name: str | None = None
    values: list[InsightValue] | None = None
    id: str | None = None


class Insights(_Body):
    data: list[Insight]


class InstagramMedia(_Body):
    id: Any = None
    timestamp: Any = None
    media_type: Any = None
    media_product_type: Any = None
    like_count: Any = None
    comments_count: Any = None
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
    impression_count: Any = None
    like_count: Any = None
    reply_count: Any = None
    retweet_count: Any = None
    quote_count: Any = None
    bookmark_count: Any = None


class Tweet(_Body):
    id: Any = None
    created_at: Any = None
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
