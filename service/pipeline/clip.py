"""The clip check: a provider's clip is kept only if it is a real, whole MP4 of the photo asked.

    size ≤ max_bytes → ISO MP4 (`ftyp` first, PyAV opens it as mp4) → one video stream of a
    codec browsers play, sides ≤ max_side → every video packet demuxes whole (a truncated
    download or file ends here) → length and frame count within tolerance of what was asked
    → the first frame looks like the photo (SSIM at thumbnail size) → audio stripped if asked

Each refusal is an `InvalidClip` whose `reason` names the rule and whose message says what
was found, so a failed step explains itself. The check lives in the pipeline, beside image
decoding, because judging a clip needs the photo it was made from and the step's parameters;
the inference layer only promises bytes that arrived whole and within the cap. Everything
here is blocking CPU work on bytes in memory (no temporary file): use `check_clip_async`.

Tolerances are loose on purpose: models round frame counts (Wan wants 4k+1 frames), clamp
durations and pick their own frame rate; the check is there to catch a clip that is broken,
runaway or of something else, not to grade motion.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np
from av.container import InputContainer
from av.video.stream import VideoStream
from PIL import Image

from service.constants import CLIP_MAX_BYTES
from service.errors import InvalidClip

# Codecs a browser's <video> plays from an MP4 (the dashboard shows the clip).
PLAYABLE_CODECS = frozenset({"h264", "hevc", "vp9", "av1"})
_AV_ERRORS = (av.error.FFmpegError, OSError, ValueError, IndexError, StopIteration)


@dataclass(frozen=True)
class ClipRules:
    """What a kept clip must satisfy; the defaults suit 2-20 s clips of 480p-1080p."""

    max_bytes: int = CLIP_MAX_BYTES
    max_seconds: float = 60.0  # whatever was asked: a runaway clip is refused
    max_side: int = 4096
    seconds_tolerance: float = 0.25  # relative to the length asked…
    seconds_slack: float = 0.5  # …or this many seconds, whichever is larger
    frames_tolerance: float = 0.15
    frames_slack: int = 4
    min_frames: int = 2  # a clip, not a still
    min_similarity: float = 0.4  # see `similarity`: unrelated pictures score <= 0.34
    compare_side: int = 32
    codecs: frozenset[str] = field(default=PLAYABLE_CODECS)
    strip_audio: bool = False


@dataclass(frozen=True)
class ClipProbe:
    """What the container says, with the frame count from demuxing every packet."""

    size_bytes: int
    seconds: float
    frames: int
    fps: float | None
    width: int
    height: int
    codec: str
    has_audio: bool


@dataclass(frozen=True)
class CheckedClip:
    """A clip that passed: its bytes as kept (audio stripped if asked) and what was measured."""

    data: bytes
    probe: ClipProbe
    similarity: float
    audio_stripped: bool = False


def _refuse(reason: str, message: str) -> InvalidClip:
    return InvalidClip(f"the clip was refused: {message}", reason=reason)


def probe_clip(data: bytes, rules: ClipRules | None = None) -> ClipProbe:
    """The container and video stream of `data`, or `InvalidClip` if it is no whole MP4."""
    rules = rules or ClipRules()
    if len(data) > rules.max_bytes:
        raise _refuse(
            "too-large", f"{len(data) / 2**20:.1f} MiB, over {rules.max_bytes / 2**20:.1f} MiB"
        )
    if len(data) < 12 or data[4:8] != b"ftyp":
        raise _refuse("not-mp4", f"it does not start as an MP4 does ({_sniff(data)})")
    if "moov" not in _top_level_boxes(data):
        raise _refuse("truncated", "it has no index (no moov box)")
    try:
        with av.open(io.BytesIO(data), "r") as container:
            if "mp4" not in container.format.name.split(","):
                raise _refuse("not-mp4", f"the container is {container.format.name}")
            if not container.streams.video:
                raise _refuse("no-video", "the file has no video stream")
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            if codec not in rules.codecs:
                raise _refuse("codec", f"its video is {codec}, not one of {sorted(rules.codecs)}")
            width, height = stream.codec_context.width, stream.codec_context.height
            if not (0 < width <= rules.max_side and 0 < height <= rules.max_side):
                raise _refuse("size", f"{width}×{height} pixels (limit {rules.max_side} a side)")
            frames, last_end = _demux_whole(container, stream)
            has_audio = bool(container.streams.audio)
            seconds = _seconds(stream, container, last_end, frames)
            rate = stream.guessed_rate or stream.average_rate
    except InvalidClip:
        raise
    except _AV_ERRORS as exc:
        raise _refuse("truncated", f"it is not a readable MP4 ({_why(exc)})") from None
    return ClipProbe(
        len(data), seconds, frames, float(rate) if rate else None, width, height, codec, has_audio
    )


def _top_level_boxes(data: bytes) -> list[str]:
    """The types of the file's top-level boxes, which must tile it exactly.

    A download or a file cut short ends inside its last box (the index when it comes last,
    the samples when it comes first): the declared size runs past the end of the bytes.
    """
    kinds: list[str] = []
    offset, end = 0, len(data)
    while offset < end:
        if end - offset < 8:
            raise _refuse("truncated", "the file ends inside a box header")
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8].decode("latin-1")
        header = 8
        if size == 1:  # a 64-bit size follows
            if end - offset < 16:
                raise _refuse("truncated", "the file ends inside a box header")
            size, header = int.from_bytes(data[offset + 8 : offset + 16], "big"), 16
        elif size == 0:  # the last box runs to the end of the file
            size = end - offset
        if size < header:
            raise _refuse("not-mp4", f"its {kind!r} box is malformed")
        if offset + size > end:
            raise _refuse(
                "truncated",
                f"the file ends inside its {kind!r} box ({end - offset} of {size} bytes)",
            )
        kinds.append(kind)
        offset += size
    return kinds


def _demux_whole(container: InputContainer, stream: VideoStream) -> tuple[int, Fraction]:
    """Video packets in the file, refusing a file whose samples do not all arrive whole."""
    count = 0
    end = Fraction(0)
    for packet in container.demux(stream):
        if packet.size == 0 and packet.dts is None:
            continue  # the demuxer's end-of-stream flush
        if packet.is_corrupt or packet.size == 0:
            raise _refuse("truncated", f"video sample {count + 1} is cut short")
        count += 1
        if packet.pts is not None and packet.time_base is not None:
            end = max(end, (packet.pts + (packet.duration or 0)) * packet.time_base)
    expected = stream.frames
    if expected and count < expected:
        raise _refuse("truncated", f"{count} of its {expected} video frames are in the file")
    return count, end


def _seconds(stream: VideoStream, container: InputContainer, end: Fraction, frames: int) -> float:
    """The video's length: its stream duration, else the packets' span, else the container's."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if end > 0:
        return float(end)
    if container.duration:
        return container.duration / av.time_base
    rate = stream.guessed_rate or stream.average_rate
    return frames / float(rate) if rate else 0.0


def judge_length(
    probe: ClipProbe, seconds: float | None, frames: int | None, rules: ClipRules
) -> None:
    """Length and frame count against what was asked (when the parameters asked anything)."""
    if probe.frames < rules.min_frames:
        raise _refuse("frames", f"it has {probe.frames} frame(s), fewer than {rules.min_frames}")
    if not 0 < probe.seconds <= rules.max_seconds:
        raise _refuse("duration", f"it lasts {probe.seconds:.2f} s (limit {rules.max_seconds:g} s)")
    if seconds is not None:
        allowed = max(rules.seconds_slack, rules.seconds_tolerance * seconds)
        if abs(probe.seconds - seconds) > allowed:
            raise _refuse(
                "duration",
                f"it lasts {probe.seconds:.2f} s where {seconds:g} s was asked (± {allowed:.2f} s)",
            )
    if frames is not None:
        allowed_frames = max(rules.frames_slack, round(rules.frames_tolerance * frames))
        if abs(probe.frames - frames) > allowed_frames:
            raise _refuse(
                "frames",
                f"it has {probe.frames} frames where {frames} were asked (± {allowed_frames})",
            )


def first_frame(data: bytes) -> Image.Image:
    """The clip's first video frame as an RGB picture."""
    try:
        with av.open(io.BytesIO(data), "r") as container:
            for frame in container.decode(video=0):
                rgb: np.ndarray = frame.to_ndarray(format="rgb24")
                return Image.fromarray(rgb, "RGB")
    except _AV_ERRORS as exc:
        raise _refuse("truncated", f"its first frame does not decode ({_why(exc)})") from None
    raise _refuse("truncated", "it has no frame that decodes")


def ssim(a: np.ndarray, b: np.ndarray, *, data_range: float = 255.0, win: int = 7) -> float:
    """Mean structural similarity of two grey images (7×7 uniform windows, as scikit-image)."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    n = win * win

    def mean(img: np.ndarray) -> np.ndarray:  # every full window: scikit-image's cropped result
        windows = np.lib.stride_tricks.sliding_window_view(img, (win, win))
        means: np.ndarray = windows.mean(axis=(-2, -1))
        return means

    ux, uy = mean(x), mean(y)
    cov = n / (n - 1)  # sample covariance, as scikit-image's default
    vx = cov * (mean(x * x) - ux * ux)
    vy = cov * (mean(y * y) - uy * uy)
    vxy = cov * (mean(x * y) - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return float(s.mean())


def _cover(photo: Image.Image, aspect: float) -> Image.Image:
    """The centre of `photo` cut to `aspect` (width/height), as a model filling a frame does."""
    w, h = photo.size
    if w / h > aspect:
        cw = max(1, round(h * aspect))
        return photo.crop(((w - cw) // 2, 0, (w - cw) // 2 + cw, h))
    ch = max(1, round(w / aspect))
    return photo.crop((0, (h - ch) // 2, w, (h - ch) // 2 + ch))


def _thumbnail(im: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Luminance at `size`, stretched to a fixed mean and contrast.

    Area averaging keeps the composition and drops texture the model redraws anyway; the
    stretch makes a faded print as comparable as a crisp one (SSIM alone calls any two flat
    pictures alike).
    """
    grey = np.asarray(im.convert("L").resize(size, Image.Resampling.BOX), dtype=np.float64)
    spread = max(float(grey.std()), 4.0)
    stretched: np.ndarray = (grey - grey.mean()) / spread * 50.0 + 128.0
    return stretched


def similarity(frame: Image.Image, photo: Image.Image, side: int = 32) -> float:
    """How much the frame looks like the photo: SSIM of contrast-stretched thumbnails.

    Models stretch the photo to their frame or fill it by cropping the centre; both readings
    are compared and the better kept, so a changed aspect ratio is no failure.
    Measured by `bench/bench_clip_similarity.py` on scikit-image's 16 sample photos and faded
    copies of them: 960 unrelated pairs score at most 0.34; a clip's H.264 first frame at
    least 0.91, and 0.56 after a VAE-like blur and a 1 % shift. Stronger blur still passes for
    pictures with a composition; pure textures (brick, grass) are the first to fall below.
    """
    w, h = frame.size
    scale = side / max(w, h)
    size = (max(16, round(w * scale)), max(16, round(h * scale)))
    target = _thumbnail(frame, size)
    readings = (photo, _cover(photo, w / h))
    return max(ssim(target, _thumbnail(r, size)) for r in readings)


def strip_audio(data: bytes) -> bytes:
    """The clip with its video stream only, remuxed (no re-encode: same frames, same bytes)."""
    out = io.BytesIO()
    try:
        with av.open(io.BytesIO(data), "r") as src, av.open(out, "w", format="mp4") as dst:
            source = src.streams.video[0]
            target = dst.add_stream_from_template(source)
            for packet in src.demux(source):
                if packet.dts is None:
                    continue
                packet.stream = target
                dst.mux(packet)
    except _AV_ERRORS as exc:
        raise _refuse("truncated", f"it cannot be remuxed without sound ({_why(exc)})") from None
    return out.getvalue()


def check_clip(
    data: bytes,
    photo: Image.Image,
    *,
    seconds: float | None = None,
    frames: int | None = None,
    rules: ClipRules | None = None,
) -> CheckedClip:
    """Every rule of the module docstring, in order; the clip as it may be kept."""
    rules = rules or ClipRules()
    probe = probe_clip(data, rules)
    judge_length(probe, seconds, frames, rules)
    score = similarity(first_frame(data), photo, rules.compare_side)
    if score < rules.min_similarity:
        raise _refuse(
            "not-the-photo",
            f"its first frame does not look like the photo (similarity {score:.2f},"
            f" needed {rules.min_similarity:.2f})",
        )
    if rules.strip_audio and probe.has_audio:
        return CheckedClip(strip_audio(data), probe, score, audio_stripped=True)
    return CheckedClip(data, probe, score)


async def check_clip_async(
    data: bytes,
    photo: Image.Image,
    *,
    seconds: float | None = None,
    frames: int | None = None,
    rules: ClipRules | None = None,
) -> CheckedClip:
    """`check_clip` off the event loop."""
    return await asyncio.to_thread(
        check_clip, data, photo, seconds=seconds, frames=frames, rules=rules
    )


def _sniff(data: bytes) -> str:
    """A hint of what came instead of an MP4, for the message."""
    head = data[:64].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if head.startswith((b"{", b"[")):
        return "JSON"
    if not data:
        return "empty"
    return f"{len(data)} bytes starting {data[:8]!r}"


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__
