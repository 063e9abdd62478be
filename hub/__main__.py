"""Allow `python -m hub` as an alias of the `hub` console command."""

import sys

from hub.cli import main

sys.exit(main())
