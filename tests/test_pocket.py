"""The pocket engine end to end on a tiny, randomly initialised pocket-tts model.

No test downloads weights (the hub is never contacted: a loopback server stands in for it).
The model is built from pocket-tts's own classes and a shrunk copy of one of its shipped
configs, saved as a model folder and loaded by the adapter through pocket-tts's real loading
code. Its audio is noise, so the tests assert structure (rate, lengths, determinism, caching,
joins, streaming), never sound. The end-of-speech head is set to never fire, so a chunk's length
is pocket-tts's length budget for its tokens: it grows with the text.
"""

from __future__ import annotations

import http.server
import string
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import RecordingSink, voice
from voiceclone_cli.errors import ConfigError, EngineUnavailableError, ExitCode

needs_extra = pytest.mark.skipif(
    any(__import__("importlib").util.find_spec(m) is None for m in ("torch", "pocket_tts")),
    reason="the 'pocket' extra is not installed",
)

SHRUNK_FROM = "english_2m_2026-10.yaml"  # a shipped config, shrunk to a ~24k-parameter model
WORDS = "hi hello there this is a much longer sentence same words repeatable chunk speed and pitch come from the post-process number here to make text long streamed standard output twice"


def build_tiny_model(folder: Path) -> Path:
    """A model folder as ``fetch --to`` writes one: config.yaml, model.safetensors, tokenizer.json."""
    import safetensors.torch
    import tokenizers
    import torch
    import yaml
    from pocket_tts.models.mimi import build_mimi
    from pocket_tts.models.tts_model import TTSModel
    from pocket_tts.utils.config import CONFIGS_DIR, Config

    folder.mkdir(parents=True, exist_ok=True)
    # One token per word (as a real vocabulary has, roughly), so lengths stay short and fast.
    words = sorted({w.strip(".,!?").lower() for w in WORDS.split()} | set(string.punctuation))
    vocab = {"<unk>": 0, **{w: i + 1 for i, w in enumerate(words)}}
    tokenizer = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.normalizer = tokenizers.normalizers.Lowercase()
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tokenizer.save(str(folder / "tokenizer.json"))

    config = yaml.safe_load((CONFIGS_DIR / SHRUNK_FROM).read_text())
    config["weights_path"] = "model.safetensors"
    config.pop("weights_path_without_voice_cloning")
    flow_lm = config["flow_lm"]
    flow_lm["flow"].update(depth=1, dim=16)
    flow_lm["transformer"].update(d_model=32, num_heads=2, num_layers=1, dim_feedforward=32, attn_dim=32)
    flow_lm["lookup_table"].update(dim=32, n_bins=len(vocab), tokenizer="tokenizers",
                                   tokenizer_path="tokenizer.json", rank=8)
    flow_lm["z_dim"] = 16
    mimi = config["mimi"]
    mimi.update(inner_dim=8, outer_dim=16)
    mimi["seanet"].update(dimension=16, n_filters=2)
    mimi["decoder_seanet"].update(dimension=16, n_filters=2)
    small = {"d_model": 16, "num_heads": 2, "num_layers": 1, "context": 20, "dim_feedforward": 16,
             "input_dimension": 16, "output_dimensions": [16]}
    mimi["transformer"].update(small)
    mimi["decoder_transformer"].update(small)
    mimi["quantizer"].update(dimension=8, output_dimension=16)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    built = dict(config, flow_lm=dict(flow_lm, lookup_table=dict(
        flow_lm["lookup_table"], tokenizer_path=str(folder / "tokenizer.json"))))
    torch.manual_seed(0)
    parsed = Config(**built)
    model = TTSModel._from_pydantic_config(parsed, 0.3, 1, None, -1.0, origin=None)
    model.flow_lm.speaker_proj_weight = torch.nn.Parameter(torch.randn(32, 8) * 0.1)
    model.mimi = build_mimi(parsed.mimi)
    with torch.no_grad():  # never end early: a chunk's length is then its length budget
        model.flow_lm.out_eos.weight.zero_()
        model.flow_lm.out_eos.bias.fill_(-100.0)
    safetensors.torch.save_file(model.state_dict(), str(folder / "model.safetensors"))
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("pocket") / "model")


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    """No folder, an empty hub cache, no token, and a hub that is not there."""
    monkeypatch.delenv("VOICECLONE_POCKET_MODEL", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "2")
    return tmp_path / "hf" / "hub"


@pytest.fixture
def engine(tiny_model, hub_env, monkeypatch):
    from voiceclone_cli.engines.pocket import PLUGIN

    monkeypatch.setenv("VOICECLONE_POCKET_MODEL", str(tiny_model))
    made = PLUGIN.create(None)
    yield made
    made.close()


@pytest.fixture(scope="session")
def prepared():
    from voiceclone_cli.prepare.sample import prepare_sample

    return prepare_sample(voice("p225/p225_023.wav"))


# --- the model's own facts, as the adapter assumes them ---------------------------------------

@needs_extra
def test_adapter_constants_match_pocket_tts(engine):
    from pocket_tts.default_parameters import MAX_TOKEN_PER_CHUNK

    from voiceclone_cli.engines.pocket.engine import POCKET_TOKENS_PER_CHUNK

    assert POCKET_TOKENS_PER_CHUNK == MAX_TOKEN_PER_CHUNK
    assert engine.sample_rate == engine.model().sample_rate == 24000
    assert engine.max_workers == 1 and engine.cpu_bound
    assert engine.first_chunk_chars < engine.max_chunk_chars


@needs_extra
def test_model_loads_once_per_process_on_bounded_threads(engine, tiny_model, monkeypatch):
    import torch

    from voiceclone_cli.engines.pocket import PLUGIN

    engine.warm_up()
    first = engine.model()
    monkeypatch.setenv("VOICECLONE_POCKET_THREADS", "1")
    second = PLUGIN.create(None)
    assert second.model() is first
    assert torch.get_num_threads() == 1


# --- sample -> voice state -> cache ------------------------------------------------------------

@needs_extra
def test_voice_state_is_cached_by_sample_hash(engine, prepared, tiny_model):
    import torch

    from voiceclone_cli.engines.pocket import PLUGIN
    from voiceclone_cli.engines.pocket.voice_cache import voices_dir

    first = engine.prepare_voice(prepared)
    assert not first.from_cache
    stored = list(voices_dir().glob("*.safetensors"))
    assert len(stored) == 1 and stored[0].name.startswith(prepared.sha256[:40])

    again = PLUGIN.create(None).prepare_voice(prepared)
    assert again.from_cache
    assert again.state.keys() == first.state.keys()
    for module, tensors in first.state.items():
        for name, tensor in tensors.items():
            assert torch.equal(torch.nan_to_num(again.state[module][name]), torch.nan_to_num(tensor))
    # the cached state speaks exactly like the fresh one
    a = engine.synthesize("Same words.", first)
    b = engine.synthesize("Same words.", again)
    np.testing.assert_allclose(a.samples, b.samples, atol=1e-5)


@needs_extra
def test_a_saved_voice_reuses_the_state_of_its_sample(engine, prepared):
    """A saved voice's stored sample is byte for byte the prepared one: same hash, same state."""
    from voiceclone_cli.voices.library import VoiceLibrary

    assert not engine.prepare_voice(prepared).from_cache
    library = VoiceLibrary()
    library.add("me", voice("p225/p225_023.wav"), profile=False)
    saved = library.get("me").prepared_sample()
    assert saved.sha256 == prepared.sha256
    assert engine.prepare_voice(saved).from_cache


@needs_extra
def test_unusable_cache_entry_is_rebuilt(engine, prepared):
    from voiceclone_cli.engines.pocket.voice_cache import VoiceStateCache

    key = VoiceStateCache.key(prepared.sha256, engine.files.identity)
    path = engine.cache.path_for(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a safetensors file")
    voice_ = engine.prepare_voice(prepared)
    assert not voice_.from_cache
    assert path.stat().st_size > 100  # rewritten with the real state


@needs_extra
def test_no_cache_encodes_every_time(tiny_model, hub_env, monkeypatch, prepared):
    from voiceclone_cli.engines.pocket import PLUGIN
    from voiceclone_cli.engines.pocket.voice_cache import voices_dir

    monkeypatch.setenv("VOICECLONE_POCKET_MODEL", str(tiny_model))
    engine = PLUGIN.create(None, use_cache=False)
    assert not engine.prepare_voice(prepared).from_cache
    assert not engine.prepare_voice(prepared).from_cache
    assert not voices_dir().exists()


# --- synthesis ----------------------------------------------------------------------------------

@needs_extra
def test_length_grows_with_text_at_the_model_rate(engine, prepared):
    speaker = engine.prepare_voice(prepared)
    texts = ["Hi.", "Hello there, this is a sentence.", "Hello there, this is a much longer sentence, here to make text long."]
    short, longer, longest = (engine.synthesize(text, speaker) for text in texts)
    assert short.rate == longer.rate == longest.rate == 24000
    assert short.samples.dtype == np.float32 and short.samples.ndim == 1
    assert len(short.samples) < len(longer.samples) < len(longest.samples)
    frame = 24000 // 12.5  # one Mimi frame
    assert all(len(a.samples) % frame == 0 for a in (short, longer, longest))
    assert np.all(np.isfinite(longer.samples)) and np.abs(longer.samples).max() > 0


@needs_extra
def test_no_generation_thread_outlives_the_chunk_it_made(engine, prepared, monkeypatch):
    """pocket-tts leaves its generation thread running past the audio it returns; a process
    exiting then was aborted by the C++ runtime. Every chunk now ends with that thread."""
    import threading

    from pocket_tts.models import tts_model

    real_info = tts_model.logger.info

    def slow_tail(message, *args, **kwargs):  # widen the window the thread runs after the audio
        if threading.current_thread().name.endswith("(run_generation)") and "generation step" in message:
            threading.Event().wait(0.5)
        return real_info(message, *args, **kwargs)

    monkeypatch.setattr(tts_model.logger, "info", slow_tail)
    speaker = engine.prepare_voice(prepared)
    for text in ("Hi.", "Hello there, this is a sentence."):
        engine.synthesize(text, speaker)
        assert not [t for t in threading.enumerate() if t.name.endswith("(run_generation)") and t.is_alive()]


@needs_extra
def test_same_input_same_audio_and_the_seed_changes_it(engine, prepared, tiny_model):
    from voiceclone_cli.engines.pocket.engine import PocketEngine

    speaker = engine.prepare_voice(prepared)
    a = engine.synthesize("A repeatable chunk.", speaker)
    b = engine.synthesize("A repeatable chunk.", speaker)
    np.testing.assert_allclose(a.samples, b.samples, atol=1e-5)  # Mimi may batch frames differently

    reseeded = PocketEngine(engine.files, seed=7)
    c = reseeded.synthesize("A repeatable chunk.", speaker)
    assert len(c.samples) == len(a.samples)
    assert np.abs(c.samples - a.samples).max() > 1e-3
    assert reseeded.version != engine.version  # so the response cache never mixes them up


@needs_extra
def test_speed_and_pitch_are_applied_after_the_model(engine, prepared):
    speaker = engine.prepare_voice(prepared)
    text = "Speed and pitch come from the post-process."
    plain = engine.synthesize(text, speaker)
    faster = engine.synthesize(text, speaker, speed=2.0)
    slower = engine.synthesize(text, speaker, speed=0.5)
    higher = engine.synthesize(text, speaker, pitch=0.5)
    n = len(plain.samples)
    assert abs(len(faster.samples) - n / 2) <= n * 0.02
    assert abs(len(slower.samples) - n * 2) <= n * 0.02
    assert abs(len(higher.samples) - n) <= n * 0.02
    assert np.abs(higher.samples[: n // 2] - plain.samples[: n // 2]).max() > 1e-3


# --- the say pipeline: chunks, joins, streaming ---------------------------------------------------

@needs_extra
def test_speak_chunks_joins_and_streams_the_first_chunk_early(engine, prepared):
    from voiceclone_cli.speech import speak

    text = " ".join(f"Sentence number {n} is here to make the text long." for n in range(8))
    made = []
    real = engine.synthesize

    def counting(chunk, voice_, **kw):
        made.append(chunk)
        return real(chunk, voice_, **kw)

    engine.synthesize = counting
    written_after = []
    sink = RecordingSink(on_write=lambda: written_after.append(len(made)))
    result = speak(text, engine, engine.prepare_voice(prepared), sink, prefetch=2)

    assert result.chunks == len(made) >= 3
    assert len(made[0]) <= engine.first_chunk_chars
    assert max(len(c) for c in made) <= engine.max_chunk_chars
    assert written_after[0] < result.chunks  # first audio out before the last chunk is made
    assert sink.closed and sink.rate == result.rate == 24000
    assert len(result.joins) == result.chunks - 1
    assert abs(len(sink.samples) / sink.rate - result.seconds) < 1e-6


@needs_extra
def test_wav_on_a_stream_through_the_cached_engine(engine, prepared, tmp_path):
    import io

    from voiceclone_cli.audio.wav import parse_wav
    from voiceclone_cli.engines.cached import CachedEngine
    from voiceclone_cli.engines.response_cache import ResponseCache
    from voiceclone_cli.output.sinks import WavStreamSink
    from voiceclone_cli.speech import speak

    cached = CachedEngine(engine, ResponseCache())
    speaker = engine.prepare_voice(prepared)
    try:  # the engine-plugin API: the cache keeps the sample beside the engine's voice
        from voiceclone_cli.engines.cached import CachedVoice

        speaker = CachedVoice(prepared, speaker)
    except ImportError:  # before it (to drop once merged)
        pass
    out = io.BytesIO()
    first = speak("Streamed to standard output. Twice.", cached, speaker, WavStreamSink(out))
    audio = parse_wav(out.getvalue(), allow_streaming_size=True)
    assert audio.rate == 24000 and abs(audio.seconds - first.seconds) < 0.01
    again = speak("Streamed to standard output. Twice.", cached, speaker, RecordingSink())
    assert again.cache_hits == again.chunks


# --- error paths: no extra, no weights, no token, a broken folder ---------------------------------

def test_no_extra_is_exit_8_with_the_install_line(monkeypatch):
    from voiceclone_cli.engines.pocket import PLUGIN

    monkeypatch.setitem(sys.modules, "pocket_tts", None)  # what an uninstalled package looks like
    status = PLUGIN.status(None)
    assert not status.usable and "pocket_tts" in status.missing
    assert status.fix == "pip install 'voiceclone-cli[pocket]'"
    with pytest.raises(EngineUnavailableError) as caught:
        PLUGIN.create(None)
    assert caught.value.exit_code == ExitCode.ENGINE_UNAVAILABLE
    assert "voiceclone-cli[pocket]" in caught.value.hint


@needs_extra
def test_offline_without_weights_is_exit_8_saying_what_to_run(hub_env):
    from voiceclone_cli.engines.pocket import PLUGIN

    with pytest.raises(EngineUnavailableError) as caught:
        PLUGIN.create(None)
    assert "cannot be reached" in caught.value.message
    assert "voiceclone engines fetch pocket --to DIR" in caught.value.hint
    assert "VOICECLONE_POCKET_MODEL=DIR" in caught.value.hint
    assert not any(hub_env.rglob("*.safetensors"))


@needs_extra
def test_dry_run_plans_without_weights_and_downloads_nothing(hub_env):
    from voiceclone_cli.engines.pocket import PLUGIN

    planned = PLUGIN.create(None, require_key=False)
    assert planned.files is None and "model/absent" in planned.version
    with pytest.raises(EngineUnavailableError):
        planned.model()


class FakeHub:
    """A loopback stand-in for the model hub: gated files answer as the hub does for them
    (401 without a token, 403 with one not granted); ``files`` are served to ``GRANTED``."""

    GRANTED = "hf_granted_test_token"

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files = files or {}
        self.requests: list[str] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self._answer(body=False)

            def do_GET(self):
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                hub.requests.append(self.path)
                auth = self.headers.get("Authorization", "")
                name = self.path.split("/")[-1]
                if auth != f"Bearer {hub.GRANTED}" or name not in hub.files:
                    self.send_response(401 if not auth else 403)
                    self.send_header("X-Error-Code", "GatedRepo")
                    self.send_header("X-Error-Message", "Access to this model is restricted.")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = hub.files[name]
                self.send_response(200)
                self.send_header("ETag", f'"{abs(hash(data))}"')
                self.send_header("X-Repo-Commit", "0" * 40)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_hub(hub_env, monkeypatch):
    hub = FakeHub()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    yield hub
    hub.stop()


@needs_extra
def test_no_token_says_where_to_accept_the_terms(fake_hub):
    from voiceclone_cli.engines.pocket import PLUGIN

    status = PLUGIN.status(None)
    assert not status.usable and "token" in status.missing
    assert "accept the terms at https://huggingface.co/kyutai/pocket-tts" in status.missing
    assert status.fix == "HF_TOKEN=hf_... voiceclone engines fetch pocket"
    with pytest.raises(EngineUnavailableError) as caught:
        PLUGIN.create(None)
    assert "no model hub token" in caught.value.message
    assert "https://huggingface.co/kyutai/pocket-tts" in caught.value.hint
    assert "HF_TOKEN" in caught.value.hint
    assert fake_hub.requests  # the hub was really asked


@needs_extra
def test_refused_token_is_named_and_never_shown(fake_hub, monkeypatch):
    from voiceclone_cli.engines.pocket import PLUGIN

    secret = "hf_not_granted_secret_value"
    monkeypatch.setenv("HF_TOKEN", secret)
    status = PLUGIN.status(None)
    assert not status.usable and status.missing == "the weights (not downloaded yet)"
    with pytest.raises(EngineUnavailableError) as caught:
        PLUGIN.create(None)
    assert "refused this machine's token" in caught.value.message
    assert "accept the terms at https://huggingface.co/kyutai/pocket-tts" in caught.value.hint
    assert secret not in caught.value.message + caught.value.hint


@needs_extra
def test_fetch_fills_the_hub_cache_then_the_engine_is_usable(fake_hub, tiny_model, monkeypatch, tmp_path):
    from voiceclone_cli.engines.pocket import PLUGIN, weights

    # The default model's files, served by the stand-in hub under their real names.
    model_weights, tokenizer = weights.hub_files(weights.default_config())
    fake_hub.files = {model_weights.basename: b"weights bytes", tokenizer.basename: b"{}"}
    monkeypatch.setenv("HF_TOKEN", FakeHub.GRANTED)
    assert not PLUGIN.status(None).usable
    said = PLUGIN.fetch(None, quiet=True)
    fetched = weights.from_hub_cache()
    assert fetched.weights.read_bytes() == b"weights bytes"
    assert fetched.weights.is_relative_to(weights.hub_cache())
    assert str(fetched.weights.parent) in said
    assert PLUGIN.status(None).usable
    # a copied folder for a machine without the hub, with the names the config gives them
    folder = tmp_path / "copy"
    assert str(folder) in PLUGIN.fetch(None, into=folder, quiet=True)
    assert sorted(p.name for p in folder.iterdir()) == sorted(["config.yaml", *weights.file_names(weights.default_config())])
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("VOICECLONE_POCKET_MODEL", str(folder))
    assert PLUGIN.status(None).usable


@needs_extra
def test_folder_missing_a_file_names_it(tiny_model, hub_env, tmp_path, monkeypatch):
    import shutil

    from voiceclone_cli.engines.pocket import PLUGIN

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "tokenizer.json").unlink()
    monkeypatch.setenv("VOICECLONE_POCKET_MODEL", str(broken))
    assert "tokenizer.json" in PLUGIN.status(None).missing
    with pytest.raises(EngineUnavailableError, match="tokenizer.json"):
        PLUGIN.create(None)


@needs_extra
def test_damaged_weights_are_exit_8_not_a_traceback(tiny_model, hub_env, tmp_path, monkeypatch):
    import shutil

    from voiceclone_cli.engines.pocket import PLUGIN

    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_model, damaged)
    (damaged / "model.safetensors").write_bytes(b"\x00" * 64)
    monkeypatch.setenv("VOICECLONE_POCKET_MODEL", str(damaged))
    engine = PLUGIN.create(None)
    with pytest.raises(EngineUnavailableError, match="cannot load the pocket model") as caught:
        engine.model()
    assert "voiceclone engines fetch pocket" in caught.value.hint


def test_thread_count_setting_is_checked(monkeypatch):
    from voiceclone_cli.engines.pocket import threads_from_env

    assert threads_from_env({}) == 1
    assert threads_from_env({"VOICECLONE_POCKET_THREADS": "1"}) == 1
    for bad in ("0", "lots", "-1", "100000"):
        with pytest.raises(ConfigError, match="VOICECLONE_POCKET_THREADS"):
            threads_from_env({"VOICECLONE_POCKET_THREADS": bad})


# --- what the default install and `voiceclone engines` cost -----------------------------------------

def project_table() -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    from tests.conftest import REPO

    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_default_install_pulls_no_torch_and_the_extra_pins_the_cpu_build():
    import re

    project = project_table()
    base = {re.split(r"[<>=!~;\[ ]", dep)[0].lower() for dep in project["dependencies"]}
    assert not base & {"torch", "pocket-tts", "huggingface-hub"}
    assert "torch==2.13.0" in project["optional-dependencies"]["pocket"]
    assert project["entry-points"]["voiceclone.engines"]["pocket"] == "voiceclone_cli.engines.pocket:PLUGIN"


@needs_extra
def test_the_pocket_extra_pulls_in_nothing_gpl():
    """The core and its non-local extras stay MIT-compatible: GPL belongs to the local extra only."""
    import re
    from importlib import metadata

    def name(requirement: str) -> str:
        return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~;\[ (]", requirement.strip())[0]).lower()

    def licence(dist: metadata.Distribution) -> str:
        # The declared licence, not the whole License text: wheels paste in the texts of what
        # they bundle (scipy: the GCC runtime's GPL with its linking exception).
        declared = (dist.metadata.get("License") or "").strip().splitlines()[:1]
        classifiers = [c for c in dist.metadata.get_all("Classifier") or [] if c.startswith("License")]
        return " ".join([dist.metadata.get("License-Expression") or "", *declared, *classifiers])

    todo, seen, installed, copyleft = [name(r) for r in project_table()["optional-dependencies"]["pocket"]], set(), [], {}
    while todo:  # the installed dependency closure of the extra
        package = todo.pop()
        if package in seen:
            continue
        seen.add(package)
        try:
            dist = metadata.distribution(package)
        except metadata.PackageNotFoundError:  # an optional dependency nobody installed
            continue
        installed.append(package)
        if re.search(r"(?<!L)GPL|GNU General Public|Affero", licence(dist), re.IGNORECASE):
            copyleft[package] = licence(dist)[:60]
        todo += [name(r) for r in dist.requires or [] if "extra ==" not in r]
    assert {"pocket-tts", "torch", "numpy"} <= set(installed)  # the walk reached the dependencies
    assert not copyleft


@needs_extra
def test_the_extra_counts_as_installed_without_pedalboard(hub_env, monkeypatch):
    from voiceclone_cli.engines.pocket import PLUGIN

    monkeypatch.setitem(sys.modules, "pedalboard", None)
    assert "extra" not in PLUGIN.status(None).missing  # only the weights are missing here


def test_engine_status_never_imports_torch(hub_env):
    import os
    import subprocess

    code = ("import sys; from voiceclone_cli.engines.pocket import PLUGIN; "
            "status = PLUGIN.status(None); print(status.usable, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ),
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def _model_files(folder: Path):
    from voiceclone_cli.engines.pocket.weights import ModelFiles

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.safetensors").write_bytes(b"weights bytes")
    (folder / "tokenizer.json").write_bytes(b"{}")
    config = {"weights_path": "model.safetensors", "flow_lm": {"lookup_table": {"tokenizer_path": "tokenizer.json"}}}
    return ModelFiles(config, folder / "model.safetensors", folder / "tokenizer.json", origin=str(folder))


@needs_extra
def test_fetch_to_its_own_folder_keeps_the_weights_and_a_bad_folder_is_one_line(tmp_path):
    from voiceclone_cli.engines.pocket.weights import write_folder
    from voiceclone_cli.errors import OutputError

    model = _model_files(tmp_path / "model")
    write_folder(model, tmp_path / "model")  # --to the folder it already lives in
    assert model.weights.read_bytes() == b"weights bytes" and model.tokenizer.read_bytes() == b"{}"
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(OutputError, match="is not a folder"):
        write_folder(model, tmp_path / "a-file")
    with pytest.raises(OutputError, match="cannot write the model"):
        write_folder(model, tmp_path / "a-file" / "inside")
