import html as html_module
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.render import ALLOWED_TAGS, render_markdown

XSS_VECTORS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="alert(1)">',
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<body onload=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](javascript&#58;alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '![x](http://example.com/a.png "a\\" onerror=\\"alert(1))',
    '[x](http://example.com "t\\" onmouseover=\\"alert(1))',
    "<details open ontoggle=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    "<input autofocus onfocus=alert(1)>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<base href=javascript:alert(1)//>",
    "<!--<img src=--><img src=x onerror=alert(1)//-->",
    "<<script>script>alert(1)<</script>/script>",
    "<a href='&#x6A;avascript:alert(1)'>x</a>",
    "[x](<javascript:alert(1)>)",
    '<https://example.com/" onclick="alert(1)>',
    "`<script>alert(1)</script>`",
    "```\n<script>alert(1)</script>\n```",
]

TAG = re.compile(r"<\s*([a-zA-Z][a-zA-Z0-9]*)([^>]*)>")
ATTRIBUTE = re.compile(r'\s([a-zA-Z-]+)(?:="([^"]*)")?')
# A URL is safe when it names no scheme (relative, even empty or percent-encoded, like
# `[x]()` or `[x](%3E)`), or http, https or mailto. Browsers ignore control characters and
# spaces before the colon of a scheme, so they are ignored here too.
SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
SAFE_SCHEMES = {"http", "https", "mailto"}


def safe_url(value: str) -> bool:
    plain = "".join(c for c in html_module.unescape(value) if c > " " and c != "\x7f")
    scheme = SCHEME.match(plain)
    return scheme is None or scheme.group(1).lower() in SAFE_SCHEMES


def assert_safe(html: str) -> None:
    for tag, attrs in TAG.findall(html):
        assert tag.lower() in ALLOWED_TAGS, (tag, html)
        for name, value in ATTRIBUTE.findall(attrs):
            assert not name.lower().startswith("on"), html
            assert name.lower() not in {"style", "srcdoc", "formaction"}, html
            if name.lower() in {"href", "src"}:
                assert safe_url(value), (value, html)


@pytest.mark.parametrize("vector", XSS_VECTORS)
def test_nothing_executable_survives(vector: str) -> None:
    html = render_markdown(vector)
    assert_safe(html)
    assert "<script" not in html.lower()


def test_paragraphs_emphasis_and_links() -> None:
    html = render_markdown(
        "One *two* **three** ~~four~~.\n\nSee https://example.com/x and [us](/about)."
    )
    assert html == (
        "<p>One <em>two</em> <strong>three</strong> <s>four</s>.</p>\n"
        '<p>See <a href="https://example.com/x" rel="nofollow noopener">https://example.com/x</a>'
        ' and <a href="/about" rel="nofollow noopener">us</a>.</p>'
    )


def test_headings_are_off() -> None:
    assert render_markdown("# Breaking\n\nText\n===") == "<p># Breaking</p>\n<p>Text\n===</p>"


def test_quotes_and_lists() -> None:
    html = render_markdown("> He said\n\n- a\n- b\n\n3. c\n4. d")
    assert html == (
        "<blockquote>\n<p>He said</p>\n</blockquote>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"
        '<ol start="3">\n<li>c</li>\n<li>d</li>\n</ol>'
    )


def test_image_alone_becomes_a_figure_with_caption_and_credit() -> None:
    html = render_markdown(
        '![Crowd in the square](/media/abc.jpg "Crowds at noon | Photo: Ann Lee")'
    )
    assert html == (
        '<figure><img src="/media/abc.jpg" alt="Crowd in the square" loading="lazy">'
        '<figcaption>Crowds at noon <span class="credit">Photo: Ann Lee</span></figcaption>'
        "</figure>"
    )


def test_image_caption_without_credit_and_inline_images() -> None:
    assert render_markdown('![a](https://x.test/a.png "Just a caption")') == (
        '<figure><img src="https://x.test/a.png" alt="a" loading="lazy">'
        "<figcaption>Just a caption</figcaption></figure>"
    )
    assert render_markdown("Look ![a](https://x.test/a.png) here") == (
        '<p>Look <img src="https://x.test/a.png" alt="a" loading="lazy"> here</p>'
    )


def test_raw_html_is_shown_as_text() -> None:
    assert render_markdown("<b>bold</b> & co") == "<p>&lt;b&gt;bold&lt;/b&gt; &amp; co</p>"


MARKUP = st.sampled_from(
    ["<", ">", "&", '"', "'", "`", "*", "_", "[", "]", "(", ")", "!", "#", "\n", "\n\n",
     "> ", "- ", "1. ", "<script>", "</script>", "<img src=x onerror=alert(1)>", "javascript:",
     "data:text/html,", "<a href='", "onload=", "<svg", "&#106;", "\x00", "\u2028", "](", '"']
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(MARKUP, st.text(max_size=12)), max_size=40).map("".join))
def test_any_input_renders_to_allowed_markup_only(body: str) -> None:
    html = render_markdown(body)
    assert_safe(html)
