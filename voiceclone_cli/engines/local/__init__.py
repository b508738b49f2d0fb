"""The offline engine: Piper's joe voice moved towards the sample's voice, on the CPU.

- ``engine``: ``LocalEngine`` (the engine protocol; one loaded model per process);
- ``profile_cache``: voice profiles and the prepared model, cached by the sample's hash;
- ``cloner``: ``LocalCloner``, synthesis then voice matching for one chunk;
- ``synth``: Piper synthesis with phone alignments; ``profile``: sample analysis;
- ``matching``: the voice matching; ``dsp``, ``phones``, ``sample_labels``, ``joe_voice``: its parts.

Nothing heavy is imported here: the submodules load numpy, onnxruntime and WORLD when used.
"""
