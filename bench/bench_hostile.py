"""Peak memory of the service under the hostile corpus, against 3× the largest allowed image.

`photo-restore up` runs as a subprocess (embedded Redis, local DATA_DIR, MAX_PIXELS as given).
After a warm-up (one ordinary scan restored, one thumbnail) its peak RSS (VmHWM) is the
baseline; then the corpus goes through it: every hostile picture of tests/hostile/corpus.py
uploaded and run by the worker, thumbnails and full-size views of each, four thumbnails at
once of pictures just under MAX_PIXELS dropped in a `restored` folder (issue 13, item 3),
four of a bomb, a chunked upload past MAX_FILE_MB, a flood to a webhook and a deep JSON body.
The goal: the peak's growth stays under 3 × MAX_PIXELS × 4 bytes (a decoded RGB image, as
Pillow holds it), printed as a ratio (goal ≤ 1.0).

    .venv/bin/python bench/bench_hostile.py [--max-pixels 24000000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile.corpus import deep_json, pictures, png_bomb  # noqa: E402

PASSWORD = "bench password"
INBOX = "/Family/to-restore"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_bytes(pid: int) -> int:
    """VmHWM of a process: the most memory it has held so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def largest_picture(max_pixels: int, fmt: str) -> bytes:
    """A real picture just under MAX_PIXELS (smooth, so it encodes quickly)."""
    side = int((max_pixels * 0.98) ** 0.5)
    ramp = np.linspace(30, 220, side, dtype=np.float32)
    a = np.empty((side, side, 3), np.uint8)
    a[..., 0] = ramp[None, :]
    a[..., 1] = ramp[:, None]
    a[..., 2] = 120
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, fmt, compress_level=1) if fmt == "PNG" else Image.fromarray(
        a
    ).save(buf, fmt)
    return buf.getvalue()


async def sign_in(client: httpx.AsyncClient) -> str:
    html = (await client.get("/login")).text
    field = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert field is not None
    await client.post("/login", data={"password": PASSWORD, "csrf_token": field.group(1)})
    page = (await client.get("/")).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token is not None
    return token.group(1)


async def upload(client: httpx.AsyncClient, token: str, name: str, data: bytes) -> str | None:
    r = await client.post(
        "/api/files/upload",
        data={"folder": INBOX},
        files={"file": (name, data, "application/octet-stream")},
        headers={"x-csrf-token": token},
    )
    return str(r.json()["results"][0]["job"]) if r.status_code == 201 else None


async def settle(client: httpx.AsyncClient, deadline: float = 600.0) -> None:
    """Wait until no job is queued or running."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        counts = (await client.get("/api/jobs")).json()["counts"]
        if not counts.get("queued") and not counts.get("running"):
            return
        await asyncio.sleep(0.5)
    raise TimeoutError("jobs did not finish")


async def hostile_bodies(client: httpx.AsyncClient, token: str, max_file_mb: int) -> None:
    async def chunked(total: int):  # no Content-Length
        yield b'--x\r\nContent-Disposition: form-data; name="folder"\r\n\r\n' + INBOX.encode()
        yield b'\r\n--x\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n\r\n'
        for _ in range(total):
            yield b"\xff" * (1 << 20)

    await client.post(
        "/api/files/upload",
        content=chunked(max_file_mb * 3),
        headers={"x-csrf-token": token, "content-type": "multipart/form-data; boundary=x"},
    )
    await client.post(
        "/webhooks/files", content=b" " * (8 << 20), headers={"x-webhook-secret": "s"}
    )
    await client.post(
        "/api/queue",
        content=deep_json(),
        headers={"x-csrf-token": token, "content-type": "application/json"},
    )


async def run_corpus(url: str, pid: int, data: Path, max_pixels: int) -> tuple[int, int, int]:
    corpus = pictures(max_pixels)
    out = data / "Family" / "restored"
    out.mkdir(parents=True, exist_ok=True)
    big = largest_picture(max_pixels, "PNG")
    for i in range(4):
        (out / f"largest-{i}.png").write_bytes(big)
    (out / "largest.tif").write_bytes(largest_picture(max_pixels, "TIFF"))
    (out / "bomb.png").write_bytes(png_bomb(13000, 13000))
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        token = await sign_in(client)
        await upload(
            client, token, "warm-up.jpg", next(p for p in corpus if p.name == "ordinary.jpg").data
        )
        await settle(client)
        await client.get("/api/files/thumb", params={"path": f"{INBOX}/warm-up.jpg"})
        baseline = peak_bytes(pid)
        jobs = [await upload(client, token, p.name, p.data) for p in corpus]
        await settle(client)
        for p in corpus:
            await client.get("/api/files/thumb", params={"path": f"{INBOX}/{p.name}"})
        for job in jobs:
            if job:
                await client.get(f"/api/jobs/{job}/file/original")
                await client.get(f"/api/jobs/{job}/image/source")
        thumbs = [f"/Family/restored/largest-{i}.png" for i in range(4)] + [
            "/Family/restored/bomb.png"
        ] * 4
        await asyncio.gather(*(client.get("/api/files/thumb", params={"path": t}) for t in thumbs))
        view = await client.get(
            "/api/files/download", params={"path": "/Family/restored/largest.tif"}
        )
        assert view.status_code == 200
        await hostile_bodies(client, token, 2)
        counts = (await client.get("/api/jobs")).json()["counts"]
    return baseline, peak_bytes(pid), counts.get("failed", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-pixels", type=int, default=24_000_000)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        data = Path(tmp) / "data"
        (data / "Family" / "to-restore").mkdir(parents=True)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OWNCLOUD_", "HF_"))},
            "DATA_DIR": str(data),
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "DASHBOARD_PASSWORD": PASSWORD,
            "WEBHOOK_SECRET": "s",
            "MAX_PIXELS": str(args.max_pixels),
            "MAX_FILE_MB": "2",
            "POLL_INTERVAL": "2",
            "SETTLE_SECONDS": "0.5",
            "DEFAULT_CHAIN": "classic",
            "MODELS_FILE": str(ROOT / "service" / "config" / "models.toml"),
            "HF_HOME": "/nonexistent-hf-home",
        }
        env.pop("REDIS_URL", None)
        exe = Path(sys.executable).with_name("photo-restore")
        proc = subprocess.Popen(
            [str(exe), "up"], cwd=tmp, env=env, stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert "running" in line, line
            url = f"http://127.0.0.1:{port}"
            baseline, peak, failed = asyncio.run(run_corpus(url, proc.pid, data, args.max_pixels))
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    largest = args.max_pixels * 4
    growth = peak - baseline
    print(
        f"MAX_PIXELS {args.max_pixels:,}: largest allowed image {largest / 2**20:.0f} MiB decoded"
    )
    print(
        f"baseline peak after warm-up {baseline / 2**20:.0f} MiB; "
        f"peak under the corpus {peak / 2**20:.0f} MiB"
    )
    print(f"corpus jobs failed with a reason: {failed}")
    print(
        f"peak growth / (3 × largest image) = {growth / 2**20:.0f} / {3 * largest / 2**20:.0f} MiB "
        f"= ratio {growth / (3 * largest):.2f}  (goal ≤ 1.00)"
    )


if __name__ == "__main__":
    main()
