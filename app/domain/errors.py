"""What the domain refuses, said in its own words; app/api/errors.py answers each with its
HTTP status (403, 409, 422)."""


class Refusal(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotAllowed(Refusal):
    """The token's role may not do this (to this entry)."""


class Conflict(Refusal):
    """The change conflicts with where the entry is in its life."""


class Invalid(Refusal):
    """The request contradicts itself."""
