"""The columnar path: lines of the large endpoints parsed into columns, checked over columns.

It serves X tweets and the four follower endpoints: on Instagram `media` (several insights per
media) and TikTok video lists (quoted counts) it cost more than the per-line path, as measured
in BENCHMARKS.md, so those stay there. Most
lines are sound, and building their rows one record at a time in Python costs more than
decoding them. Here a line is decoded by msgspec into the strict shapes of
metrics/ingest/strict.py; the values in use are moved into column lists with C-level iteration
(`map`, `zip`), and every check that can still fail (the account and its platform, the
`collected_at` of the landing date, timestamps, X's share sum, YouTube's subscriber count)
runs in polars over a batch of lines at once. The columnar path only *accepts*: a line that does
not decode, or that any check questions, is handed back whole to the per-line path
(metrics/ingest/normalize.py), which gives each bad line or record its own reason, file, line and
raw text. So a line is either taken here, with exactly the rows the per-line path would give
it, or judged there; tests/ingest/test_columnar.py holds the two paths to that, line by line.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
import polars as pl

from metrics.ingest import strict
from metrics.ingest.adapters.protocol import FOLLOWER_COLUMNS, POST_COLUMNS
from metrics.ingest.adapters.values import INT64_MAX
from metrics.model import scopes
from metrics.model.measures import POST_METRICS
from metrics.model.tables import MEDIA

_UNSET = strict.UNSET

# The timestamps taken here: `YYYY-MM-DDTHH:MM:SS`, an optional fraction of up to 6 digits, and
# `Z` or an offset `±HH:MM`/`±HHMM`, in the years 1900-2199. Python's `fromisoformat` reads more
# (a space, `+HH`, seconds in the offset, any year); those go to the per-line path. In these
# years `datetime.timestamp()`, whose float the per-line path floors, is exact to well under a
# microsecond, so flooring it gives the same whole second as the integer arithmetic below.
_ISO = (
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{1,6})?"
    r"(?:Z|([+-])([0-9]{2}):?([0-9]{2}))$"
)
_DIGITS = r"^[0-9]{1,19}$"
# Lines of a batch tried before a batch none of which decodes is left to the per-line path.
_PROBE = 8


def epoch_seconds(text: pl.Series) -> pl.Series:
    """Epoch seconds of each timestamp the per-line path would read as `parse_timestamp` does,
    truncated to the second; null for any other string (the per-line path's to judge)."""
    parts = text.str.extract_groups(_ISO).struct.unnest()
    parts.columns = ["y", "mo", "d", "h", "mi", "s", "sign", "oh", "om"]
    number = {c: pl.col(c).cast(pl.Int64, strict=False) for c in ("y", "h", "mi", "s", "oh", "om")}
    days = (
        pl.concat_str("y", pl.lit("-"), "mo", pl.lit("-"), "d")
        .str.to_date("%Y-%m-%d", strict=False)
        .cast(pl.Int64)
    )
    offset = number["oh"] * 3600 + number["om"] * 60
    offset = pl.when(pl.col("sign") == "-").then(-offset).otherwise(offset).fill_null(0)
    sane = number["y"].is_between(1900, 2199) & (number["h"] <= 23) & (number["mi"] <= 59)
    sane = sane & (number["s"] <= 59)
    sane = sane & (pl.col("sign").is_null() | ((number["oh"] <= 23) & (number["om"] <= 59)))
    epoch = days * 86_400 + number["h"] * 3600 + number["mi"] * 60 + number["s"] - offset
    return parts.select(pl.when(sane).then(epoch).alias(text.name)).to_series()


@contextmanager
def no_cycles() -> Iterator[None]:
    """Parsing creates millions of acyclic objects (decoded structures, column lists); the cycle
    collector's passes over the ones held for a batch cost more than the parsing itself (2.5 s
    against 0.6 s on the Instagram files of the quarter benchmark zone). Reference counting
    frees them; the collector is back, as it was, when the block ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class _Kind:
    """One endpoint's pending lines (`at`: positions in `Pending.lines`) and the column lists
    of their records (`rec_at`: the position of each record's line)."""

    at: list[int] = field(default_factory=list)
    rec_at: list[int] = field(default_factory=list)
    columns: dict[str, list[Any]] = field(default_factory=dict)

    def extend(self, name: str, values: Any) -> None:
        self.columns.setdefault(name, []).extend(values)

    def series(self, name: str, dtype: pl.DataType) -> pl.Series:
        return pl.Series(name, self.columns.get(name, []), dtype=dtype, strict=False)


@dataclass(frozen=True)
class FileRef:
    """What a pending line needs from its file: path, platform folder, end of its landing date."""

    rel: str
    folder: str
    landing_end: int


@dataclass(frozen=True)
class Taken:
    """What one flush gives back: raw-layout frames of the accepted lines' rows, and the pending
    lines it did not accept, as (file, line number, raw bytes), in the order they were read."""

    posts: pl.DataFrame | None
    followers: pl.DataFrame | None
    accepted: int
    handed_back: list[tuple[FileRef, int, bytes]]


class Pending:
    """Lines decoded by the columnar path and waiting for the checks that run over a batch."""

    def __init__(self, known_platforms: dict[str, str]) -> None:
        self.known = known_platforms
        self._reset()

    def _reset(self) -> None:
        self.files: list[FileRef] = []
        self.file_of: list[int] = []
        self.numbers: list[int] = []
        self.raw: list[bytes] = []
        self.platform: list[str] = []
        self.expected: list[str] = []
        self.account: list[str] = []
        self.collected: list[str] = []
        self.doubtful: list[bool] = []  # a per-line fact the decode alone shows (X `errors`)
        self.kinds: dict[type[Any], _Kind] = {}
        self.records = 0

    def __len__(self) -> int:
        return len(self.raw)

    def mark(self) -> tuple[int, int, dict[type[Any], tuple[int, int, dict[str, int]]]]:
        kinds = {
            t: (len(k.at), len(k.rec_at), {n: len(c) for n, c in k.columns.items()})
            for t, k in self.kinds.items()
        }
        return len(self.files), len(self.raw), kinds

    def rollback(
        self, mark: tuple[int, int, dict[type[Any], tuple[int, int, dict[str, int]]]]
    ) -> None:
        """Forget what a file added (its content turned out untrustworthy)."""
        files, lines, kinds = mark
        del self.files[files:]
        for column in (
            self.file_of,
            self.numbers,
            self.raw,
            self.platform,
            self.expected,
            self.account,
            self.collected,
            self.doubtful,
        ):
            del column[lines:]
        for t, kind in list(self.kinds.items()):
            at, rec_at, sizes = kinds.get(t, (0, 0, {}))
            del kind.at[at:]
            del kind.rec_at[rec_at:]
            for name, column in kind.columns.items():
                del column[sizes.get(name, 0) :]
        self.records = sum(len(k.rec_at) for k in self.kinds.values())

    def take(self, file: FileRef, lines: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
        """Decode the lines of one file; the ones that do not fit a strict shape are returned
        at once, for the per-line path. The rest wait for `flush`."""
        rest: list[tuple[int, bytes]] = []
        decode = strict.DECODER.decode
        self.files.append(file)
        file_index = len(self.files) - 1
        decoded: list[Any] = []
        with no_cycles():
            for k, (number, line) in enumerate(lines):
                if k == _PROBE and not decoded:
                    # An endpoint this path does not take (or a file of odd lines): the rest
                    # of the batch goes to the per-line path without a decode that would fail.
                    rest.extend(lines[k:])
                    break
                try:
                    env = decode(line)
                except msgspec.DecodeError:
                    rest.append((number, line))
                    continue
                decoded.append(env)
                self.raw.append(line)
                self.numbers.append(number)
            if not decoded:
                return rest
            start = len(self.file_of)
            self.file_of.extend([file_index] * len(decoded))
            self._lines(decoded)
            envs: dict[type[Any], tuple[list[Any], list[int]]] = {}
            for at, env in enumerate(decoded, start):
                same = envs.setdefault(type(env), ([], []))
                same[0].append(env)
                same[1].append(at)
            for kind, (group, positions) in envs.items():
                pending = self.kinds.setdefault(kind, _Kind())
                pending.at.extend(positions)
                _TAKE[kind](pending, group, positions)
            # Freed before the collector is back, or its first pass would walk all of them.
            del decoded, envs, same, group
        self.records = sum(len(k.rec_at) for k in self.kinds.values())
        return rest

    def _lines(self, decoded: list[Any]) -> None:
        """The envelope columns of decoded lines, in the order they were read."""
        platform, account, collected = zip(
            *map(attrgetter("platform", "social_account_id", "collected_at"), decoded),
            strict=True,
        )
        self.platform.extend(platform)
        self.account.extend(account)
        self.collected.extend(collected)
        self.expected.extend([strict.PLATFORM[type(e)] for e in decoded])
        # X's partial `errors` beside the data are records of their own: the per-line path's.
        self.doubtful.extend(map(_doubtful, decoded))

    def flush(self) -> Taken:
        """Check every pending line and record over columns; return the rows of the lines that
        pass and hand back the others. Starts empty again."""
        n = len(self.raw)
        files = pl.DataFrame(
            {
                "rel": [f.rel for f in self.files],
                "folder": [f.folder for f in self.files],
                "landing_end": [f.landing_end for f in self.files],
            },
            schema={"rel": pl.String, "folder": pl.String, "landing_end": pl.Int64},
        )
        known = list(map(self.known.get, self.account))
        lines = pl.DataFrame(
            {
                "file": pl.Series(self.file_of, dtype=pl.Int64),
                "line": pl.Series(self.numbers, dtype=pl.Int64),
                "platform": pl.Series(self.platform, dtype=pl.String),
                "expected": pl.Series(self.expected, dtype=pl.String),
                "social_account_id": pl.Series(self.account, dtype=pl.String),
                "known": pl.Series(known, dtype=pl.String),
                "collected": pl.Series(self.collected, dtype=pl.String),
                "doubtful": pl.Series(self.doubtful, dtype=pl.Boolean),
            }
        )
        lines = lines.with_columns(
            files.get_column("rel").gather(pl.Series(self.file_of)).alias("landing_file")
            if n
            else pl.lit(None, pl.String).alias("landing_file"),
            files.get_column("folder").gather(pl.Series(self.file_of)).alias("folder")
            if n
            else pl.lit(None, pl.String).alias("folder"),
            files.get_column("landing_end").gather(pl.Series(self.file_of)).alias("landing_end")
            if n
            else pl.lit(None, pl.Int64).alias("landing_end"),
        )
        lines = lines.with_columns(collected_at=epoch_seconds(lines.get_column("collected")))
        ok = (
            (pl.col("platform") == pl.col("expected"))
            & (pl.col("platform") == pl.col("folder"))
            & (pl.col("known") == pl.col("platform"))
            & (pl.col("collected_at") < pl.col("landing_end"))
            & ~pl.col("doubtful")
        ).fill_null(False)
        good = lines.select(ok.alias("ok")).to_series().to_numpy().copy()
        posts: list[pl.DataFrame] = []
        followers: list[pl.DataFrame] = []
        for kind, pending in self.kinds.items():
            frame, record_ok = _FRAME[kind](pending)
            if frame is None:
                continue
            at = np.asarray(pending.rec_at, dtype=np.int64)
            bad = at[~record_ok]
            good[bad] = False
            (followers if kind in _FOLLOWERS else posts).append(
                frame.with_columns(_at=pl.Series(at, dtype=pl.Int64))
            )
        provenance = lines.select(
            "platform", "social_account_id", "collected_at", "landing_file", "line"
        )
        keep = pl.Series(good)

        def rows(parts: list[pl.DataFrame], columns: tuple[str, ...]) -> pl.DataFrame | None:
            if not parts:
                return None
            frame = pl.concat(parts, how="diagonal_relaxed")
            frame = frame.filter(keep.gather(frame.get_column("_at")))
            if frame.height == 0:
                return None
            gathered = provenance[frame.get_column("_at")]
            frame = pl.concat([frame.drop("_at"), gathered], how="horizontal")
            missing = [pl.lit(None, pl.Int64).alias(c) for c in columns if c not in frame.columns]
            return frame.with_columns(missing).select(columns)

        handed_back = [
            (self.files[self.file_of[i]], self.numbers[i], self.raw[i])
            for i in np.flatnonzero(~good).tolist()
        ]
        taken = Taken(
            rows(posts, POST_COLUMNS),
            rows(followers, FOLLOWER_COLUMNS),
            int(good.sum()),
            handed_back,
        )
        self._reset()
        return taken


def _doubtful(env: Any) -> bool:
    kind = type(env)
    if kind is strict.XTweets:
        return bool(env.response.errors)
    return False


# -- per endpoint: moving the used values into column lists (`_TAKE`), then framing and checking
# them (`_FRAME`: raw-layout columns and one bool per record, True when the record is sure).


def _records(kind: _Kind, lists: list[list[Any]], at: list[int]) -> list[Any]:
    counts = list(map(len, lists))
    kind.rec_at.extend(chain.from_iterable(map(lambda a, c: [a] * c, at, counts)))
    return list(chain.from_iterable(lists))


def _metrics(**named: str | pl.Expr) -> list[pl.Expr]:
    """One Int64 column per POST_METRICS metric, in its order; unnamed metrics are null."""
    out = []
    for metric in POST_METRICS:
        value = named.get(metric)
        expr = pl.col(value) if isinstance(value, str) else value
        out.append((pl.lit(None, pl.Int64) if expr is None else expr).alias(metric))
    return out


def _split_sure(frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    sure = frame.get_column("_sure").to_numpy().copy()
    return frame.drop("_sure"), sure


def _count(values: list[Any]) -> tuple[pl.Series, pl.Series | None]:
    """A count column that may hold numeric strings: the plain digits become the number they
    say (as `int()` reads them); any other string leaves its record unsure (None: all sure)."""
    if str not in set(map(type, values)):
        return pl.Series(values, dtype=pl.Int64), None
    text = pl.Series(values, dtype=pl.String, strict=False)  # an int as its decimal digits
    number = text.cast(pl.Int64, strict=False)
    return number, text.is_null() | (text.str.contains(_DIGITS) & number.is_not_null())


def _all_sure(masks: list[pl.Series | None], size: int) -> pl.Series:
    known = [m for m in masks if m is not None]
    if not known:
        return pl.Series([True] * size, dtype=pl.Boolean)
    out = known[0]
    for mask in known[1:]:
        out = out & mask
    return out


def _tweets(data: Any) -> list[Any]:
    """The single-post lookup returns one object: a list of one."""
    return [data] if type(data) is strict.Tweet else data


def _take_x(kind: _Kind, group: list[Any], at: list[int]) -> None:
    tweets = _records(kind, [_tweets(e.response.data) for e in group], at)
    if not tweets:
        return
    ids, stamps, metrics = zip(
        *map(attrgetter("id", "created_at", "public_metrics"), tweets), strict=True
    )
    kind.extend("id", ids)
    kind.extend("created_at", stamps)
    none = strict.PublicMetrics()
    names = (
        "impression_count",
        "like_count",
        "reply_count",
        "retweet_count",
        "quote_count",
        "bookmark_count",
    )
    filled = [none if m is None else m for m in metrics]
    for name, values in zip(names, zip(*map(attrgetter(*names), filled), strict=True), strict=True):
        kind.extend(name, values)


def _frame_x(kind: _Kind) -> tuple[pl.DataFrame | None, np.ndarray]:
    if not kind.rec_at:
        return None, np.zeros(0, dtype=bool)
    c = kind.columns
    frame = pl.DataFrame(
        {
            "native": pl.Series(c["id"], dtype=pl.String),
            "created_at": pl.Series(c["created_at"], dtype=pl.String),
            **{
                n: pl.Series(c[n], dtype=pl.Int64)
                for n in (
                    "impression_count",
                    "like_count",
                    "reply_count",
                    "retweet_count",
                    "quote_count",
                    "bookmark_count",
                )
            },
        }
    )
    frame = frame.with_columns(published=epoch_seconds(frame.get_column("created_at")))
    published = pl.col("published")
    retweets, quotes = pl.col("retweet_count"), pl.col("quote_count")
    sure = (
        (pl.col("created_at").is_null() | published.is_not_null())
        & (retweets.is_null() | quotes.is_null() | (retweets <= INT64_MAX - quotes))
    ).fill_null(False)
    prefix = scopes.post_id_prefix("x")
    out = frame.select(
        (pl.lit(prefix) + pl.col("native")).alias("platform_post_id"),
        *_metrics(
            views="impression_count",
            impressions="impression_count",
            likes="like_count",
            comments="reply_count",
            shares=pl.when(sure).then(retweets + quotes),
            saves="bookmark_count",
        ),
        published.alias("published_at"),
        *(pl.lit(v, pl.String).alias(m) for m, v in zip(MEDIA, ("tweet", None, None), strict=True)),
        sure.alias("_sure"),
    )
    return _split_sure(out)


def _gauge(path: Callable[[Any], object]) -> Callable[[_Kind, list[Any], list[int]], None]:
    def take(kind: _Kind, group: list[Any], at: list[int]) -> None:
        kind.rec_at.extend(at)
        kind.extend("value", map(path, group))

    return take


def _frame_gauge(kind: _Kind) -> tuple[pl.DataFrame | None, np.ndarray]:
    if not kind.rec_at:
        return None, np.zeros(0, dtype=bool)
    followers, sure = _count(kind.columns["value"])
    frame = pl.DataFrame({"followers": followers, "_sure": _all_sure([sure], len(followers))})
    return _split_sure(frame)


_TAKE: dict[type[Any], Callable[[_Kind, list[Any], list[int]], None]] = {
    strict.XTweets: _take_x,
    strict.TikTokAccount: _gauge(lambda e: e.response.data.followers_count),
    strict.InstagramUser: _gauge(lambda e: e.response.followers_count),
    strict.YouTubeChannels: _gauge(lambda e: e.response.items[0].statistics.subscriberCount),
    strict.XUser: _gauge(lambda e: e.response.data.public_metrics.followers_count),
}
_FOLLOWERS = frozenset(
    {strict.TikTokAccount, strict.InstagramUser, strict.YouTubeChannels, strict.XUser}
)
_FRAME: dict[type[Any], Callable[[_Kind], tuple[pl.DataFrame | None, np.ndarray]]] = {
    strict.XTweets: _frame_x,
    **{k: _frame_gauge for k in _FOLLOWERS},
}
