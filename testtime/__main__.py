import sys

from testtime.cli import main

sys.exit(main())
