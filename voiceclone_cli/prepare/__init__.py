"""Preparation: everything the service would refuse is caught here, before any request.

- ``sample``: sniff, decode, validate and fit the voice sample (what is uploaded);
- ``text``: read and clean the text (escapes, invisible characters, encodings);
- ``chunking``: split long text into request-sized chunks at natural boundaries.
"""
