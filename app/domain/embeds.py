"""Other people's posts in entries, without tracking readers before they agree.

A link alone on its own line, to a provider below, becomes a placeholder: a `<figure
class="embed">` with the provider's name and the link. It makes no request to the provider:
the page loads the provider's frame (`data-src`, made here from the link's ids, never the
link itself) only when the reader presses its button (web/embeds.js). Without JavaScript it
is the link. The CSP's `frame-src` allows exactly these providers' frame origins.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, quote, urlsplit

ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
NUMBER = re.compile(r"[0-9]{1,24}")
HANDLE = re.compile(r"[A-Za-z0-9_.:-]{1,253}")
AUDIO_FILE = re.compile(r"\.(mp3|m4a|aac|ogg|oga|opus|wav)$", re.IGNORECASE)


@dataclass(frozen=True)
class Embed:
    provider: str  # the key: "youtube"
    name: str  # shown to readers: "YouTube"
    src: str  # the frame (or, for "audio", the file) loaded when the reader agrees
    kind: str = "frame"  # "frame", "video" (16:9), or "audio"


Match = Callable[[SplitResult, list[str]], Embed | None]


def _youtube(url: SplitResult, path: list[str]) -> Embed | None:
    video = None
    if url.hostname == "youtu.be" and len(path) == 1:
        video = path[0]
    elif path == ["watch"]:
        video = (parse_qs(url.query).get("v") or [""])[0]
    elif len(path) == 2 and path[0] in ("shorts", "live", "embed"):
        video = path[1]
    if not video or not re.fullmatch(r"[A-Za-z0-9_-]{11}", video):
        return None
    # youtube-nocookie.com: no cookies until the reader plays the video.
    return Embed("youtube", "YouTube", f"https://www.youtube-nocookie.com/embed/{video}", "video")


def _vimeo(url: SplitResult, path: list[str]) -> Embed | None:
    if len(path) == 1 and NUMBER.fullmatch(path[0]):
        return Embed("vimeo", "Vimeo", f"https://player.vimeo.com/video/{path[0]}?dnt=1", "video")
    return None


def _x(url: SplitResult, path: list[str]) -> Embed | None:
    if len(path) >= 3 and path[1] == "status" and NUMBER.fullmatch(path[2]):
        src = f"https://platform.twitter.com/embed/Tweet.html?id={path[2]}&dnt=true"
        return Embed("x", "X", src)
    return None


def _bluesky(url: SplitResult, path: list[str]) -> Embed | None:
    if len(path) == 4 and path[0] == "profile" and path[2] == "post":
        actor, post = path[1], path[3]
        if HANDLE.fullmatch(actor) and ID.fullmatch(post):
            src = f"https://embed.bsky.app/embed/{quote(actor)}/app.bsky.feed.post/{post}"
            return Embed("bluesky", "Bluesky", src)
    return None


def _instagram(url: SplitResult, path: list[str]) -> Embed | None:
    if len(path) == 2 and path[0] in ("p", "reel", "tv") and ID.fullmatch(path[1]):
        return Embed("instagram", "Instagram", f"https://www.instagram.com/p/{path[1]}/embed")
    return None


def _tiktok(url: SplitResult, path: list[str]) -> Embed | None:
    if len(path) == 3 and path[0].startswith("@") and path[1] == "video":
        if NUMBER.fullmatch(path[2]):
            return Embed("tiktok", "TikTok", f"https://www.tiktok.com/embed/v2/{path[2]}")
    return None


def _spotify(url: SplitResult, path: list[str]) -> Embed | None:
    if len(path) == 2 and path[0] in ("episode", "show") and ID.fullmatch(path[1]):
        src = f"https://open.spotify.com/embed/{path[0]}/{path[1]}"
        return Embed("spotify", "Spotify", src)
    return None


def _apple_podcasts(url: SplitResult, path: list[str]) -> Embed | None:
    if "podcast" in path and all(re.fullmatch(r"[A-Za-z0-9_.%-]{1,200}", p) for p in path):
        episode = (parse_qs(url.query).get("i") or [""])[0]
        query = f"?i={episode}" if NUMBER.fullmatch(episode) else ""
        src = f"https://embed.podcasts.apple.com/{'/'.join(path)}{query}"
        return Embed("apple-podcasts", "Apple Podcasts", src)
    return None


# Each provider: the hosts of its links, how a link becomes its frame, the frame's origin.
PROVIDERS: dict[str, tuple[frozenset[str], Match, str]] = {
    "youtube": (
        frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be"}),
        _youtube,
        "https://www.youtube-nocookie.com",
    ),
    "vimeo": (frozenset({"vimeo.com", "www.vimeo.com"}), _vimeo, "https://player.vimeo.com"),
    "x": (
        frozenset({"x.com", "www.x.com", "twitter.com", "www.twitter.com", "mobile.twitter.com"}),
        _x,
        "https://platform.twitter.com",
    ),
    "bluesky": (frozenset({"bsky.app"}), _bluesky, "https://embed.bsky.app"),
    "instagram": (
        frozenset({"instagram.com", "www.instagram.com"}),
        _instagram,
        "https://www.instagram.com",
    ),
    "tiktok": (frozenset({"tiktok.com", "www.tiktok.com"}), _tiktok, "https://www.tiktok.com"),
    "spotify": (frozenset({"open.spotify.com"}), _spotify, "https://open.spotify.com"),
    "apple-podcasts": (
        frozenset({"podcasts.apple.com"}),
        _apple_podcasts,
        "https://embed.podcasts.apple.com",
    ),
}


def _mastodon(url: SplitResult, path: list[str]) -> Embed | None:
    if len(path) == 2 and path[0].startswith("@") and HANDLE.fullmatch(path[0][1:]):
        if NUMBER.fullmatch(path[1]):
            src = f"https://{url.hostname}/{path[0]}/{path[1]}/embed"
            return Embed("mastodon", "Mastodon", src)
    return None


def find_embed(link: str, mastodon_hosts: frozenset[str] = frozenset()) -> Embed | None:
    """The embed a link alone on its line becomes, or None: it stays a link."""
    try:  # urllib parses lazily: a bad host or port raises here, not later
        url = urlsplit(link.strip())
        host, port = (url.hostname or "").lower(), url.port
    except ValueError:
        return None
    if url.scheme != "https" or url.username or url.password or port not in (None, 443):
        return None
    path = [part for part in url.path.split("/") if part]
    if host in mastodon_hosts:
        return _mastodon(url, path)
    for hosts, match, _ in PROVIDERS.values():
        if host in hosts:
            return match(url, path)
    if path and AUDIO_FILE.search(path[-1]):
        return Embed("audio", host, url.geturl(), "audio")
    return None


def frame_origins(mastodon_hosts: frozenset[str]) -> list[str]:
    """What the CSP's frame-src allows: exactly the providers' frames."""
    return [origin for _, _, origin in PROVIDERS.values()] + [
        f"https://{host}" for host in sorted(mastodon_hosts)
    ]
