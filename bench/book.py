#!/usr/bin/env python3
"""``voiceclone book`` on a generated book against a loopback server with 300 ms latency.

1. Wall time of the command a user runs, ``voiceclone book BOOK.epub -s SAMPLE -o BOOK.m4b -j 4``,
   from its start to its exit, against the ideal (requests x latency / 4): target >= 90 %, as the
   median of ``--runs`` runs (each printed, with the start-up before the first chapter, the time
   spent on the requests while finished chapters are measured and encoded, and the finishing
   after the last one), next to what one request alone takes here (the ideal's floor).
2. Peak RSS of that command (the largest of its processes), at 30,000 and at 300,000
   characters: target < 300 MB, flat.
3. A run SIGKILLed once half of the book's requests are answered, then run again: the requests
   the re-run sends (target: the other half).
4. ``voiceclone book --list`` of the 300,000-character EPUB: target < 1 s.

The server answers with cuts of the example sample (real speech), not its usual tone: what the
run does with the audio, encoding above all, costs what it costs on speech (FFmpeg's AAC
encoder is three times slower on a pure tone at this level). Only 127.0.0.1 is contacted;
everything lives in a temporary folder removed at the end; the script stops by itself.

    python bench/book.py [--chars 300000] [--small 30000] [--latency 0.3] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fakeserver import VALID_KEY, FakeSyncCloneServer  # noqa: E402

SAMPLE = REPO / "examples" / "sample.wav"
CHAPTERS = 20


ONE_REQUEST = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from bench.book import sentences
    import voiceclone_cli as vc

    engine = vc.get_engine("remote", max_workers=1)
    voice = engine.prepare_voice(vc.prepare_sample(Path(sys.argv[1])))
    times = []
    for n in range(6):  # distinct texts of a full chunk's length: no cache hit
        text = " ".join(sentences(1000 + n, 11))
        started = time.monotonic()
        engine.synthesize(text, voice)
        times.append(time.monotonic() - started)
    print(sorted(times[1:])[2])
""")


def sentences(chapter: int, count: int) -> list[str]:
    return [f"In chapter {chapter}, sentence {i} tells a little more of this generated story." for i in range(count)]


def generated_book(chars: int):
    from voiceclone_cli.book.model import Book, Chapter

    per_chapter = max(1, chars // CHAPTERS // 80)
    return Book("Generated", "Bench", chapters=[
        Chapter(n, f"Chapter {n}", " ".join(sentences(n, per_chapter))) for n in range(1, CHAPTERS + 1)])


def speech(rate: int):
    """The example sample at ``rate``: the server answers with cuts of it."""
    import soundfile as sf
    import soxr

    samples, sample_rate = sf.read(SAMPLE, dtype="float32", always_2d=True)
    return soxr.resample(samples.mean(axis=1), sample_rate, rate)


def write_epub(path: Path, chars: int) -> None:
    """A plain EPUB 3: spine, nav, one XHTML file a chapter."""
    book = generated_book(chars)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", '<?xml version="1.0"?><container version="1.0" '
                   'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile '
                   'full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>')
        items = "".join(f'<item id="c{c.number}" href="c{c.number}.xhtml" media-type="application/xhtml+xml"/>'
                        for c in book.chapters)
        spine = "".join(f'<itemref idref="c{c.number}"/>' for c in book.chapters)
        z.writestr("OEBPS/content.opf", '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" '
                   'version="3.0" unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
                   '<dc:identifier id="id">bench</dc:identifier><dc:title>Generated</dc:title>'
                   '<dc:creator>Bench</dc:creator><dc:language>en</dc:language></metadata><manifest>'
                   '<item id="nav" href="nav.xhtml" properties="nav" media-type="application/xhtml+xml"/>'
                   f'{items}</manifest><spine>{spine}</spine></package>')
        links = "".join(f'<li><a href="c{c.number}.xhtml">{c.title}</a></li>' for c in book.chapters)
        z.writestr("OEBPS/nav.xhtml", '<html xmlns="http://www.w3.org/1999/xhtml" '
                   'xmlns:epub="http://www.idpf.org/2007/ops"><body><nav epub:type="toc"><ol>'
                   f'{links}</ol></nav></body></html>')
        for c in book.chapters:
            z.writestr(f"OEBPS/c{c.number}.xhtml", '<html xmlns="http://www.w3.org/1999/xhtml"><body>'
                       f'<h1>{c.title}</h1><p>{c.text}</p></body></html>')


def run(epub: Path, out: Path, env: dict) -> subprocess.Popen:
    """``voiceclone book`` itself, as a user runs it; its ``--json`` summary comes on stdout."""
    proc = subprocess.Popen([sys.executable, "-m", "voiceclone_cli", "book", str(epub), "-s", str(SAMPLE),
                             "-o", str(out), "-j", "4", "--json", "-q"],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=tempfile.TemporaryFile())
    return proc


def finish(proc: subprocess.Popen) -> dict:
    """The summary, with the peak RSS of the command (the largest of its processes)."""
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        proc.stderr.seek(0)
        raise SystemExit(f"the book run failed (exit {proc.returncode}):\n{proc.stderr.read().decode(errors='replace')}")
    return {**json.loads(out.decode().strip().splitlines()[-1]), "rss_mb": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, default=300_000)
    parser.add_argument("--small", type=int, default=30_000)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--runs", type=int, default=3,
                        help="runs of the large book; this machine's speed drifts, so the median is the figure")
    args = parser.parse_args()
    server = FakeSyncCloneServer().start()
    server.state.latency = args.latency
    server.state.speech = speech(server.state.rate)  # encoders run 3x slower on the server's tone
    work = Path(tempfile.mkdtemp(prefix="voiceclone-bench-book-"))
    try:
        def env(cache: str) -> dict:
            return {**os.environ, "VOICECLONE_ENDPOINT": server.url, "VOICECLONE_API_KEY": VALID_KEY,
                    "VOICECLONE_CACHE_DIR": str(work / cache), "VOICECLONE_CONFIG_DIR": str(work / "config"),
                    "PYTHONPATH": str(REPO)}

        one = float(subprocess.run([sys.executable, "-c", ONE_REQUEST, str(SAMPLE)], env=env("cache-one"), cwd=REPO,
                                   capture_output=True, text=True, check=True).stdout)
        print(f"one request alone, a full chunk: {one * 1000:.0f} ms (the ideal counts {args.latency * 1000:.0f} ms: "
              f"at most {args.latency / one:.0%} of ideal is reachable here)")
        rss = {}
        for chars in (args.small, args.chars):
            epub = work / f"book{chars}.epub"
            write_epub(epub, chars)
            shares = []
            for attempt in range(args.runs if chars == args.chars else 1):
                server.requests.clear()
                started = time.monotonic()
                result = finish(run(epub, work / f"book{chars}.m4b", env(f"cache{chars}-{attempt}")))
                wall = time.monotonic() - started
                rss[chars] = max(rss.get(chars, 0), result["rss_mb"])
                ideal = result["requests"] * args.latency / 4
                shares.append(ideal / wall)
                if not attempt:
                    print(f"{chars:,} characters: {result['requests']} requests, {result['seconds'] / 60:.0f} min of audio")
                print(f"  wall {wall:.1f} s, ideal {ideal:.1f} s at -j 4: {ideal / wall:.0%} of ideal (target >= 90 %)")
                print(f"    of which: start-up {wall - result['elapsed_seconds']:.1f} s, requests and chapter audio "
                      f"{result['synthesis_seconds']:.1f} s ({ideal / result['synthesis_seconds']:.0%} of ideal; chapters "
                      f"are measured and encoded meanwhile), then "
                      f"{result['elapsed_seconds'] - result['synthesis_seconds']:.1f} s to finish "
                      f"(the last chapter's encoding, chapters encoded again at the book's gain, the join)")
                print(f"    peak RSS {result['rss_mb']:.0f} MB (target < 300 MB)")
            if len(shares) > 1:
                print(f"  {len(shares)} runs: median {statistics.median(shares):.0%} of ideal "
                      f"({min(shares):.0%}-{max(shares):.0%}; target >= 90 %)")
        print(f"RSS from {args.small:,} to {args.chars:,} characters: {rss[args.small]:.0f} -> {rss[args.chars]:.0f} MB")

        epub = work / f"book{args.chars}.epub"
        total = result["requests"]
        server.requests.clear()
        proc = run(epub, work / "killed.m4b", env("cache-kill"))
        while len(server.requests) < total // 2 + 4:  # + those in flight, which are not answered
            if proc.poll() is not None:
                raise SystemExit("the run ended before it could be killed")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        answered = sum(1 for r in server.requests if r.status == 200)
        server.requests.clear()
        finish(run(epub, work / "killed.m4b", env("cache-kill")))
        resent = len(server.requests) - (total - answered)
        print(f"kill at 50 %: {answered} of {total} answered before the kill; the re-run sent "
              f"{len(server.requests)} (target {total - answered}"
              + (f"; {resent} more: answered as the run was killed, never received whole or stored" if resent > 0 else "")
              + ")")

        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "voiceclone_cli", "book", str(epub), "--list"], env=env("c"),
                       stdout=subprocess.DEVNULL, check=True)
        print(f"--list of {args.chars:,} characters: {time.monotonic() - started:.2f} s (target < 1 s)")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
