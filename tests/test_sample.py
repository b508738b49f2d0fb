import os
import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests import samples
from tests.conftest import voice
from tests.fakeserver import VALID_KEY
from voiceclone_cli.engines.remote.client import SyncCloneClient
from voiceclone_cli.errors import SampleError
from voiceclone_cli.prepare.sample import FIT_MAX_SECONDS, MAX_BYTES, prepare_sample, read_sample_blocks, sniff_format


@pytest.mark.parametrize(
    "rel, fmt, seconds, rate",
    [
        ("p225/p225_023.wav", "WAV", 9.42, 16000),
        ("3080/3080-5032-0009.mp3", "MP3", 22.8, 16000),
        ("3080/3080-5032-0009.m4a", "M4A", 22.8, 16000),
        ("p227/p227_023.mp3", "MP3", 11.4, 44100),  # 44.1 kHz stereo: downmixed
        ("p227/p227_023.m4a", "M4A", 11.4, 44100),
    ],
)
def test_real_samples_in_every_format_are_accepted_unchanged(rel, fmt, seconds, rate):
    path = voice(rel)
    prepared = prepare_sample(path)
    assert prepared.format == fmt
    assert prepared.rate == rate
    assert prepared.samples.ndim == 1
    assert abs(prepared.seconds - seconds) < 0.1
    assert prepared.data == path.read_bytes()  # nothing re-encoded when nothing needs fitting
    assert prepared.notes == []


def test_format_comes_from_content_not_extension(tmp_path):
    renamed = tmp_path / "actually-mp3.wav"
    renamed.write_bytes(voice("3080/3080-5032-0009.mp3").read_bytes())
    prepared = prepare_sample(renamed)
    assert prepared.format == "MP3"
    assert prepared.filename == "actually-mp3.mp3" and prepared.mime_type == "audio/mpeg"


@pytest.mark.parametrize(
    "content, described",
    [(b"hello, this is text\n" * 10, "text file"), (b"fLaC" + b"\0" * 60, "FLAC"), (b"OggS" + b"\0" * 60, "Ogg"),
     (bytes(range(256)), "not a recognised audio file")],
)
def test_unsupported_formats_are_refused_with_the_supported_list(tmp_path, content, described):
    path = tmp_path / "x.wav"
    path.write_bytes(content)
    with pytest.raises(SampleError) as info:
        prepare_sample(path)
    assert described in info.value.message and "WAV, MP3, M4A" in info.value.message


def test_adts_aac_is_not_mistaken_for_mp3():
    assert sniff_format(b"\xff\xf1\x50\x80" + b"\0" * 20) is None
    assert sniff_format(b"\xff\xfb\x90\x64" + b"\0" * 20) == "MP3"


def test_too_short(tmp_path):
    with pytest.raises(SampleError, match=r"3\.0 s long; at least 5 s"):
        prepare_sample(samples.short(tmp_path))


def test_silent(tmp_path):
    with pytest.raises(SampleError, match="silent"):
        prepare_sample(samples.silent(tmp_path))


def test_undecodable(tmp_path):
    with pytest.raises(SampleError, match="cannot decode") as caught:
        prepare_sample(samples.corrupt(tmp_path))
    # what is wrong with the file, not the decoder's name for our in-memory buffer
    assert str(caught.value) == "cannot decode corrupt.wav as WAV: Error in WAV/W64/RF64 file. Short 'fmt ' chunk."
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\0\0\0\0WAVEjunkjunk")
    with pytest.raises(SampleError, match=r"^cannot decode junk.wav as WAV: Error in WAV file. No 'data' chunk marker.$"):
        prepare_sample(junk)
    noise = bytes(range(256)) * 20
    (tmp_path / "bad.m4a").write_bytes(b"\0\0\0\x20ftypM4A " + noise)
    (tmp_path / "bad.mp3").write_bytes(b"ID3\3\0\0\0\0\0\0" + noise)
    for name, fmt in (("bad.m4a", "M4A"), ("bad.mp3", "MP3")):
        with pytest.raises(SampleError, match=rf"^cannot decode {name} as {fmt}: [^'<>]+$"):
            prepare_sample(tmp_path / name)


def test_missing_and_directory(tmp_path):
    with pytest.raises(SampleError, match="not found"):
        prepare_sample(tmp_path / "nope.wav")
    with pytest.raises(SampleError, match="directory"):
        prepare_sample(tmp_path)


def test_long_sample_is_cut_at_a_pause(tmp_path):
    path, original = samples.long_speech(tmp_path)
    assert original > 40
    prepared = prepare_sample(path)
    assert 20 <= prepared.seconds <= FIT_MAX_SECONDS
    assert prepared.format == "WAV" and len(prepared.data) <= MAX_BYTES
    assert any("trimmed" in note for note in prepared.notes)
    # cut at a pause: the last 50 ms before the fade are quiet compared with the speech
    x = prepared.samples
    rate = prepared.rate
    speech_rms = np.sqrt(np.mean(x**2))
    end_rms = np.sqrt(np.mean(x[-int(0.06 * rate) : -int(0.01 * rate)] ** 2))
    assert end_rms < speech_rms * 0.25
    decoded, sr = sf.read(__import__("io").BytesIO(prepared.data))
    assert len(decoded) / sr == pytest.approx(prepared.seconds, abs=0.01)


def test_strict_sample_refuses_instead_of_fitting(tmp_path):
    path, _ = samples.long_speech(tmp_path)
    with pytest.raises(SampleError, match="limit 30 s") as info:
        prepare_sample(path, strict=True)
    assert "--strict-sample" in info.value.hint
    with pytest.raises(SampleError, match="MB"):
        prepare_sample(samples.oversized(tmp_path), strict=True)


def test_oversized_sample_is_reencoded_under_the_limit(tmp_path):
    path = samples.oversized(tmp_path)
    assert path.stat().st_size > MAX_BYTES
    prepared = prepare_sample(path)
    assert len(prepared.data) <= MAX_BYTES
    assert prepared.format == "WAV" and prepared.rate == 48000
    assert prepared.seconds == pytest.approx(20.0, abs=0.01)
    info = sf.info(__import__("io").BytesIO(prepared.data))
    assert info.channels == 1 and info.subtype == "PCM_16"
    assert any("re-encoded" in note for note in prepared.notes)


def test_fitted_samples_are_accepted_by_the_contract_server(tmp_path, server):
    """The point of fitting: what we send is never refused."""
    client = SyncCloneClient(server.url + "/api/sync-clone", VALID_KEY)
    for path in (samples.long_speech(tmp_path)[0], samples.oversized(tmp_path)):
        audio = client.synthesize(prepare_sample(path), "Fits now.")
        assert audio.seconds > 0
    assert [r.status for r in server.requests] == [200, 200]
    # and the originals would have been refused by the server
    raw = SyncCloneClient(server.url + "/api/sync-clone", VALID_KEY)
    from voiceclone_cli.prepare.sample import PreparedSample

    path = samples.oversized(tmp_path)
    unfitted = PreparedSample(path.read_bytes(), "big.wav", "audio/wav", "WAV", 20.0, np.zeros(1), 48000, path)
    with pytest.raises(Exception, match="413"):
        raw.synthesize(unfitted, "Too big.")


def test_an_empty_sample_is_called_empty(tmp_path):
    empty = tmp_path / "zero.wav"
    empty.write_bytes(b"")
    for path in (empty, Path(os.devnull)):
        with pytest.raises(SampleError, match=f"^sample {path} is empty$"):
            prepare_sample(path)


def test_devices_and_sockets_are_refused_before_reading(tmp_path):
    """/dev/zero would never end; a socket cannot be opened as a file."""
    link = tmp_path / "zero.wav"
    link.symlink_to("/dev/zero")
    with pytest.raises(SampleError, match="is a character device, not an audio file"):
        prepare_sample(link)
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(tmp_path / "sock.wav"))
        with pytest.raises(SampleError, match="is a socket, not an audio file"):
            prepare_sample(tmp_path / "sock.wav")


def test_a_symlinked_sample_is_read_through_in_blocks(tmp_path):
    target = voice("p225/p225_023.wav")
    link = tmp_path / "link.wav"
    link.symlink_to(target)
    blocks = list(read_sample_blocks(link, block_size=4096))
    assert len(blocks) > 1 and b"".join(blocks) == target.read_bytes()


def test_a_long_low_rate_sample_is_fitted_at_its_own_rate(tmp_path):
    """8 kHz is below every standard fitting rate: it used to be refused as 'cannot be fitted'."""
    import soxr

    path, _ = samples.long_speech(tmp_path)
    x, rate = sf.read(path, dtype="float32")
    sf.write(path, soxr.resample(x, rate, 8000), 8000)
    prepared = prepare_sample(path)
    assert prepared.rate == 8000 and 20 <= prepared.seconds <= FIT_MAX_SECONDS
    assert any("trimmed" in note for note in prepared.notes)


@pytest.mark.parametrize("rate", [100, 7999, 400_000])
def test_implausible_sample_rates_are_refused(tmp_path, rate):
    path = tmp_path / "rate.wav"
    x, _ = samples.load(samples.REFERENCE)
    sf.write(path, x, rate)
    with pytest.raises(SampleError, match=f"declares a sample rate of {rate} Hz"):
        prepare_sample(path)


def test_float_samples_that_are_not_numbers_are_refused(tmp_path):
    x, rate = samples.load(samples.REFERENCE)
    x = x.copy()
    x[1000] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, x, rate, subtype="FLOAT")
    with pytest.raises(SampleError, match="not numbers"):
        prepare_sample(path)
