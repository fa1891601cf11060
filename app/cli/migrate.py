"""Apply the Alembic migrations: the only way the schema comes to exist."""

from alembic import command
from alembic.config import Config

from app.config import Settings
from app.resources import ALEMBIC_INI, MIGRATIONS


def alembic_config(settings: Settings) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["settings"] = settings
    config.attributes["configure_logging"] = False
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)
