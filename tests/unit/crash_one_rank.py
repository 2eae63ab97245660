"""Run ``videocomposer train`` under torchrun with rank 1 raising in its second training step (for
``test_training_distributed``): a real failure inside one process of a real multi-process run."""

import os
import sys

from videocomposer.cli import main
from videocomposer.training import Trainer

real_loss = Trainer._micro_batch_loss


def failing_loss(self, batch):
    if int(os.environ["RANK"]) == 1 and self.step == 1:
        raise RuntimeError("injected failure")
    return real_loss(self, batch)


Trainer._micro_batch_loss = failing_loss
sys.exit(main(["train", *sys.argv[1:]]))
