"""What leaves the machine: downscaled, sRGB, no EXIF/GPS/ICC."""

from __future__ import annotations

import io

from PIL import Image, ImageCms

from service.inference.images import fit_size, prepare_image


def _scan_with_gps() -> Image.Image:
    im = Image.new("RGB", (3000, 2000), (200, 150, 100))
    exif = Image.Exif()
    exif[0x010F] = "ScannerCo"  # Make
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 24.0)  # GPSLatitude
    buf = io.BytesIO()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    im.save(buf, format="JPEG", exif=exif, icc_profile=icc, comment=b"family album")
    buf.seek(0)
    return Image.open(buf)


def test_sent_image_has_no_exif_gps_icc_or_comment() -> None:
    sent = prepare_image(_scan_with_gps(), 1_048_576)
    with Image.open(io.BytesIO(sent.data)) as out:
        assert not out.getexif()
        assert "exif" not in out.info
        assert "icc_profile" not in out.info
        assert "comment" not in out.info
    assert b"ScannerCo" not in sent.data
    assert sent.mime == "image/jpeg"


def test_sent_image_is_downscaled_to_the_models_max_pixels() -> None:
    sent = prepare_image(_scan_with_gps(), 1_048_576)
    w, h = sent.size
    assert w * h <= 1_048_576
    assert abs(w / h - 1.5) < 0.01


def test_small_images_keep_their_size_and_alpha_becomes_white() -> None:
    im = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    sent = prepare_image(im, 1_048_576)
    with Image.open(io.BytesIO(sent.data)) as out:
        assert out.size == (10, 10)
        assert out.getpixel((5, 5))[0] > 240


def test_fit_size_keeps_aspect_ratio() -> None:
    assert fit_size((100, 50), 10_000) == (100, 50)
    w, h = fit_size((4000, 1000), 1_000_000)
    assert w * h <= 1_000_000
    assert w == 4 * h
