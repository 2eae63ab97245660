"""Exponential moving average of the trainable weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn


class EMA:
    """``shadow ← decay·shadow + (1 − decay)·param`` after every optimizer step, in fp32.

    Only the trainable parameters are tracked; :meth:`full_state_dict` fills in the frozen ones from the
    model so the result loads wherever the raw weights load.
    """

    def __init__(self, named_params: Sequence[tuple[str, nn.Parameter]], decay: float):
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"ema decay must be in [0, 1], got {decay}")
        self.decay = decay
        self.num_updates = 0
        self.shadow: dict[str, torch.Tensor] = {
            name: param.detach().to(torch.float32, copy=True) for name, param in named_params
        }

    @torch.no_grad()
    def update(self, named_params: Sequence[tuple[str, nn.Parameter]]) -> None:
        """Move the shadow towards the current parameters (call after each optimizer step)."""
        for name, param in named_params:
            self.shadow[name].lerp_(param.detach().to(torch.float32), 1.0 - self.decay)
        self.num_updates += 1

    def full_state_dict(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The model's state dict with the tracked parameters replaced by their averages."""
        out = {}
        for name, value in model.state_dict().items():
            out[name] = self.shadow[name].to(value.dtype) if name in self.shadow else value
        return out

    def state_dict(self) -> dict:
        return {"decay": self.decay, "num_updates": self.num_updates, "shadow": self.shadow}

    def load_state_dict(self, state: Mapping) -> None:
        missing = sorted(set(self.shadow) - set(state["shadow"]))
        unexpected = sorted(set(state["shadow"]) - set(self.shadow))
        if missing or unexpected:
            raise ValueError(
                f"EMA state does not match the trainable parameters: missing {missing[:5]}, unexpected {unexpected[:5]} "
                f"(did trainable_patterns change since the checkpoint?)"
            )
        for name, value in state["shadow"].items():
            self.shadow[name].copy_(value)
        self.num_updates = int(state["num_updates"])
