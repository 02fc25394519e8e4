"""`python -m synapse_bot` is `synapse-bot run` (other subcommands: check, demo)."""

import sys

from synapse_bot.cli import main

sys.exit(main(sys.argv[1:]))
