"""Files the server needs at run time besides its code: the web client (`web/`), the
migrations and Alembic's configuration.

In the repository they live at its top level; the wheel carries them inside the package
(pyproject.toml maps them there), so an installed server finds them without a checkout.
"""

import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def _resource(name: str) -> Path:
    inside = PACKAGE / name  # an installed wheel
    return inside if inside.exists() else PACKAGE.parent / name  # a checkout


WEB = _resource("web")
MIGRATIONS = _resource("migrations")
ALEMBIC_INI = _resource("alembic.ini")
TEMPLATES = PACKAGE / "site" / "templates"
# gettext catalogs: `.po` kept in the repository, `.mo` compiled from them when the package is
# built or installed (hatch_build.py).
TRANSLATIONS = PACKAGE / "translations"


def _content_version(root: Path) -> str:
    """A short hash of every file of the web client: it names the directory pages load it
    from (/static/<version>/…), so a browser or a proxy may keep those files for good and a
    deploy that changes any of them changes every name."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


STATIC_VERSION = _content_version(WEB)
