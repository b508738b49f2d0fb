"""Measured statistics of the Piper en_US joe voice (the conversion source).

Measured once, during the local engine's development, from 53 s of Piper joe speech (22
sentences), with the same analysis as the voice-sample side (Harvest F0 up to 300 Hz, CheapTrick,
long-term envelope of the louder voiced frames, median LPC formants, F0
percentiles). Fixed values make
the conversion independent of how the text is chunked: a short chunk would give noisy
statistics of its own.
"""

#: ln F0 at the percentiles dsp.F0_PERCENTILES (2, 6, ..., 98) of voiced frames.
JOE_LOG_F0_QUANTILES = (
    4.3810,
    4.4661,
    4.5287,
    4.5568,
    4.5787,
    4.6064,
    4.6354,
    4.6713,
    4.7095,
    4.7474,
    4.7860,
    4.8320,
    4.8868,
    4.9487,
    5.0039,
    5.0540,
    5.0910,
    5.1290,
    5.1571,
    5.1883,
    5.2180,
    5.2506,
    5.3138,
    5.3884,
    5.5117,
)
JOE_FORMANTS_HZ = (431.9, 1341.5, 2493.0)
#: First 40 real-cepstrum coefficients (FFT size 1024) of the long-term log envelope.
JOE_ENVELOPE_CEPSTRUM = (
    -13.130490,
    3.009210,
    -0.382879,
    0.816395,
    0.153533,
    0.049983,
    0.138391,
    0.295988,
    0.322632,
    -0.026516,
    -0.047883,
    -0.051388,
    -0.022788,
    0.166385,
    -0.072420,
    -0.041688,
    -0.029948,
    -0.054167,
    0.109415,
    -0.084204,
    -0.037006,
    -0.084626,
    -0.053319,
    -0.098611,
    -0.054445,
    -0.111085,
    0.013303,
    -0.046081,
    0.009287,
    -0.063331,
    0.029127,
    -0.125820,
    0.040060,
    -0.112475,
    0.052819,
    -0.032666,
    -0.024943,
    -0.000497,
    -0.073126,
    0.016945,
)
