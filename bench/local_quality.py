"""Quality/speed benchmark of the offline local engine (voiceclone_cli.engines.local).

For each speaker in the shared voice set, the ``reference`` clip is the voice sample;
fixed sentences are synthesised with Piper joe and converted to that voice. Reported:

- sim: Resemblyzer (GE2E) cosine between output and the reference clip (mean over
  sentences); ceil: same for the speaker's held-out clips (same-speaker ceiling);
  floor: same for bare Piper joe.
- WER / WER piper: PocketSphinx (default en-us decoder) word error rate of the output /
  of bare Piper against the sentence text (jiwer, lower-case [a-z' ] words).
- RTF: (synthesis + conversion time) / output duration.
- 1st: latency of the first sentence (synthesis + conversion) with a cached profile.
- anal: sample analysis time. TTFA new / cached: time to the first audio for a
  first-ever call (analysis + npz save + first sentence) and for a call that loads the
  profile from the npz cache; ratio = new / cached.

With ``--engine pocket`` the same speakers and sentences are spoken by the pocket engine
(Kyutai pocket-tts, the ``pocket`` extra) and its similarity, WER, RTF and time to first audio
are printed beside the embedded engine's. Without the pocket weights on this machine (they come
from the model hub: ``voiceclone engines fetch pocket``) it prints "weights absent" and what is
missing, and measures nothing.

Run with the benchmark venv (torch, resemblyzer, jiwer, pocketsphinx + engine deps):

    /work/benchvenv/bin/python bench/local_quality.py [--engine local|pocket] [--voices DIR]
        [--speakers a,b] [--sentences N] [--save-dir DIR]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from voiceclone_cli.engines.local.matching import convert  # noqa: E402
from voiceclone_cli.engines.local.profile import VoiceProfile, analyze_sample  # noqa: E402
from voiceclone_cli.engines.local.synth import PiperSynth  # noqa: E402

SENTENCES = [
    "The old lighthouse keeper walked slowly along the rocky shore every morning.",
    "Please remember to bring your umbrella, because it might rain later this afternoon.",
    "She opened the letter carefully and smiled when she read the good news.",
    "Fresh bread from the bakery on the corner smells wonderful in the winter.",
    "We should finish the project before the deadline next Thursday evening.",
    "The children played happily in the garden until the sun went down.",
    "My brother bought a small boat and sails it across the lake on weekends.",
    "Turn left at the second traffic light and the museum will be on your right.",
]

JUDGE_RATE = 16000


# --------------------------------------------------------------------------- data


@dataclass
class Speaker:
    name: str
    reference: Path
    heldout: list[Path] = field(default_factory=list)


def find_speakers(voices: Path) -> list[Speaker]:
    """Speakers from MANIFEST.tsv roles, or (without a manifest) the longest WAV per
    folder as the reference and the other WAVs as held-out clips."""
    manifest = voices / "MANIFEST.tsv"
    speakers: dict[str, Speaker] = {}
    if manifest.exists():
        with open(manifest, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                path = voices / row["path"]
                spk = speakers.setdefault(row["speaker_id"], Speaker(row["speaker_id"], Path()))
                if row["role"] == "reference":
                    spk.reference = path
                elif row["role"] == "heldout":
                    spk.heldout.append(path)
    else:
        import soundfile as sf

        for folder in sorted(p for p in voices.iterdir() if p.is_dir()):
            wavs = sorted(folder.glob("*.wav"))
            if not wavs:
                continue
            wavs.sort(key=lambda p: sf.info(str(p)).duration, reverse=True)
            speakers[folder.name] = Speaker(folder.name, wavs[0], wavs[1:])
    return [s for s in speakers.values() if s.reference != Path()]


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return x.mean(axis=1), sr


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    import soxr

    return x if rate_in == rate_out else soxr.resample(x, rate_in, rate_out)


# --------------------------------------------------------------------------- judges


class Judge:
    """Resemblyzer similarity and PocketSphinx WER, as specified for this project."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder
        from resemblyzer import VoiceEncoder

        self.encoder = VoiceEncoder("cpu", verbose=False)
        self.decoder = Decoder(samprate=JUDGE_RATE, loglevel="FATAL")

    def embed(self, x: np.ndarray, rate: int) -> np.ndarray:
        from resemblyzer import preprocess_wav

        wav = preprocess_wav(resample(np.asarray(x, np.float32), rate, JUDGE_RATE), source_sr=JUDGE_RATE)
        return self.encoder.embed_utterance(wav)

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))

    def transcribe(self, x: np.ndarray, rate: int) -> str:
        y = resample(np.asarray(x, np.float64), rate, JUDGE_RATE)
        peak = np.max(np.abs(y)) if len(y) else 0.0
        if peak > 0:
            y = y * (0.9 / peak)
        self.decoder.start_utt()
        self.decoder.process_raw((y * 32767).astype(np.int16).tobytes(), full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    def wer(self, x: np.ndarray, rate: int, text: str) -> float:
        import jiwer

        hyp = normalise_words(self.transcribe(x, rate))
        return float(jiwer.wer(normalise_words(text), hyp if hyp else "<empty>"))


def normalise_words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())


# --------------------------------------------------------------------------- run


@dataclass
class SpeakerResult:
    name: str
    sim: float
    ceil: float
    floor: float
    wer: float
    wer_piper: float
    rtf: float
    first_chunk_s: float
    analysis_s: float
    ttfa_new_s: float
    ttfa_cached_s: float

    @property
    def ttfa_ratio(self) -> float:
        return self.ttfa_new_s / max(self.ttfa_cached_s, 1e-9)


def run_speaker(spk: Speaker, synth: PiperSynth, judge: Judge, sentences: list[str],
                piper_cache: dict, save_dir: Path | None, cache_dir: Path) -> SpeakerResult:
    ref, ref_rate = read_audio(spk.reference)
    ref_embed = judge.embed(ref, ref_rate)
    ceil = [judge.similarity(judge.embed(*read_audio(p)), ref_embed) for p in spk.heldout]

    # First-ever call: analyse the sample, cache it, speak the first sentence.
    cache_file = cache_dir / f"{spk.name}.npz"
    t0 = time.perf_counter()
    profile = analyze_sample(ref, ref_rate)
    analysis_s = time.perf_counter() - t0
    np.savez(cache_file, **profile.to_arrays())
    convert(synth.synthesize(sentences[0]), profile)
    ttfa_new = time.perf_counter() - t0

    # Second call: profile from the cache.
    t0 = time.perf_counter()
    with np.load(cache_file, allow_pickle=False) as data:
        profile = VoiceProfile.from_arrays(dict(data))
    convert(synth.synthesize(sentences[0]), profile)
    ttfa_cached = time.perf_counter() - t0

    sims, wers, floors, wers_piper = [], [], [], []
    busy, audio_s, first_chunk = 0.0, 0.0, 0.0
    for n, text in enumerate(sentences):
        t0 = time.perf_counter()
        result = synth.synthesize(text)
        y = convert(result, profile)
        elapsed = time.perf_counter() - t0
        if n == 0:
            first_chunk = elapsed
        busy += elapsed
        rate = result.audio.rate
        audio_s += len(y) / rate
        sims.append(judge.similarity(judge.embed(y, rate), ref_embed))
        wers.append(judge.wer(y, rate, text))
        if text not in piper_cache:
            piper_cache[text] = (result.audio.samples, rate, judge.wer(result.audio.samples, rate, text))
        bare, bare_rate, bare_wer = piper_cache[text]
        floors.append(judge.similarity(judge.embed(bare, bare_rate), ref_embed))
        wers_piper.append(bare_wer)
        if save_dir is not None:
            import soundfile as sf

            sf.write(str(save_dir / f"{spk.name}_{n}.wav"), y, rate)

    return SpeakerResult(
        name=spk.name,
        sim=float(np.mean(sims)),
        ceil=float(np.mean(ceil)) if ceil else float("nan"),
        floor=float(np.mean(floors)),
        wer=float(np.mean(wers)),
        wer_piper=float(np.mean(wers_piper)),
        rtf=busy / max(audio_s, 1e-9),
        first_chunk_s=first_chunk,
        analysis_s=analysis_s,
        ttfa_new_s=ttfa_new,
        ttfa_cached_s=ttfa_cached,
    )


COLUMNS = [
    ("speaker", "name", "{}"), ("sim", "sim", "{:.3f}"), ("ceil", "ceil", "{:.3f}"),
    ("floor", "floor", "{:.3f}"), ("WER", "wer", "{:.3f}"), ("WER piper", "wer_piper", "{:.3f}"),
    ("RTF", "rtf", "{:.3f}"), ("1st s", "first_chunk_s", "{:.2f}"), ("anal s", "analysis_s", "{:.2f}"),
    ("TTFA new", "ttfa_new_s", "{:.2f}"), ("TTFA cached", "ttfa_cached_s", "{:.2f}"),
    ("ratio", "ttfa_ratio", "{:.1f}"),
]


@dataclass
class PocketResult:
    """The pocket engine on one speaker, beside the embedded engine's numbers."""

    name: str
    sim: float
    sim_local: float
    ceil: float
    wer: float
    wer_local: float
    rtf: float
    rtf_local: float
    first_chunk_s: float
    encode_s: float
    ttfa_new_s: float
    ttfa_cached_s: float


POCKET_COLUMNS = [
    ("speaker", "name", "{}"), ("sim pocket", "sim", "{:.3f}"), ("sim local", "sim_local", "{:.3f}"),
    ("ceil", "ceil", "{:.3f}"), ("WER pocket", "wer", "{:.3f}"), ("WER local", "wer_local", "{:.3f}"),
    ("RTF pocket", "rtf", "{:.3f}"), ("RTF local", "rtf_local", "{:.3f}"), ("1st s", "first_chunk_s", "{:.2f}"),
    ("enc s", "encode_s", "{:.2f}"), ("TTFA new", "ttfa_new_s", "{:.2f}"), ("TTFA cached", "ttfa_cached_s", "{:.2f}"),
]


def run_pocket_speaker(spk: Speaker, engine, judge: Judge, sentences: list[str], local: SpeakerResult,
                       save_dir: Path | None) -> PocketResult:
    """Time to first audio new (encode the sample, cache the state, first sentence) and cached
    (state from the cache, first sentence), then every sentence judged like the local engine's."""
    from voiceclone_cli.prepare.sample import prepare_sample

    ref, ref_rate = read_audio(spk.reference)
    ref_embed = judge.embed(ref, ref_rate)
    ceil = [judge.similarity(judge.embed(*read_audio(p)), ref_embed) for p in spk.heldout]
    sample = prepare_sample(spk.reference)

    t0 = time.perf_counter()
    voice = engine.prepare_voice(sample)
    encode_s = time.perf_counter() - t0
    engine.synthesize(sentences[0], voice)
    ttfa_new = time.perf_counter() - t0
    t0 = time.perf_counter()
    voice = engine.prepare_voice(sample)
    engine.synthesize(sentences[0], voice)
    ttfa_cached = time.perf_counter() - t0

    sims, wers = [], []
    busy, audio_s, first_chunk = 0.0, 0.0, 0.0
    for n, text in enumerate(sentences):
        t0 = time.perf_counter()
        audio = engine.synthesize(text, voice)
        elapsed = time.perf_counter() - t0
        first_chunk = first_chunk or elapsed
        busy += elapsed
        audio_s += audio.seconds
        sims.append(judge.similarity(judge.embed(audio.samples, audio.rate), ref_embed))
        wers.append(judge.wer(audio.samples, audio.rate, text))
        if save_dir is not None:
            import soundfile as sf

            sf.write(str(save_dir / f"{spk.name}_pocket_{n}.wav"), audio.samples, audio.rate)
    return PocketResult(
        name=spk.name, sim=float(np.mean(sims)), sim_local=local.sim,
        ceil=float(np.mean(ceil)) if ceil else float("nan"), wer=float(np.mean(wers)),
        wer_local=local.wer, rtf=busy / max(audio_s, 1e-9), rtf_local=local.rtf,
        first_chunk_s=first_chunk, encode_s=encode_s, ttfa_new_s=ttfa_new, ttfa_cached_s=ttfa_cached,
    )


def pocket_engine():
    """The pocket engine if its extra and weights are here, else None (after saying what is missing)."""
    from voiceclone_cli.engines.pocket import PLUGIN

    status = PLUGIN.status(None)
    if not status.usable:
        print(f"pocket: weights absent — nothing measured ({status.missing}; {status.fix})", flush=True)
        return None
    return PLUGIN.create(None)


def format_table(results: list, columns: list = COLUMNS) -> str:
    rows = [[fmt.format(getattr(r, attr)) for _, attr, fmt in columns] for r in results]
    mean = ["mean"] + [
        fmt.format(float(np.nanmean([getattr(r, attr) for r in results])))
        for _, attr, fmt in columns[1:]
    ]
    header = [title for title, _, _ in columns]
    widths = [max(len(row[i]) for row in [header, *rows, mean]) for i in range(len(header))]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    sep = "  ".join("-" * w for w in widths)
    out = io.StringIO()
    print(line(header), file=out)
    print(sep, file=out)
    for row in rows:
        print(line(row), file=out)
    print(sep, file=out)
    print(line(mean), file=out)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("local", "pocket"), default="local",
                        help="local: the embedded engine alone; pocket: the pocket engine beside it")
    parser.add_argument("--voices", type=Path, default=REPO_ROOT.parent / "shared" / "voices",
                        help="voice set (default: ../shared/voices from the repo root)")
    parser.add_argument("--speakers", default="", help="comma-separated speaker ids (default: all)")
    parser.add_argument("--sentences", type=int, default=len(SENTENCES),
                        help=f"fixed sentences per speaker (1-{len(SENTENCES)}, default all; 3 is quicker but noisier)")
    parser.add_argument("--save-dir", type=Path, default=None, help="write converted WAVs here")
    parser.add_argument("--json", type=Path, default=None, help="also write results as JSON")
    args = parser.parse_args(argv)

    sentences = SENTENCES[: max(1, min(args.sentences, len(SENTENCES)))]
    speakers = find_speakers(args.voices)
    if args.speakers:
        wanted = set(args.speakers.split(","))
        speakers = [s for s in speakers if s.name in wanted]
    if not speakers:
        print(f"no speakers found in {args.voices}", file=sys.stderr)
        return 1
    if args.save_dir is not None:
        args.save_dir.mkdir(parents=True, exist_ok=True)

    pocket = None
    if args.engine == "pocket":
        pocket = pocket_engine()
        if pocket is None:
            return 0

    t0 = time.perf_counter()
    synth = PiperSynth.load()
    print(f"Piper load: {time.perf_counter() - t0:.2f} s", flush=True)
    judge = Judge()
    piper_cache: dict = {}
    results, pocket_results = [], []
    with tempfile.TemporaryDirectory() as cache_dir:
        if pocket is not None:  # voice states go to a fresh cache: "TTFA new" really encodes
            import os

            os.environ["VOICECLONE_CACHE_DIR"] = cache_dir
            from voiceclone_cli.engines.pocket.voice_cache import VoiceStateCache

            pocket.cache = VoiceStateCache()
        for spk in speakers:
            r = run_speaker(spk, synth, judge, sentences, piper_cache, args.save_dir, Path(cache_dir))
            results.append(r)
            print(f"{r.name}: sim {r.sim:.3f} (ceil {r.ceil:.3f}, floor {r.floor:.3f}) "
                  f"WER {r.wer:.3f} (piper {r.wer_piper:.3f}) RTF {r.rtf:.3f}", flush=True)
            if pocket is not None:
                p = run_pocket_speaker(spk, pocket, judge, sentences, r, args.save_dir)
                pocket_results.append(p)
                print(f"{p.name}: pocket sim {p.sim:.3f} WER {p.wer:.3f} RTF {p.rtf:.3f}", flush=True)
    print()
    print(f"{len(speakers)} speakers x {len(sentences)} sentences")
    print(format_table(results))
    if pocket_results:
        print("pocket engine beside the local (embedded) engine:")
        print(format_table(pocket_results, POCKET_COLUMNS))
    if args.json is not None:
        payload = [dict(r.__dict__, ttfa_ratio=r.ttfa_ratio) for r in results]
        if pocket_results:
            payload = {"local": payload, "pocket": [p.__dict__ for p in pocket_results]}
        args.json.write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
