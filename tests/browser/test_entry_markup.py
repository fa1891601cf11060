"""One entry, two renderers: the server's template (app/site/templates/_entry.html) and the web
client's `renderEntry` (web/entry.js), which draws every entry that arrives live. In
Chromium, each entry of a page is drawn again by entry.js from the API's JSON, and the two
DOMs must be the same but for the differences named here."""

import json
from typing import Any

from playwright.async_api import Page

from app.domain.alerts import SUMMARY_LENGTH
from tests.browser.conftest import Newsroom, open_live

# Where the two may differ, and why:
# - `hidden` on the share button: the server hides it for readers without JavaScript, and
#   reading.js shows it once the page runs; entry.js draws it shown.
# - a time's `datetime`: the same instant, written `+00:00` by the template (Python's
#   isoformat) and `Z` by the API's JSON; compared as instants.
IGNORED_ATTRIBUTES = {"button": {"hidden"}}

# In the page: both DOMs as trees of [tag, attributes, children], text collapsed.
CANONICAL = """
async ({ignored, modules}) => {
  const { renderEntry } = await import(modules + "entry.js");
  const { localizeTimes } = await import(modules + "entry.js");
  function value(tag, attribute) {
    if (attribute.name === "class") return attribute.value.split(/\\s+/).sort().join(" ");
    if (tag === "time" && attribute.name === "datetime") {
      return new Date(attribute.value).toISOString();
    }
    return attribute.value;
  }
  function tree(node) {
    if (node.nodeType === Node.TEXT_NODE) {
      const text = node.textContent.replace(/\\s+/g, " ").trim();
      return text ? text : null;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) return null;
    const tag = node.tagName.toLowerCase();
    const skip = new Set(ignored[tag] || []);
    const attributes = [...node.attributes]
      .filter((a) => !skip.has(a.name))
      .map((a) => [a.name, value(tag, a)])
      .sort();
    const children = [...node.childNodes].map(tree).filter((c) => c !== null);
    return [tag, attributes, children];
  }
  const pairs = [];
  for (const article of document.querySelectorAll("[data-feed] > article")) {
    const slug = document.body.dataset.blog;
    const answer = await fetch(`/api/blogs/${slug}/entries/${article.dataset.id}`);
    const drawn = renderEntry(await answer.json());
    const holder = document.createElement("div");
    holder.append(drawn);
    localizeTimes(holder);
    pairs.push([article.id, tree(article), tree(drawn)]);
  }
  // Key events' lines: the server's summary and the client's, cut alike.
  const { summary } = await import(modules + "entry.js");
  const lines = [];
  for (const item of document.querySelectorAll("[data-key-events] li")) {
    const slug = document.body.dataset.blog;
    const entry = await (await fetch(`/api/blogs/${slug}/entries/${item.dataset.id}`)).json();
    lines.push([item.querySelector(".key-title").textContent, summary(entry)]);
  }
  return {pairs, lines};
}
"""


async def test_the_server_and_the_client_draw_an_entry_alike(
    page: Page, newsroom: Newsroom
) -> None:
    await newsroom.post("Plain words, and a [link](https://example.org/a?b=1&c=2).")
    await newsroom.post(
        "A paragraph.\n\n> A quote, *emphasised*.\n\n- one\n- two\n\n1. first\n2. second",
        headline="Lists & quotes <b>not bold</b>",
        key_event=True,
    )
    await newsroom.post("Pinned, with `code`", pinned=True)
    edited = await newsroom.post("Before the edit")
    await newsroom.patch(edited["id"], body="After the edit")
    corrected = await newsroom.post("The count was 12")
    await newsroom.patch(
        corrected["id"], body="The count was 21", correction="The first figure was wrong."
    )
    await newsroom.post("Ünïcödé, RTL: مرحبا, and an emoji 🎉")
    await newsroom.post("Tagged #Kharkiv and #энергия", tags=["grid", "Power-lines"])
    made = []
    for fields in ({"name": "Ann Lee", "role": "Kyiv correspondent", "url": "https://x.example/a",
                    "photo_url": "/media/ann.jpg"}, {"name": "Bob <Diaz>"}):  # fmt: skip
        r = await newsroom.client.post(
            "/api/authors", json=fields, headers=newsroom.tokens.auth("admin")
        )
        made.append(r.json()["id"])
    await newsroom.post("Co-written", authors=made)
    long = "A key event without a headline, whose text runs on " + "and on " * 20 + "to its end."
    await newsroom.post(long, key_event=True)
    poll = await newsroom.post("A poll", poll={"options": ["Yes", "No"]})
    voted = await newsroom.client.post(
        f"/api/blogs/storm/entries/{poll['id']}/votes", json={"option": 1}
    )
    assert voted.status_code == 201
    await open_live(page, newsroom)
    modules = await page.evaluate(
        "document.querySelector('script[type=module][src$=\"live.js\"]').src"
        ".replace(/live\\.js$/, '')"
    )
    drawn: dict[str, Any] = await page.evaluate(
        CANONICAL,
        {
            "ignored": {k: sorted(v) for k, v in IGNORED_ATTRIBUTES.items()},
            "modules": modules,
        },  # fmt: skip
    )
    pairs, lines = drawn["pairs"], drawn["lines"]
    assert len(pairs) == 10
    for article_id, server, client in pairs:
        assert server == client, (
            f"{article_id} differs:\nserver {json.dumps(server)}\nclient {json.dumps(client)}"
        )
    assert len(lines) == 2
    for server_line, client_line in lines:
        assert server_line == client_line
    assert any(line.endswith("…") and len(line) == SUMMARY_LENGTH for line, _ in lines)
