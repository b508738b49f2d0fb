"""Chaptered book files: one m4b (AAC in MP4) or MP3 with chapter marks, or one file per chapter.

- ``.m4b``: written with PyAV (its wheel bundles FFmpeg): AAC, MP4 chapter marks with titles,
  title/artist/album metadata, and the book's cover as iTunes artwork (the ``covr`` atom) when
  it is a JPEG or PNG. The cover goes in as a stream with the attached-picture disposition and
  one packet holding the image file; FFmpeg's ``mp4`` muxer turns that into ``covr``. The
  ``ipod`` muxer is not used because it refuses image streams; ``mp4`` with the ``M4A `` brand
  writes the same boxes (plus ISO bitrate boxes) that players read as an audiobook.
  The AAC comes in pieces encoded on their own (``encode_aac``), so a book's chapters are
  encoded while the rest of it is still being spoken; ``M4bJoin`` joins their packets
  without decoding them again, piece by piece as they are ready. The join is seamless where a
  piece starts and ends in silence and every piece but the last is a whole number of AAC
  frames long: each later piece's first packet (the encoder's priming frame) is dropped, and
  the decoder carries straight on from the previous piece's last frame.
- ``.mp3``: libsndfile's MP3 frames behind an ID3v2.3 tag written here: TIT2/TPE1/TALB plus one
  CHAP frame per chapter and a CTOC table of contents (ID3v2 Chapter Frame Addendum 1.0).
- ``.wav``/``.flac``/``.ogg``: the audio alone (libsndfile cannot write chapter marks);
  ``chapters.json`` with ``-d`` is where chapter times live for those.

Every file is written to a PID-owned temp file next to its target and renamed when complete.
"""

from __future__ import annotations

import logging
import shutil
import struct
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import numpy as np

from voiceclone_cli.errors import OutputError
from voiceclone_cli.output import atomic

log = logging.getLogger(__name__)
T = TypeVar("T")

M4B_BITRATE = 64_000  # mono speech: transparent enough, ~29 MB an hour
# FFmpeg's "fast" AAC coder: about twice the speed of "twoloop" here, and the one its authors
# found to sound better at per-channel rates like this one (64 kbit/s for one channel is the
# 128 kbit/s stereo they compared at).
M4B_ENCODER_OPTIONS = {"aac_coder": "fast"}
M4B_BRAND = "M4A "  # the ftyp major brand FFmpeg's ipod muxer wrote: what iTunes-style players expect


@dataclass(frozen=True)
class ChapterMark:
    title: str
    start: float  # seconds
    end: float


@dataclass(frozen=True)
class BookInfo:
    title: str
    author: str | None = None
    cover: bytes | None = None  # image file bytes (EPUB cover), embedded as m4b artwork
    cover_mime: str | None = None  # what the book says the cover is; only used to explain a skip


@dataclass(frozen=True)
class Artwork:
    codec: str  # FFmpeg codec name: "mjpeg" or "png"
    width: int
    height: int
    data: bytes


def cover_artwork(data: bytes | None, mime: str | None = None) -> Artwork | None:
    """The cover as MP4 artwork, or None (with a warning) when MP4 players cannot show it.

    The type comes from the bytes, not the EPUB's media-type, which is sometimes wrong. Only
    JPEG and PNG are valid in ``covr``; converting others would need an image library."""
    if not data:
        return None
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        width, height = struct.unpack(">II", data[16:24]) if data[12:16] == b"IHDR" and len(data) >= 24 else (0, 0)
        codec = "png"
    elif data.startswith(b"\xff\xd8"):
        width, height = _jpeg_size(data)
        codec = "mjpeg"
    else:
        log.warning("the book's cover (%s) is not embedded: m4b artwork must be JPEG or PNG",
                    mime or "unknown type")
        return None
    if not width or not height:
        log.warning("the book's cover is not embedded: its %s data is damaged (no image size)",
                    "PNG" if codec == "png" else "JPEG")
        return None
    return Artwork(codec, width, height, data)


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the first start-of-frame segment; (0, 0) if there is none."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return 0, 0
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            return 0, 0
        (length,) = struct.unpack(">H", data[at + 2:at + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if at + 9 > len(data):
                return 0, 0
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return width, height
        at += 2 + length
    return 0, 0


AAC_FRAME = 1024  # samples an AAC packet holds; every m4b piece but the last is a multiple of it


def encode_aac(target: Path, blocks: Iterable[np.ndarray], rate: int) -> int:
    """Encode ``blocks`` (mono float) as AAC in an MP4 file: one piece for ``M4bJoin``.
    Return the frames encoded."""
    import av

    def encode(tmp: Path) -> int:
        container = av.open(str(tmp), "w", format="mp4")
        try:
            stream = container.add_stream("aac", rate=rate, layout="mono", options=dict(M4B_ENCODER_OPTIONS))
            stream.bit_rate = M4B_BITRATE
            frames = 0
            for block in blocks:
                if not len(block):
                    continue
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block, dtype=np.float32)[None, :],
                                                   format="flt", layout="mono")
                frame.sample_rate = rate
                frame.pts = frames
                frames += len(block)
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        finally:
            container.close()
        return frames

    return _through_temp(target, target, encode)


class M4bJoin:
    """An m4b joined piece by piece, so a book's earlier pieces are joined while its last
    chapters are still being spoken and encoded; ``finish`` adds the chapter marks (known only
    at the end: the muxer reads them when it writes the index) and renames the file into place.

    The file is a PID-owned temp next to ``target`` until then; ``abort`` (or any failure)
    removes it. Errors are one ``OutputError`` naming ``shown``.
    """

    def __init__(self, target: Path, info: BookInfo, *, shown: Path | None = None) -> None:
        self.target, self.info, self.shown = target, info, shown or target
        self.appended = 0  # pieces joined so far
        self._offset = 0  # frames before the next piece
        self._tmp: Path | None = None
        self._container = None
        self._stream = None

    def append(self, path: Path, frames: int) -> None:
        import av

        with self._errors():
            with _open_piece(path) as source:
                audio = source.streams.audio[0]
                if self._container is None:
                    self._open(audio)
                shift = round(Fraction(self._offset, audio.sample_rate) / audio.time_base)
                try:
                    for packet in source.demux(audio):
                        if packet.dts is None or (self.appended and packet.pts < 0):
                            continue  # the demuxer's end marker; a later piece's priming frame
                        packet.pts += shift
                        packet.dts += shift
                        packet.stream = self._stream
                        self._container.mux(packet)
                except av.FFmpegError:
                    _damaged_piece(path)
        self.appended += 1
        self._offset += frames

    def finish(self, marks: list[ChapterMark]) -> None:
        if self._container is None:
            raise OutputError(f"cannot write {self.shown}: the book has no audio")
        with self._errors():
            self._container.set_chapters([
                {"id": number, "start": round(mark.start * 1000), "end": round(mark.end * 1000),
                 "time_base": Fraction(1, 1000), "metadata": {"title": mark.title}}
                for number, mark in enumerate(marks, start=1)
            ])
            container, self._container = self._container, None
            container.close()
            atomic.commit_temp(self._tmp, self.target)
            self._tmp = None

    def abort(self) -> None:
        """Close and remove the unfinished file; nothing if it was finished."""
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except Exception:  # the file is going anyway
                pass
        if self._tmp is not None:
            atomic.discard_temp(self._tmp)
            self._tmp = None

    def _open(self, template) -> None:
        import os

        import av

        fd, self._tmp = atomic.create_temp(self.target)
        os.close(fd)
        container = self._container = av.open(str(self._tmp), "w", format="mp4", options={"brand": M4B_BRAND})
        self._stream = container.add_stream_from_template(template)
        artwork = cover_artwork(self.info.cover, self.info.cover_mime)
        picture = _add_artwork(container, artwork) if artwork else None
        container.metadata.update({"title": self.info.title, "album": self.info.title})
        if self.info.author:
            container.metadata.update({"artist": self.info.author, "album_artist": self.info.author})
        container.metadata["genre"] = "Audiobook"
        if picture is not None:
            container.mux(picture)

    def _errors(self):
        return _write_errors(self.shown, self.abort)


def _open_piece(path: Path):
    import av

    try:
        source = av.open(str(path))
        if source.streams.audio:
            return source
        source.close()
    except av.FFmpegError:
        pass
    _damaged_piece(path)


def _damaged_piece(path: Path) -> None:
    """A piece that cannot be read is removed, so the next run encodes it again from its
    chapter's audio instead of failing on it for ever."""
    path.unlink(missing_ok=True)
    raise OutputError(f"the encoded audio of one chapter was damaged ({path.name} in {path.parent}); it is removed",
                      hint="run the same command again: that chapter is encoded again, without a request")


def _through_temp(target: Path, shown: Path, write: Callable[[Path], T]) -> T:
    """``write`` a PID-owned temp file next to ``target``, renamed over it once ``write``
    returns; FFmpeg and file errors become one OutputError naming ``shown``."""
    import os

    fd, tmp = atomic.create_temp(target)
    with _write_errors(shown, lambda: atomic.discard_temp(tmp)):
        os.close(fd)
        result = write(tmp)
        atomic.commit_temp(tmp, target)
        return result


@contextmanager
def _write_errors(shown: Path, clean_up: Callable[[], None]):
    """On any failure, ``clean_up`` (the unfinished file goes); FFmpeg and file errors become
    one OutputError naming ``shown`` and how to go on."""
    import av

    try:
        yield
    except (OSError, av.FFmpegError) as exc:
        clean_up()
        raise OutputError(f"cannot write {shown}: {exc}",
                          hint="make room or fix the folder, then run the same command again: "
                               "the chapters already made are kept") from None
    except BaseException:
        clean_up()
        raise


def _add_artwork(container, artwork: Artwork):
    """Add the cover stream; return its one packet, to mux before any audio."""
    import av

    stream = container.add_mux_stream(artwork.codec, width=artwork.width, height=artwork.height)
    stream.disposition = av.stream.Disposition.attached_pic
    packet = av.Packet(artwork.data)
    packet.stream = stream
    packet.pts = packet.dts = 0
    packet.is_keyframe = True
    return packet


def write_mp3_with_chapters(target: Path, mp3_audio: Path, marks: list[ChapterMark], info: BookInfo,
                            *, shown: Path | None = None) -> None:
    """``target`` = an ID3v2.3 tag with the chapters + the MP3 frames of ``mp3_audio``."""
    try:
        with atomic.atomic_open(target) as out, open(mp3_audio, "rb") as audio:
            out.write(id3_tag(marks, info))
            shutil.copyfileobj(audio, out, 1 << 20)
    except OSError as exc:
        raise OutputError(f"cannot write {shown or target}: {exc.strerror or exc}") from None


def id3_tag(marks: list[ChapterMark], info: BookInfo) -> bytes:
    frames = [_text_frame("TIT2", info.title), _text_frame("TALB", info.title)]
    if info.author:
        frames.append(_text_frame("TPE1", info.author))
    ids = [f"ch{number}".encode("latin-1") for number in range(1, len(marks) + 1)]
    listed = ids[:255]  # CTOC counts its entries in one byte
    frames.append(_frame("CTOC", b"toc\0" + bytes([0x03, len(listed)]) + b"".join(i + b"\0" for i in listed)))
    for element, mark in zip(ids, marks):
        body = element + b"\0" + struct.pack(">IIII", round(mark.start * 1000), round(mark.end * 1000),
                                             0xFFFFFFFF, 0xFFFFFFFF)
        frames.append(_frame("CHAP", body + _text_frame("TIT2", mark.title)))
    data = b"".join(frames)
    return b"ID3\x03\x00\x00" + _syncsafe(len(data)) + data


def _text_frame(frame_id: str, text: str) -> bytes:
    return _frame(frame_id, b"\x01" + text.encode("utf-16"))  # encoding 1: UTF-16 with BOM


def _frame(frame_id: str, body: bytes) -> bytes:
    return frame_id.encode("ascii") + struct.pack(">I", len(body)) + b"\0\0" + body


def _syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])
