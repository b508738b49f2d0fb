"""The EPUB cover as m4b artwork: what MP4 players read (the ``covr`` atom in moov/udta/meta/ilst)
and what FFmpeg reads back (an attached picture stream), with the chapters and audio unchanged."""

from __future__ import annotations

import logging
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.epubs import standard_book
from tests.test_book import engine_and_voice, make_book  # noqa: F401  (fixture)
from voiceclone_cli.book.job import BookOptions, run_book
from voiceclone_cli.output.chapters import cover_artwork

COVR_JPEG, COVR_PNG = 13, 14  # the iTunes "well-known type" of a covr data atom


def png_image(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\0" + bytes([200, 30, 30]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def jpeg_image(width: int, height: int) -> bytes:
    """A real baseline JPEG from FFmpeg's encoder (it starts with a comment segment, then tables)."""
    import av

    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt, codec.time_base = width, height, "yuvj420p", Fraction(1, 25)
    frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 90, np.uint8), format="rgb24")
    packets = codec.encode(frame.reformat(format="yuvj420p")) + codec.encode(None)
    return bytes(packets[0])


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


def boxes(data: bytes, start: int = 0, end: int | None = None):
    end = len(data) if end is None else end
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[start + 8:start + 16])[0], 16
        yield kind, start + header, start + (size or end - start)
        start += size or end - start


def child(data: bytes, parent: tuple[int, int], path: list[bytes]) -> tuple[int, int] | None:
    """The (body start, end) of the box at ``path`` under ``parent``; ``meta`` is a full box."""
    start, end = parent
    for name in path:
        found = next(((body, stop) for kind, body, stop in boxes(data, start, end) if kind == name), None)
        if found is None:
            return None
        start, end = found
        if name == b"meta":
            start += 4  # version and flags
    return start, end


def covr_atom(path: Path) -> tuple[int, bytes] | None:
    """(type, image bytes) of moov/udta/meta/ilst/covr/data, as iTunes-style players find it."""
    data = path.read_bytes()
    covr = child(data, (0, len(data)), [b"moov", b"udta", b"meta", b"ilst", b"covr", b"data"])
    if covr is None:
        return None
    start, end = covr
    kind = struct.unpack(">I", data[start:start + 4])[0] & 0xFFFFFF
    return kind, data[start + 8:end]  # type (version byte + 24-bit type), locale, then the image


def attached_pictures(path: Path) -> list[tuple[str, bytes]]:
    import av

    with av.open(str(path)) as container:
        pictures = [s for s in container.streams if s.disposition & av.stream.Disposition.attached_pic]
        return [(stream.codec_context.name if stream.codec_context else stream.codec.name,
                 bytes(next(container.demux(stream)))) for stream in pictures]


def chapter_titles_and_audio(path: Path) -> tuple[list[str], str, float]:
    import av

    with av.open(str(path)) as container:
        titles = [m["metadata"]["title"] for m in container.chapters()]
        audio = container.streams.audio[0]
        return titles, audio.codec_context.name, container.duration / 1e6


def make_m4b(engine_and_voice, tmp_path: Path, cover: bytes | None, mime: str | None) -> Path:  # noqa: F811
    engine, voice = engine_and_voice
    book = make_book(chapters=2, sentences=2)
    book.cover, book.cover_mime = cover, mime
    out = tmp_path / "book.m4b"
    run_book(book, book.selected(), engine, voice, BookOptions(output=out, format_name="m4b", jobs=2))
    return out


@pytest.mark.parametrize("kind, mime, codec, covr_type", [
    ("png", "image/png", "png", COVR_PNG),
    ("jpeg", "image/jpeg", "mjpeg", COVR_JPEG),
])
def test_m4b_carries_the_cover_as_artwork(engine_and_voice, tmp_path, kind, mime, codec, covr_type):  # noqa: F811
    image = png_image(3, 2) if kind == "png" else jpeg_image(16, 8)
    out = make_m4b(engine_and_voice, tmp_path, image, mime)
    assert covr_atom(out) == (covr_type, image)
    assert attached_pictures(out) == [(codec, image)]
    titles, audio_codec, duration = chapter_titles_and_audio(out)
    assert titles == ["Chapter 1", "Chapter 2"] and audio_codec == "aac" and duration > 1
    assert out.read_bytes()[4:12] == b"ftypM4A "
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.m4b"]  # no temp file left


def test_a_book_without_a_cover_gets_no_artwork(engine_and_voice, tmp_path):  # noqa: F811
    out = make_m4b(engine_and_voice, tmp_path, None, None)
    assert covr_atom(out) is None and attached_pictures(out) == []
    assert chapter_titles_and_audio(out)[0] == ["Chapter 1", "Chapter 2"]


def test_a_gif_cover_is_skipped_with_a_warning_and_the_book_is_still_written(engine_and_voice, tmp_path, caplog):  # noqa: F811
    with caplog.at_level(logging.WARNING):
        out = make_m4b(engine_and_voice, tmp_path, GIF, "image/gif")
    assert covr_atom(out) is None and attached_pictures(out) == []
    assert chapter_titles_and_audio(out)[0] == ["Chapter 1", "Chapter 2"]
    assert any("cover (image/gif) is not embedded" in r.getMessage() and "JPEG or PNG" in r.getMessage()
               for r in caplog.records)


def test_the_type_comes_from_the_image_bytes_and_the_size_from_its_header(caplog):
    jpeg = jpeg_image(24, 8)
    artwork = cover_artwork(jpeg, "image/png")  # a wrong media-type in the OPF
    assert (artwork.codec, artwork.width, artwork.height) == ("mjpeg", 24, 8)
    artwork = cover_artwork(png_image(5, 7), "image/jpeg")
    assert (artwork.codec, artwork.width, artwork.height) == ("png", 5, 7)
    with caplog.at_level(logging.WARNING):
        assert cover_artwork(jpeg[:20], "image/jpeg") is None  # cut before its frame header
        assert cover_artwork(png_image(5, 7)[:20], "image/png") is None
    assert sum("damaged" in r.getMessage() for r in caplog.records) == 2


def test_book_command_embeds_the_epub_cover(api_env, cli, sample_wav, tmp_path):
    epub = standard_book().build(tmp_path / "novel.epub")
    out = tmp_path / "novel.m4b"
    result = cli(["book", epub, "-s", sample_wav, "-o", out])
    assert result.code == 0, result.stderr
    from tests.epubs import PNG

    assert covr_atom(out) == (COVR_PNG, PNG)
    assert attached_pictures(out) == [("png", PNG)]
    assert chapter_titles_and_audio(out)[0] == ["Chapter One: Arrival", "Chapter Two", "Chapter Three"]
