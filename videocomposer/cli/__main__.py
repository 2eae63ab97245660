"""``python -m videocomposer.cli COMMAND ...`` (e.g. ``torchrun --nproc_per_node N -m videocomposer.cli train ...``)."""

import sys

from . import main

sys.exit(main())
