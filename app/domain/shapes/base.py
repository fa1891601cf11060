"""What every shape the API reads has in common: unknown fields are refused."""

from pydantic import ConfigDict
from sqlmodel import SQLModel


class Input(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
