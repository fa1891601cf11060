"""Links to videos, posts and podcasts alone on their line become consent placeholders
whose frame address is made from the link's ids; anything else stays a link."""

import re

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.config import Settings
from app.domain.embeds import find_embed, frame_origins
from app.domain.render import render_markdown
from app.ops.security import content_security_policy

MASTODON = frozenset({"mastodon.social"})
FRAMES = {
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42": "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
    "https://youtu.be/dQw4w9WgXcQ": "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
    "https://www.youtube.com/shorts/dQw4w9WgXcQ": "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
    "https://vimeo.com/76979871": "https://player.vimeo.com/video/76979871?dnt=1",
    "https://x.com/BBCBreaking/status/1860000000000000000": "https://platform.twitter.com/embed/Tweet.html?id=1860000000000000000&dnt=true",
    "https://twitter.com/AP/status/123": "https://platform.twitter.com/embed/Tweet.html?id=123&dnt=true",
    "https://bsky.app/profile/bbc.co.uk/post/3lbf3etdjxc24": "https://embed.bsky.app/embed/bbc.co.uk/app.bsky.feed.post/3lbf3etdjxc24",
    "https://mastodon.social/@Gargron/112233445566": "https://mastodon.social/@Gargron/112233445566/embed",
    "https://www.instagram.com/p/C1a2B3c4D5e/": "https://www.instagram.com/p/C1a2B3c4D5e/embed",
    "https://www.tiktok.com/@reuters/video/7300000000000000000": "https://www.tiktok.com/embed/v2/7300000000000000000",
    "https://open.spotify.com/episode/4rOoJ6Egrf8K2IrywzwOMk": "https://open.spotify.com/embed/episode/4rOoJ6Egrf8K2IrywzwOMk",
    "https://podcasts.apple.com/gb/podcast/global-news/id135067274?i=1000650000000": "https://embed.podcasts.apple.com/gb/podcast/global-news/id135067274?i=1000650000000",
    "https://cdn.example.org/briefing/ep12.mp3": "https://cdn.example.org/briefing/ep12.mp3",
}  # fmt: skip
NOT_EMBEDDED = [
    "https://example.com/news",
    "http://www.youtube.com/watch?v=dQw4w9WgXcQ",  # not https
    "https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
    "https://evil.example/youtube.com/watch?v=dQw4w9WgXcQ",
    "https://www.youtube.com/watch?v=short",
    "https://user:pw@www.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://www.youtube.com:8443/watch?v=dQw4w9WgXcQ",
    "https://x.com/BBCBreaking",
    "https://other.social/@someone/112233",  # a Mastodon server not configured
    "https://vimeo.com/channels/staffpicks",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("link, frame", FRAMES.items())
def test_a_link_alone_becomes_a_placeholder_with_its_frame(link: str, frame: str) -> None:
    html = render_markdown(f"Watch this:\n\n{link}\n\nMore soon.", MASTODON)
    found = re.search(r'<figure class="embed" data-provider="([^"]+)" data-kind="(\w+)" '
                      r'data-src="([^"]+)"><figcaption>([^<]+)</figcaption>', html)  # fmt: skip
    assert found, html
    assert found.group(3).replace("&amp;", "&") == frame
    assert f'<a href="{link.replace("&", "&amp;")}"' in html  # without JavaScript: the link
    assert "<iframe" not in html and "<script" not in html
    embed = find_embed(link, MASTODON)
    assert embed is not None
    origin = re.match(r"https://[^/]+", frame)
    assert origin and (embed.kind == "audio" or origin.group(0) in frame_origins(MASTODON))


@pytest.mark.parametrize("link", NOT_EMBEDDED)
def test_other_links_stay_links(link: str) -> None:
    assert find_embed(link, MASTODON) is None
    assert "embed" not in render_markdown(link, MASTODON)


def test_only_a_link_alone_on_its_line_is_embedded() -> None:
    inline = render_markdown("See https://youtu.be/dQw4w9WgXcQ now", MASTODON)
    assert "figure" not in inline and "<a href" in inline
    two = render_markdown("https://youtu.be/dQw4w9WgXcQ https://youtu.be/dQw4w9WgXcQ")
    assert "figure" not in two
    named = render_markdown("[The speech](https://youtu.be/dQw4w9WgXcQ)")
    assert 'data-provider="youtube"' in named


def test_a_reporter_cannot_write_a_placeholder_or_frame() -> None:
    forged = ('<figure class="embed" data-provider="x" data-src="https://evil.example/">'
              "</figure><iframe src=https://evil.example></iframe>")  # fmt: skip
    html = render_markdown(forged)
    assert "<figure" not in html and "<iframe" not in html and "&lt;figure" in html


@given(st.text(max_size=300))
def test_any_link_is_embedded_only_as_a_known_frame(text: str) -> None:
    embed = find_embed("https://" + text, MASTODON)
    if embed is not None and embed.kind != "audio":
        assert any(embed.src.startswith(origin + "/") for origin in frame_origins(MASTODON))


def test_the_csp_allows_exactly_the_providers_frames() -> None:
    settings = Settings(embed_mastodon_hosts="mastodon.social, journa.host")  # type: ignore[arg-type]
    policy = dict(p.split(" ", 1) for p in content_security_policy(settings).split("; "))
    assert policy["frame-src"].split() == frame_origins(
        frozenset({"mastodon.social", "journa.host"})
    )
    assert "https://journa.host" in policy["frame-src"] and "*" not in policy["frame-src"]
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"


async def test_entries_posted_through_the_api_carry_placeholders(
    client: httpx.AsyncClient, tokens: object, blog: dict[str, object]
) -> None:
    from tests.conftest import Tokens

    assert isinstance(tokens, Tokens)
    r = await client.post(
        "/api/blogs/election-night/entries",
        json={"body": "https://mastodon.social/@bbc/12345"},
        headers=tokens.auth("editor"),
    )
    assert 'data-provider="mastodon"' in r.json()["html"]
    page = await client.get("/blogs/election-night")
    assert "https://mastodon.social" in page.headers["content-security-policy"]
