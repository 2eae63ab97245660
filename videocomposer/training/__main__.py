"""``python -m videocomposer.training`` (e.g. ``torchrun --nproc_per_node N -m videocomposer.training ...``)."""
import sys

from .cli import cli_main

sys.exit(cli_main())
