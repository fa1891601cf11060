"""Fan-out of committed events to the readers of each blog (completed by the live issue)."""


class Hub:
    def __init__(self) -> None:
        self.published: dict[int, int] = {}

    def publish(self, blog_id: int, offset: int, data: bytes) -> None:
        self.published[blog_id] = max(offset, self.published.get(blog_id, 0))
