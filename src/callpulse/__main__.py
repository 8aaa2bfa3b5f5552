import sys

from callpulse.cli import main

sys.exit(main())
