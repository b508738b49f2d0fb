from voiceclone_cli.cli import entry

entry()
