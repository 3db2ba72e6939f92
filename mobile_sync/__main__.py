"""``python -m mobile_sync`` (see ``mobile_sync.cli``)."""

import sys

from mobile_sync.cli import main

sys.exit(main())
