"""voiceclone: clone a voice from a short sample and speak any text in it.

Importing the package is cheap on purpose: heavy libraries load inside the functions that
need them, so ``voiceclone --help`` stays fast.
"""

__version__ = "0.1.0"
