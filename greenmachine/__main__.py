"""`python -m greenmachine` = the `greenmachine` command."""

import sys

from greenmachine.cli import main

sys.exit(main())
