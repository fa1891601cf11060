"""Posting an entry through the REST API, for `liveupdates post`, scripts and wire feeds.

Each post carries one Idempotency-Key across all its attempts, so retrying after a lost
answer or a restarting server never makes a duplicate.
"""

import time
import uuid
from typing import Any

import httpx

RETRYABLE = {429, 502, 503, 504}


class PostFailed(Exception):
    pass


def post_entry(
    base_url: str,
    token: str,
    slug: str,
    entry: dict[str, Any],
    attempts: int = 6,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """Post `entry` to blog `slug`; retries network failures and 429/5xx with backoff."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    url = f"/api/blogs/{slug}/entries"
    delay = 0.5
    with httpx.Client(base_url=base_url, timeout=15, transport=transport) as client:
        for attempt in range(1, attempts + 1):
            try:
                response = client.post(url, json=entry, headers=headers)
            except httpx.TransportError as error:
                problem = f"could not reach {base_url}: {error}"
            else:
                if response.is_success:
                    answer: dict[str, Any] = response.json()
                    return answer
                problem = _detail(response)
                if response.status_code not in RETRYABLE:
                    raise PostFailed(problem)
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    delay = max(delay, float(retry_after))
            if attempt == attempts:
                raise PostFailed(f"{problem} (gave up after {attempts} attempts)")
            time.sleep(delay)
            delay = min(delay * 2, 10)
    raise AssertionError("unreachable")


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text[:200]
    return f"{response.status_code}: {detail}"
