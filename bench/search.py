"""Search at size: one blog of 50,000 entries (and a second blog beside it), on SQLite and
on Postgres. Prints search latency (p50, p95) through the served API for a mix of queries,
within the blog and across blogs, how long `liveupdates migrate` took to index the entries
published before the index, and what the index costs a post: the latency of posts to the
same 50,000-entry blog against a baseline commit without search (`--baseline`, default
ebffe51), A and B interleaved in rounds. Nothing here is a test.

    .venv/bin/python -m bench.search [--entries 50000] [--databases sqlite,postgres]
                                     [--queries 300] [--posts 300] [--baseline ebffe51]
"""

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.harness import Ours, checkout, fresh_postgres

SEED = 27

# A newsroom's words, in Zipf-like use: a few very common, a long tail of rare ones.
COMMON = (
    "the of and to in a is was for on that with said at by from as were have has are been "
    "after it their they police government people officials minister city forces president "
    "election votes results power water army town region report"
).split()
PLACES = (
    "kharkiv odesa lviv kyiv dnipro mariupol kherson zaporizhzhia sumy poltava chernihiv "
    "mykolaiv donetsk luhansk bakhmut izium kupiansk kramatorsk"
).split()
STEMS = (
    "strike attack shell plant station grid outage evacuat ceasefire negotiat refugee convoy "
    "bridge railway hospital school shelter drone missile tank artillery brigade front "
    "counteroffens sanction summit aid ammunition"
).split()
SUFFIXES = ("", "s", "ed", "ing", "ion", "ions", "er", "ers")


def vocabulary(rng: random.Random) -> list[str]:
    """Common words, places, stemmed families, and 5,000 rare made-up words."""
    rare = ["".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(3))
            for _ in range(5000)]  # fmt: skip
    return COMMON + PLACES + [s + x for s in STEMS for x in SUFFIXES] + rare


def entry_text(rng: random.Random, words: list[str], weights: list[float]) -> tuple[str, str]:
    body = " ".join(rng.choices(words, weights, k=rng.randint(25, 90)))
    headline = " ".join(rng.choices(words, weights, k=rng.randint(3, 8)))
    return headline.capitalize(), body.capitalize() + "."


def queries(rng: random.Random, words: list[str], count: int) -> list[str]:
    """What readers type: a place, a word in another form, two words, a phrase, OR, -."""
    forms = [s + x for s in STEMS for x in SUFFIXES]
    made = []
    for n in range(count):
        kind = n % 6
        if kind == 0:
            made.append(rng.choice(PLACES))
        elif kind == 1:
            made.append(rng.choice(forms))
        elif kind == 2:
            made.append(f"{rng.choice(PLACES)} {rng.choice(forms)}")
        elif kind == 3:
            made.append(f'"{rng.choice(COMMON[10:])} {rng.choice(COMMON[10:])}"')
        elif kind == 4:
            made.append(f"{rng.choice(PLACES)} OR {rng.choice(words[-5000:])}")
        else:
            made.append(f"{rng.choice(forms)} -{rng.choice(PLACES)}")
    return made


async def fill(url: str, slug: str, total: int, rng: random.Random) -> None:
    """`total` published entries in blog `slug` (and 1,000 in `other`), written as rows the
    way every version stores them, oldest first: the index is `migrate`'s to make."""
    words = vocabulary(rng)
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(words))]
    engine = create_async_engine(url)
    start = datetime.now(UTC) - timedelta(days=30)
    try:
        async with engine.begin() as connection:
            for name, count in ((slug, total), ("other", 1000)):
                blog_id = await connection.scalar(
                    text("SELECT id FROM blog WHERE slug = :slug"), {"slug": name}
                )
                rows = []
                for n in range(count):
                    headline, body = entry_text(rng, words, weights)
                    at = start + timedelta(seconds=n)
                    rows.append({"blog": blog_id, "headline": headline, "body": body,
                                 "html": f"<p>{body}</p>", "at": at})  # fmt: skip
                for first in range(0, len(rows), 5000):
                    await connection.execute(
                        text(
                            "INSERT INTO entry (blog_id, headline, body, html, key_event,"
                            " pinned, author, published_at, version, status, corrections)"
                            " VALUES (:blog, :headline, :body, :html, false, false, 'Bench',"
                            " :at, 1, 'published', '[]')"
                        ),
                        rows[first : first + 5000],
                    )
    finally:
        await engine.dispose()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def timed_searches(port: int, paths: list[str]) -> tuple[list[float], int]:
    took, found = [], 0
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for path in paths[:20]:  # warm: the first queries read the index from disk
            client.get(path).raise_for_status()
        for path in paths:
            began = time.perf_counter()
            answer = client.get(path)
            took.append((time.perf_counter() - began) * 1000)
            answer.raise_for_status()
            found += len(answer.json()["results"])
    return took, found


def prepared(name: str, database: str, entries: int, source: Path | None) -> tuple[Ours, float]:
    """A server's database with the blogs filled (and `migrate` run again: for ours, that
    indexes them); seconds that second `migrate` took."""
    url = asyncio.run(fresh_postgres(f"search_{name}")) if database == "postgres" else None
    ours = Ours(f"search-{name}-{database}", database_url=url, source=source)
    port, process = ours.serve()
    with ours.client(port) as api:
        for slug in ("bench", "other"):
            api.post("/api/blogs", json={"slug": slug, "title": slug}).raise_for_status()
    Ours.stop(process)
    ours.processes.remove(process)
    asyncio.run(fill(ours.env["DATABASE_URL"], "bench", entries, random.Random(SEED)))
    began = time.monotonic()
    ours.cli("migrate")
    return ours, time.monotonic() - began


def post_latencies(
    ports: dict[str, int], tokens: dict[str, str], posts: int
) -> dict[str, list[float]]:
    """Posts to each server in turn (A, B, A, B…), one at a time; milliseconds each."""
    rng = random.Random(SEED + 1)
    words = vocabulary(rng)
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(words))]
    clients = {
        name: httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                           headers={"Authorization": f"Bearer {tokens[name]}"})
        for name, port in ports.items()
    }  # fmt: skip
    took: dict[str, list[float]] = {name: [] for name in ports}
    try:
        for n in range(posts + 20):
            headline, body = entry_text(rng, words, weights)
            for name, client in clients.items():
                began = time.perf_counter()
                entry = {"headline": headline, "body": f"{body} #{n}"}
                answer = client.post("/api/blogs/bench/entries", json=entry)
                answer.raise_for_status()
                if n >= 20:  # the first are warm-up
                    took[name].append((time.perf_counter() - began) * 1000)
    finally:
        for client in clients.values():
            client.close()
    return took


def run(database: str, entries: int, queries_: int, posts: int, baseline: str) -> None:
    ours, indexing = prepared("ours", database, entries, None)
    base, _ = prepared("base", database, entries, checkout(baseline))
    try:
        port, _ = ours.serve()
        rng = random.Random(SEED + 2)
        asked = queries(rng, vocabulary(random.Random(SEED)), queries_)
        within = [str(httpx.URL("/api/blogs/bench/search", params={"q": q})) for q in asked]
        across = [str(httpx.URL("/api/search", params={"q": q})) for q in asked]
        blog_took, blog_found = timed_searches(port, within)
        all_took, _ = timed_searches(port, across)
        base_port, _ = base.serve()
        took = post_latencies({"ours": port, "base": base_port},
                              {"ours": ours.token, "base": base.token}, posts)  # fmt: skip
    finally:
        ours.close()
        base.close()
    print(f"\n{database}: {entries:,} entries in the blog (1,000 in another)")
    print(f"  indexed by migrate in {indexing:.1f} s ({entries / indexing:,.0f} entries/s)")
    print(f"  search in the blog, {len(within)} queries: p50 {statistics.median(blog_took):.1f}"
          f" ms, p95 {percentile(blog_took, 0.95):.1f} ms, p99 {percentile(blog_took, 0.99):.1f}"
          f" ms; {blog_found / len(within):.1f} results a query")  # fmt: skip
    print(f"  search across blogs:             p50 {statistics.median(all_took):.1f}"
          f" ms, p95 {percentile(all_took, 0.95):.1f} ms")  # fmt: skip
    for share, label in ((0.5, "p50"), (0.95, "p95")):
        a, b = percentile(took["ours"], share), percentile(took["base"], share)
        print(f"  post {label}: {a:.1f} ms with the index vs {b:.1f} ms without ({baseline})"
              f" = {a / b:.2f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--posts", type=int, default=300)
    parser.add_argument("--baseline", default="ebffe51", help="a commit without search")
    args = parser.parse_args()
    for database in args.databases.split(","):
        run(database, args.entries, args.queries, args.posts, args.baseline)


if __name__ == "__main__":
    main()
