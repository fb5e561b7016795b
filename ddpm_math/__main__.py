"""``python -m ddpm_math``: the ``ddpm-math`` command line (see :mod:`ddpm_math.cli`)."""

import sys

from ddpm_math.cli import main

sys.exit(main())
