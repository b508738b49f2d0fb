import sys

from voiceclone_cli.cli import main

sys.exit(main())
