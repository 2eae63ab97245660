"""Fine-tuning the VideoComposer UNet: task configs, video datasets, the training loop, checkpoints.

from videocomposer.training import load_train_config, train
cfg = load_train_config("train_exp02_motion_transfer", ["max_steps=100"], output_dir="runs/a",
                        weights_dir="model_weights", root_dir="datasets/webvid5")
summary = train(cfg)
"""

from .config import ConfigError, TrainConfig, load_train_config
from .summary import TrainSummary
from .trainer import Trainer, train

__all__ = ["ConfigError", "TrainConfig", "TrainSummary", "Trainer", "load_train_config", "train"]
