"""Image uploads from the newsroom: `POST /api/media`."""

from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Request, UploadFile, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.api.deps import CurrentToken
from app.api.errors import errors
from app.config import Settings
from app.services import services
from app.store.media import ImageTooLarge, NotAnImage, store_image

router = APIRouter(prefix="/api/media", tags=["media"])


class MediaPublic(BaseModel):
    url: str  # web-sized; what an entry should show
    width: int
    height: int
    original_url: str


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MediaPublic,
    responses=errors(400, 401, 413, 415),
)
async def upload_media(
    request: Request, file: Annotated[UploadFile, File()], _: CurrentToken
) -> MediaPublic:
    """Upload a JPEG, PNG, WebP or GIF (multipart field `file`, up to `MEDIA_MAX_BYTES`).
    It is checked, stripped of metadata and stored under a content-hash name; the answer
    has the URL of a web-sized copy to put in an entry: `![alt](url "caption | credit")`."""
    settings: Settings = services(request.app).settings
    data = await file.read(settings.media_max_bytes + 1)
    if len(data) > settings.media_max_bytes:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"images may be up to {settings.media_max_bytes} bytes",
        )
    try:
        stored = await run_in_threadpool(
            store_image,
            data,
            settings.media_dir,
            settings.media_max_pixels,
            settings.media_web_width,
        )
    except NotAnImage as error:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(error)) from None
    except ImageTooLarge as error:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(error)) from None
    return MediaPublic(
        url=f"/media/{stored.name}",
        width=stored.width,
        height=stored.height,
        original_url=f"/media/{stored.original}",
    )
