import sys

from bench.peer.runner import main

sys.exit(main())
