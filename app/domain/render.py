"""Markdown -> sanitised HTML for entry bodies.

Headings are off (an entry sits under the blog's own headings), raw HTML is escaped, and
whatever markdown-it produces still goes through nh3's allow-list, so no markup a reporter
types can run in a reader's browser.

An image alone in its paragraph becomes a figure; its title is the caption, and a part
after the last " | " is the credit: `![Crowds](/media/a.jpg "Crowds at noon | Photo: Ann Lee")`.
A link alone in its paragraph, to a video, social post or podcast, becomes an embed
placeholder (app/domain/embeds.py).
"""

from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

from app.domain.embeds import Embed, find_embed

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "strong", "em", "s", "del", "a", "blockquote", "ul", "ol", "li",
        "code", "pre", "hr", "figure", "figcaption", "img", "span",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "loading"},
    "ol": {"start"},
    "figure": {"data-provider", "data-kind", "data-src"},
}
ALLOWED_CLASSES = {"span": {"credit"}, "figure": {"embed"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener"


def _image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    src = escapeHtml(str(token.attrGet("src") or ""))
    alt = escapeHtml(self.renderInlineAsText(token.children or [], options, env))
    title = str(token.attrGet("title") or "")
    img = f'<img src="{src}" alt="{alt}" loading="lazy">'
    if not token.meta.get("figure"):
        return img if not title else img[:-1] + f' title="{escapeHtml(title)}">'
    caption, _, credit = title.rpartition(" | ") if " | " in title else (title, "", "")
    parts = [escapeHtml(caption.strip())] if caption.strip() else []
    if credit.strip():
        parts.append(f'<span class="credit">{escapeHtml(credit.strip())}</span>')
    figcaption = f"<figcaption>{' '.join(parts)}</figcaption>" if parts else ""
    return f"<figure>{img}{figcaption}</figure>"


def _lift_figures(tokens: list[Token]) -> None:
    """Mark paragraphs that hold one image and nothing else, to be rendered as figures."""
    for i in range(1, len(tokens) - 1):
        inline = tokens[i]
        if inline.type != "inline" or tokens[i - 1].type != "paragraph_open":
            continue
        children = [c for c in inline.children or [] if c.type != "softbreak"]
        if len(children) == 1 and children[0].type == "image":
            children[0].meta["figure"] = True
            tokens[i - 1].hidden = True
            tokens[i + 1].hidden = True


def _placeholder(embed: Embed, link: str) -> str:
    link = escapeHtml(link)
    return (
        f'<figure class="embed" data-provider="{escapeHtml(embed.provider)}" '
        f'data-kind="{embed.kind}" data-src="{escapeHtml(embed.src)}">'
        f"<figcaption>{escapeHtml(embed.name)}</figcaption>"
        f'<a href="{link}">{link}</a></figure>'
    )


def _lift_embeds(tokens: list[Token], mastodon_hosts: frozenset[str]) -> None:
    """Paragraphs that hold one link and nothing else, to a provider we embed, become
    placeholders (made here, whole; raw HTML from a reporter is never parsed)."""
    for i in range(1, len(tokens) - 1):
        inline = tokens[i]
        if inline.type != "inline" or tokens[i - 1].type != "paragraph_open":
            continue
        children = [c for c in inline.children or [] if c.type != "softbreak"]
        if [c.type for c in children] not in (
            ["link_open", "text", "link_close"],
            ["link_open", "link_close"],
        ):
            continue
        link = str(children[0].attrGet("href") or "")
        embed = find_embed(link, mastodon_hosts)
        if embed is None:
            continue
        html = Token("html_inline", "", 0)
        html.content = _placeholder(embed, link)
        inline.children = [html]
        tokens[i - 1].hidden = True
        tokens[i + 1].hidden = True


def _make_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"linkify": True, "html": False, "typographer": False})
    md.enable(["linkify", "strikethrough"])
    md.disable(["heading", "lheading", "html_block", "html_inline"])
    md.add_render_rule("image", _image)
    return md


_md = _make_markdown()


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        allowed_classes={tag: set(classes) for tag, classes in ALLOWED_CLASSES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


def render_markdown(body: str, mastodon_hosts: frozenset[str] = frozenset()) -> str:
    """Render an entry body to HTML that is safe to put in a reader's page as it is.
    Links to posts on `mastodon_hosts` are embedded like other providers'."""
    tokens = _md.parse(body)
    _lift_figures(tokens)
    _lift_embeds(tokens, mastodon_hosts)
    return sanitize(_md.renderer.render(tokens, _md.options, {})).strip()
