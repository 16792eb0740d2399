"""The strict shapes the columnar path takes: one envelope per endpoint, tagged by `endpoint`.

They are at least as strict as the adapters' typed bodies (metrics/ingest/adapters/bodies.py):
every field the metric mapping reads has one JSON type; a record without its id, an API error
beside the data, a count that is negative, fractional or past 64 bits, all fail to decode here,
and a line that fails goes to the per-line path, which judges it exactly. What remains to check
(timestamps, the account, the landing date, YouTube's subscriber count as a string, X's share
sum) is done over columns by metrics/ingest/columnar.py, and a line any of those
would question goes to the per-line path too.

Decoding with msgspec is also what the per-line path starts with, so both read a line the same
way: the same syntax accepted, the last of a repeated key winning. Each structure declares every
field its counterpart in bodies.py declares (and the envelope its `request`), with a type no
looser, so a line decodes here only if it decodes there, to the same values; a field nobody
reads but the adapters decode as a JSON value (`request`, `error`, `message`) is decoded the
same way here, since that can fail where skipping it would not (a number no double holds).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct

from metrics.ingest.adapters.bodies import Count, NativeId, Scalar

Text = Annotated[str, Meta(min_length=1)]


class _S(Struct, forbid_unknown_fields=False, gc=False):
    pass


class _Envelope(_S, tag_field="endpoint", kw_only=True):
    platform: Text
    social_account_id: Text
    collected_at: Text
    request: Any = None


# -- TikTok -------------------------------------------------------------------------------------


class _TikTokAccountData(_S):
    followers_count: Count


class _TikTokAccountBody(_S):
    data: _TikTokAccountData
    code: Literal[0] = 0
    message: Scalar = ""


class TikTokAccount(_Envelope, tag="business/get"):
    response: _TikTokAccountBody


# -- Instagram ----------------------------------------------------------------------------------


class _InstagramUserBody(_S):
    followers_count: Count
    error: Any = UNSET


class InstagramUser(_Envelope, tag="user"):
    response: _InstagramUserBody


# -- YouTube ------------------------------------------------------------------------------------


class _ChannelStatistics(_S):
    subscriberCount: str | Count


class _Channel(_S):
    statistics: _ChannelStatistics


class _ChannelListBody(_S):
    items: Annotated[list[_Channel], Meta(min_length=1)]
    error: Any = UNSET


class YouTubeChannels(_Envelope, tag="channels.list"):
    response: _ChannelListBody


# -- X ------------------------------------------------------------------------------------------


class PublicMetrics(_S):
    impression_count: Count | None = None
    like_count: Count | None = None
    reply_count: Count | None = None
    retweet_count: Count | None = None
    quote_count: Count | None = None
    bookmark_count: Count | None = None


class Tweet(_S):
    id: NativeId
    created_at: str | None = None
    public_metrics: PublicMetrics | None = None


class _TweetsBody(_S):
    """`data` is one object for the single-post lookup `GET /2/tweets/:id`."""

    data: list[Tweet] | Tweet
    errors: list[Any] | None = None


class XTweets(_Envelope, tag="tweets"):
    response: _TweetsBody


class _UserMetrics(_S):
    followers_count: Count


class _XUserData(_S):
    public_metrics: _UserMetrics


class _XUserBody(_S):
    data: _XUserData
    errors: Any = None


class XUser(_Envelope, tag="users"):
    response: _XUserBody


Line = TikTokAccount | InstagramUser | YouTubeChannels | XTweets | XUser
# The platform of each envelope type: a line whose `platform` differs is the per-line path's.
PLATFORM: dict[type[Any], str] = {
    TikTokAccount: "tiktok",
    InstagramUser: "instagram",
    YouTubeChannels: "youtube",
    XTweets: "x",
    XUser: "x",
}
DECODER: msgspec.json.Decoder[Line] = msgspec.json.Decoder(Line)
