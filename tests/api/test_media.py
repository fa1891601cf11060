"""Image uploads: only real images, metadata stripped, web-sized, served from /media."""

from io import BytesIO

import httpx
from PIL import Image

from tests.conftest import Tokens

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg_with_gps(size: tuple[int, int] = (200, 100)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # taken with the phone on its side: show rotated 90° clockwise
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)})
    out = BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"secret comment")
    return out.getvalue()


async def upload(
    client: httpx.AsyncClient, tokens: Tokens, data: bytes, name: str = "photo.jpg"
) -> httpx.Response:
    return await client.post(
        "/api/media",
        files={"file": (name, data, "image/jpeg")},
        headers=tokens.auth("reporter"),
    )


async def fetch_image(client: httpx.AsyncClient, url: str) -> tuple[Image.Image, bytes]:
    response = await client.get(url)
    assert response.status_code == 200
    return Image.open(BytesIO(response.content)), response.content


async def test_a_photo_loses_its_gps_and_comes_back_upright(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    original = jpeg_with_gps()
    assert Image.open(BytesIO(original)).getexif().get_ifd(GPS_IFD)
    response = await upload(client, tokens, original)
    assert response.status_code == 201, response.text
    media = response.json()
    assert (media["width"], media["height"]) == (100, 200)  # the orientation applied
    assert media["url"].startswith("/media/") and media["url"].endswith(".jpg")
    image, data = await fetch_image(client, media["url"])
    assert image.size == (100, 200)
    assert not image.getexif()  # no GPS, no camera, no orientation left to misapply
    assert b"PhoneMaker" not in data and b"secret comment" not in data
    assert "comment" not in image.info

    again = await upload(client, tokens, original)
    assert again.json()["url"] == media["url"]  # named by content: stored once


async def test_a_wide_image_gets_a_web_sized_copy(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    out = BytesIO()
    Image.new("RGB", (3200, 1000), (0, 90, 160)).save(out, "PNG")
    media = (await upload(client, tokens, out.getvalue(), "wide.png")).json()
    assert (media["width"], media["height"]) == (1600, 500)
    web, _ = await fetch_image(client, media["url"])
    full, _ = await fetch_image(client, media["original_url"])
    assert (web.format, web.size) == ("PNG", (1600, 500))
    assert full.size == (3200, 1000)


async def test_an_animated_gif_keeps_its_frames(client: httpx.AsyncClient, tokens: Tokens) -> None:
    frames = [Image.new("RGB", (40, 40), color) for color in ("red", "green", "blue")]
    out = BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    media = (await upload(client, tokens, out.getvalue(), "spin.gif")).json()
    image, _ = await fetch_image(client, media["url"])
    assert image.n_frames == 3


async def test_what_is_not_an_image_is_refused(client: httpx.AsyncClient, tokens: Tokens) -> None:
    for data, name in (
        (b"just some text, honestly a photo", "photo.jpg"),
        (b"%PDF-1.4\n1 0 obj\n", "photo.jpg"),
        (jpeg_with_gps()[:300], "cut.jpg"),  # truncated
    ):
        response = await upload(client, tokens, data, name)
        assert response.status_code == 415, (name, response.text)
        assert "detail" in response.json()
    bmp = BytesIO()
    Image.new("RGB", (10, 10)).save(bmp, "BMP")
    assert (await upload(client, tokens, bmp.getvalue(), "x.bmp")).status_code == 415


async def test_a_decompression_bomb_is_refused(client: httpx.AsyncClient, tokens: Tokens) -> None:
    out = BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG")  # 100 megapixels in a few KB
    assert len(out.getvalue()) < 100_000
    response = await upload(client, tokens, out.getvalue(), "bomb.png")
    assert response.status_code == 413
    assert "pixels" in response.json()["detail"]


async def test_too_many_bytes_is_413_and_no_token_is_401(
    client: httpx.AsyncClient, tokens: Tokens
) -> None:
    huge = b"\xff\xd8" + b"\0" * (11 * 1024 * 1024)
    assert (await upload(client, tokens, huge)).status_code == 413
    response = await client.post("/api/media", files={"file": ("a.jpg", jpeg_with_gps())})
    assert response.status_code == 401


async def test_an_uploaded_image_shows_as_a_figure(
    client: httpx.AsyncClient, tokens: Tokens, blog: dict[str, object]
) -> None:
    media = (await upload(client, tokens, jpeg_with_gps())).json()
    body = f'![Crowds]({media["url"]} "Crowds at noon | Photo: Ann Lee")'
    entry = await client.post(
        f"/api/blogs/{blog['slug']}/entries", json={"body": body}, headers=tokens.auth("editor")
    )
    html = entry.json()["html"]
    assert html.startswith(f'<figure><img src="{media["url"]}" alt="Crowds" loading="lazy"')
    assert (
        '<figcaption>Crowds at noon <span class="credit">Photo: Ann Lee</span></figcaption>' in html
    )
