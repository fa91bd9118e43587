"""Small real MP4 clips made on the fly with PyAV: what an image-to-video provider would send.

    make_mp4(picture, frames=17, fps=16)              # H.264, the picture gently moving
    make_mp4(picture, audio=True)                     # with an AAC track, as MiniMax-H3's
    make_mp4(picture, moov_first=tmp_path / "c.mp4")  # `faststart`: the index before the data

Frames are the picture scaled to `width` pixels (even sides, as yuv420p wants), brightening a
little and drifting by a pixel or two from frame to frame, so the first frame is the picture.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
from PIL import Image


def _frames(picture: Image.Image, count: int, width: int) -> list[np.ndarray]:
    w, h = picture.size
    height = max(2, round(h * width / w)) // 2 * 2
    base = np.asarray(picture.convert("RGB").resize((width, height)), dtype=np.float64)
    out = []
    for i in range(count):
        shifted = np.roll(base, shift=i % 3, axis=1) * (1.0 + 0.004 * i)
        out.append(np.clip(shifted, 0, 255).astype(np.uint8))
    return out


def make_mp4(
    picture: Image.Image,
    *,
    frames: int = 17,
    fps: int = 16,
    width: int = 96,
    audio: bool = False,
    moov_first: Path | None = None,
) -> bytes:
    """A real H.264 MP4 of `picture`; with `moov_first`, written there with faststart."""
    buf = io.BytesIO()
    target: io.BytesIO | str = buf if moov_first is None else str(moov_first)
    options = {} if moov_first is None else {"movflags": "+faststart"}
    with av.open(target, "w", format="mp4", options=options) as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "23"})
        images = _frames(picture, frames, width)
        video.height, video.width = images[0].shape[:2]
        video.pix_fmt = "yuv420p"
        sound = out.add_stream("aac", rate=16000, layout="mono") if audio else None
        for array in images:
            for packet in video.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            _encode_tone(out, sound, seconds=frames / fps)
    return buf.getvalue() if moov_first is None else moov_first.read_bytes()


def _encode_tone(out: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    rate = 16000
    total = int(rate * seconds)
    tone = (0.2 * np.sin(np.arange(total) * 2 * np.pi * 440 / rate)).astype(np.float32)
    for start in range(0, total, 1024):
        chunk = tone[start : start + 1024].reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def picture_of(data: bytes) -> Image.Image:
    """Decoded image bytes (what a provider received), as RGB."""
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")
