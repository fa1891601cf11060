from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.domain.languages import language_tag

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/liveupdates.db"


def is_redis(url: str) -> bool:
    """Whether a BROKER_URL names Redis (the broker, and the shared rate limit, use it)."""
    return url.startswith(
        ("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")
    )


class Settings(BaseSettings):
    """Every setting of the service, read from the environment and `.env`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    broker_url: str = "memory://"
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    media_dir: Path = Path("./media")
    # Uploaded images: bytes per file, pixels (more is refused as a decompression bomb),
    # and the width of the web-sized copy entries show.
    media_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    media_max_pixels: int = Field(default=40_000_000, ge=1)
    media_web_width: int = Field(default=1600, ge=100)
    public_url: str = ""
    # A WebSub hub the Atom feeds name and every change is announced to (PUBLIC_URL needed:
    # the hub is told the feeds' public addresses); empty: none.
    websub_hub_url: str = ""
    # Web Push: the push services subscriptions may name (a host, or any of its subdomains),
    # so that no reader can make the server post to an address of their choosing; and how a
    # push service reaches whoever runs this server (VAPID `sub`: mailto: or https:).
    push_service_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "fcm.googleapis.com",
            "updates.push.services.mozilla.com",
            "push.apple.com",
            "notify.windows.com",
        ]
    )
    push_contact: str = "mailto:liveupdates@localhost"
    # Named as the publisher in pages' schema.org data and in feeds.
    publisher_name: str = "liveupdates"
    # A new blog's language (BCP 47) when its creator names none; also the language of the
    # list of blogs and of the newsroom for a browser that asks for none we have.
    default_language: str = "en"
    # Who may put reader pages in a frame (the embed): a CSP frame-ancestors source list.
    frame_ancestors: str = "*"
    # How often each instance counts its readers per blog and shares the count (through
    # Redis when it is the broker) for the live audience; 0: no sharing, no notices.
    audience_seconds: float = Field(default=5.0, ge=0)
    # Mastodon servers whose posts an entry embeds (like YouTube's or Bluesky's: only once a
    # reader agrees); their frames are allowed by the CSP. Comma-separated host names.
    embed_mastodon_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "mastodon.social",
            "mastodon.online",
            "mstdn.social",
            "journa.host",
        ]
    )

    # Requests whose body is larger than this are refused with 413 before they are read.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Live readers: unsent bytes a reader may have before it is dropped (it resumes later).
    reader_buffer_bytes: int = Field(default=256 * 1024, ge=4096)
    # WebSocket pings (and SSE keep-alives) on idle connections; no pong in time: dropped.
    heartbeat_seconds: float = Field(default=25.0, gt=0)
    # On shutdown, how long requests in progress may take to finish; then open streams
    # (Server-Sent Events) are cut and their readers reconnect elsewhere.
    shutdown_grace_seconds: int = Field(default=5, ge=0)
    # Pings and pongs a WebSocket reader may send per heartbeat (one pong is expected).
    reader_control_frames: int = Field(default=10, ge=1)
    # Every request's head (request line and headers) must arrive within this time and
    # size (408 and 431 otherwise); a connection that sends nothing is closed after it.
    request_head_seconds: float = Field(default=10.0, gt=0)
    request_head_bytes: int = Field(default=16 * 1024, ge=1024)
    # How long the hub holds an early event before reading the missing ones from the log,
    # and how often it checks the log for events a broker may have dropped.
    hub_hold_seconds: float = Field(default=0.1, gt=0)
    hub_catchup_seconds: float = Field(default=2.0, gt=0)
    # /metrics for these networks (comma-separated; empty: loopback and private ones), or
    # for `Authorization: Bearer <metrics_token>`.
    metrics_allow: str = ""
    metrics_token: str = ""
    # Logs: "json" (one object per line) or "text"; ACCESS_LOG=all logs reads too.
    log_format: Literal["json", "text"] = "json"
    access_log: Literal["writes", "all"] = "writes"
    # How long a post's Idempotency-Key is remembered (retries within it get the first answer).
    idempotency_key_hours: float = Field(default=24.0, gt=0)
    # How often each instance looks for scheduled entries that are due.
    schedule_check_seconds: float = Field(default=1.0, gt=0)
    # An ended blog is archived this many days after it ended (0: never).
    archive_after_days: float = Field(default=30.0, ge=0)

    # Abuse limits; 0 turns one off. Posts: per token, per minute, with bursts. Sockets
    # open at once per client address, of any kind: readers, requests, half-open ones
    # (behind a NAT many readers share one address). Reader connects (WebSocket or SSE)
    # per address and second, with bursts.
    post_rate_per_minute: int = Field(default=60, ge=0)
    post_burst: int = Field(default=20, ge=1)
    # Readers' questions: per address (IPv6: per network) an hour, in bursts of three, and
    # per blog a minute, from everyone together.
    questions_per_address_per_hour: int = Field(default=10, ge=0)
    questions_per_blog_per_minute: int = Field(default=60, ge=0)
    # Polls: votes per address (IPv6: per network) and poll an hour, in bursts as large;
    # how often readers are sent the results (0: never, but in their hello).
    votes_per_address_per_hour: int = Field(default=30, ge=0)
    poll_results_seconds: float = Field(default=2.0, ge=0)
    # Web Push subscriptions per address (IPv6: per network) an hour, in bursts as large.
    push_subscribes_per_address_per_hour: int = Field(default=60, ge=0)
    # Addresses are counted as IPv4 addresses and IPv6 networks of this prefix length.
    # Reader connects are paced only while this many readers or more are joining at once
    # (a reconnect storm; 0: always), so that a crowd behind one NAT comes back at once.
    ws_connections_per_address: int = Field(default=4096, ge=0)
    reader_connects_per_second: float = Field(default=20.0, ge=0)
    reader_connect_burst: int = Field(default=200, ge=1)
    reader_join_pressure: int = Field(default=256, ge=0)
    ipv6_prefix_length: int = Field(default=64, ge=8, le=128)
    # File descriptors kept for everything but readers: past the rest, readers get 503.
    # A small open-files limit shrinks it (a quarter of the limit at most).
    reader_fd_reserve: int = Field(default=256, ge=0)
    # How long a slug with no blog is remembered as such (refusals then cost no query).
    unknown_slug_seconds: float = Field(default=5.0, ge=0)
    # Proxies whose X-Forwarded-For names the client (e.g. the load balancer's address).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    # Every database operation is bounded; past a bound the request gets 503 with
    # Retry-After and its transaction rolls back. Opening a connection; each statement
    # (on Postgres enforced by the server too, lock waits included); waiting for a pooled
    # connection or, on SQLite, for the one writer's turn.
    db_connect_timeout_seconds: float = Field(default=1.0, gt=0)
    db_statement_timeout_seconds: float = Field(default=5.0, gt=0)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)

    @field_validator("default_language")
    @classmethod
    def _language_tag(cls, value: str) -> str:
        return language_tag(value)

    @field_validator("push_contact")
    @classmethod
    def _contact(cls, value: str) -> str:
        if not value.startswith(("mailto:", "https://")):
            raise ValueError("PUSH_CONTACT is a mailto: or https: address")
        return value

    @field_validator(
        "allowed_origins",
        "trusted_proxies",
        "embed_mastodon_hosts",
        "push_service_hosts",
        mode="before",
    )
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept the usual spellings and pick the async driver for each database."""
        for prefix, replacement in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if value.startswith(prefix):
                return replacement + value.removeprefix(prefix)
        return value

    @model_validator(mode="after")
    def _websub_needs_public_url(self) -> "Settings":
        if self.websub_hub_url and not self.public_url:
            raise ValueError("WEBSUB_HUB_URL needs PUBLIC_URL: the hub is told the feeds' address")
        return self

    @property
    def mastodon_hosts(self) -> frozenset[str]:
        return frozenset(host.lower() for host in self.embed_mastodon_hosts)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
