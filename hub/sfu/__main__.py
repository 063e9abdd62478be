"""`python -m hub.sfu`: the SFU worker (`hub sfu-worker`), without the rest of the hub."""

import sys

from hub.sfu.worker_command import main

sys.exit(main())
