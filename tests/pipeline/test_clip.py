"""The clip check on real MP4s made with PyAV: what passes, and each reason a clip is refused."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw
from skimage import data
from skimage.metrics import structural_similarity

from service.errors import InvalidClip
from service.pipeline.clip import (
    ClipRules,
    check_clip,
    first_frame,
    probe_clip,
    similarity,
    ssim,
    strip_audio,
)
from tests.clips import make_mp4
from tests.images import photo


@pytest.fixture(scope="module")
def picture() -> Image.Image:
    return photo(320, 240)


@pytest.fixture(scope="module")
def clip(picture: Image.Image) -> bytes:
    return make_mp4(picture, frames=17, fps=16)


def shapes() -> Image.Image:
    """A picture with nothing in common with `photo`: flat colours and hard edges."""
    im = Image.new("RGB", (320, 240), (20, 160, 60))
    draw = ImageDraw.Draw(im)
    draw.rectangle((40, 30, 200, 150), fill=(240, 230, 20))
    draw.ellipse((150, 90, 300, 230), fill=(30, 20, 200))
    return im


def refused(data: bytes, picture: Image.Image, **kwargs: object) -> InvalidClip:
    with pytest.raises(InvalidClip) as caught:
        check_clip(data, picture, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_a_real_clip_of_the_photo_passes_with_what_was_measured(
    picture: Image.Image, clip: bytes
) -> None:
    checked = check_clip(clip, picture, seconds=17 / 16, frames=17)
    assert checked.data == clip
    assert checked.probe.codec == "h264"
    assert checked.probe.frames == 17
    assert checked.probe.fps == 16
    assert checked.probe.seconds == pytest.approx(17 / 16, abs=0.07)
    assert (checked.probe.width, checked.probe.height) == (96, 72)
    assert not checked.probe.has_audio
    assert checked.similarity > 0.8


def test_our_ssim_is_scikit_images() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (48, 64)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 25, a.shape), 0, 255)
    c = rng.integers(0, 256, (48, 64)).astype(np.float64)
    for x, y in ((a, b), (a, c), (a, a)):
        assert ssim(x, y) == pytest.approx(structural_similarity(x, y, data_range=255), abs=1e-9)


def test_a_clip_of_another_picture_is_not_the_photo(picture: Image.Image) -> None:
    for other in (shapes(), picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)):
        error = refused(make_mp4(other), picture)
        assert error.reason == "not-the-photo"
        assert "does not look like the photo" in str(error)


def test_real_photos_each_match_their_own_clip_and_no_other() -> None:
    photos = {
        name: Image.fromarray(getattr(data, name)()).convert("RGB")
        for name in ("astronaut", "camera", "chelsea", "coffee", "coins", "moon", "rocket")
    }
    clips = {name: make_mp4(im, width=192) for name, im in photos.items()}
    for name, data_ in clips.items():
        for other, im in photos.items():
            if other == name:
                assert check_clip(data_, im).similarity > 0.8
            else:
                assert refused(data_, im).reason == "not-the-photo", (name, other)


def test_a_clip_cropped_or_stretched_to_another_aspect_is_still_the_photo(
    picture: Image.Image,
) -> None:
    wide = picture.crop((0, 30, 320, 210))  # 16:9 from the centre of a 4:3 photo
    stretched = picture.resize((320, 180))
    for frame_source in (wide, stretched):
        assert check_clip(make_mp4(frame_source, width=128), picture).similarity > 0.7


def test_an_html_page_is_not_an_mp4(picture: Image.Image) -> None:
    error = refused(b"<!doctype html><html><body>Access denied</body></html>", picture)
    assert error.reason == "not-mp4"
    assert "HTML page" in str(error)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_a_truncated_clip_is_refused_wherever_its_index_is(
    picture: Image.Image, tmp_path: Path, keep: float
) -> None:
    index_last = make_mp4(picture, frames=24)
    index_first = make_mp4(picture, frames=24, moov_first=tmp_path / "first.mp4")
    assert index_first[:64].find(b"moov") > 0  # faststart: the index before the samples
    for whole in (index_last, index_first):
        error = refused(whole[: int(len(whole) * keep)], picture)
        assert error.reason == "truncated"


def test_a_clip_over_the_size_limit_is_refused(picture: Image.Image, clip: bytes) -> None:
    error = refused(clip, picture, rules=ClipRules(max_bytes=len(clip) - 1))
    assert error.reason == "too-large"


def test_length_and_frames_far_from_what_was_asked_are_refused(
    picture: Image.Image, clip: bytes
) -> None:
    assert refused(clip, picture, seconds=5.0).reason == "duration"
    assert refused(clip, picture, frames=81).reason == "frames"
    assert "17 frames where 81 were asked" in str(refused(clip, picture, frames=81))


def test_lengths_a_model_rounds_are_accepted(picture: Image.Image) -> None:
    wan = make_mp4(picture, frames=81, fps=16)  # asked 80 frames / 5 s; Wan makes 4k+1 frames
    checked = check_clip(wan, picture, seconds=5.0, frames=80)
    assert checked.probe.frames == 81


def test_a_runaway_clip_is_refused_whatever_was_asked(picture: Image.Image) -> None:
    long_clip = make_mp4(picture, frames=48, fps=16)
    assert refused(long_clip, picture, rules=ClipRules(max_seconds=2.0)).reason == "duration"


def test_a_still_is_not_a_clip(picture: Image.Image) -> None:
    assert refused(make_mp4(picture, frames=1), picture).reason == "frames"


def test_a_codec_browsers_cannot_play_is_refused(picture: Image.Image) -> None:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=16)
        stream.width, stream.height, stream.pix_fmt = 96, 72, "yuv420p"
        frame = av.VideoFrame.from_image(picture.resize((96, 72)))
        for _ in range(4):
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    error = refused(buf.getvalue(), picture)
    assert error.reason == "codec"
    assert "mpeg4" in str(error)


def test_strip_audio_remuxes_the_same_video_without_sound(picture: Image.Image) -> None:
    with_sound = make_mp4(picture, frames=17, audio=True)
    assert probe_clip(with_sound).has_audio
    checked = check_clip(with_sound, picture, rules=ClipRules(strip_audio=True))
    assert checked.audio_stripped
    silent = probe_clip(checked.data)
    assert not silent.has_audio
    assert silent.frames == 17

    def video_packets(data: bytes) -> list[bytes]:
        with av.open(io.BytesIO(data)) as container:
            return [bytes(p) for p in container.demux(video=0) if p.size]

    assert video_packets(checked.data) == video_packets(with_sound)  # no re-encode
    assert strip_audio(checked.data) is not None


def test_a_clip_without_sound_is_kept_as_is_when_stripping(
    picture: Image.Image, clip: bytes
) -> None:
    checked = check_clip(clip, picture, rules=ClipRules(strip_audio=True))
    assert checked.data == clip
    assert not checked.audio_stripped


def test_the_first_frame_is_the_first_picture(picture: Image.Image, clip: bytes) -> None:
    frame = first_frame(clip)
    assert frame.size == (96, 72)
    assert similarity(frame, picture) > similarity(first_frame(make_mp4(shapes())), picture)
