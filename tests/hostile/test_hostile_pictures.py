"""The picture corpus through the worker and the dashboard's views: each one ends in a clear
refusal (a failed job with its reason, a 422) or a correct result, never a 500 nor a grey
'done'."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
from PIL import Image

from tests.hostile.corpus import Picture, pictures
from tests.web.api_support import Api, api_for

MAX_PIXELS = 1_000_000  # the smallest limit the settings allow: the corpus stays small
CORPUS = pictures(MAX_PIXELS)
INBOX = "/Family/to-restore"


@pytest.fixture
async def api(rdb: redis.Redis, data_dir: Path) -> AsyncIterator[Api]:
    async with api_for(data_dir, max_pixels=MAX_PIXELS) as a:
        yield a


@pytest.mark.parametrize("picture", CORPUS, ids=[p.name for p in CORPUS])
async def test_every_hostile_picture_ends_refused_with_a_reason_or_restored(
    api: Api, data_dir: Path, picture: Picture
) -> None:
    job_id = await api.upload(picture.name, picture.data)
    record = await api.run(job_id)
    if picture.refused:
        assert record.status == "failed"
        assert picture.reason in (record.error or ""), record.error
        assert "internal error" not in (record.error or "")
        note = data_dir / "Family/restored" / f"{Path(record.output).name}.failed.txt"
        assert picture.reason in note.read_text()
    else:
        assert record.status == "done", record.error
        with Image.open(data_dir / record.output.lstrip("/")) as result:
            result.load()
            assert result.size[0] >= 16


@pytest.mark.parametrize("picture", CORPUS, ids=[p.name for p in CORPUS])
async def test_thumbnails_and_views_of_hostile_pictures_refuse_or_show(
    api: Api, data_dir: Path, picture: Picture
) -> None:
    (data_dir / "Family/to-restore" / picture.name).write_bytes(picture.data)
    thumb = await api.client.get("/api/files/thumb", params={"path": f"{INBOX}/{picture.name}"})
    job_id = await api.upload("copy-" + picture.name, picture.data)
    view = await api.client.get(f"/api/jobs/{job_id}/file/original")
    preview = await api.client.get(f"/api/jobs/{job_id}/image/source")
    for answer in (thumb, view, preview):
        assert answer.status_code in (200, 422), answer.text
        assert str(data_dir) not in answer.text
        assert "/tmp/" not in answer.text
    shown_as_is = picture.name.rsplit(".", 1)[-1] in ("jpg", "png", "webp", "gif")
    if picture.refused and picture.reason not in ("animated", "pages"):
        # The first frame of an animation or page of a TIFF is a fair thumbnail (restoring
        # only it is not); nothing else hostile is shown.
        assert thumb.status_code == 422
        assert picture.reason in thumb.json()["error"]
        assert preview.status_code == 422
        assert view.status_code == (200 if shown_as_is else 422)
    if not picture.refused:
        assert thumb.status_code == 200
        assert Image.open(io.BytesIO(thumb.content)).format == "JPEG"
        assert view.status_code == 200
