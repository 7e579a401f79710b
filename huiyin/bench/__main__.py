import sys

from huiyin.bench.runner import main

sys.exit(main())
