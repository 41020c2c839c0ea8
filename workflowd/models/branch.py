"""Task branches: the top layers of the shared encoder, fine-tuned for one task.

The tagger and the sentiment model need their own fine-tuned encoder, but not a whole one:
each is a copy of the encoder's top ``layers`` layers, trained on the hidden states the
shared encoder gives at the layer below them (``fork``). The shared pass that every document
gets keeps those hidden states, and a branch runs only its few layers on them: one pass of
the shared encoder, plus a sixth of a pass per branch on the 6-layer default model, instead
of one whole pass per task. The layers below the fork are the shared encoder's own, frozen,
so the document embeddings that classify and summarize read do not move.

A branch is stored as ``branch.safetensors`` (its layers' weights, 16-bit to keep the files
small) and ``fork`` in the model's ``meta.json``.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from ..errors import ModelError


def encoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The transformer layers of a BERT-like encoder (BERT, RoBERTa, XLM-R, ELECTRA, MiniLM)."""
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if not isinstance(layers, torch.nn.ModuleList):
        raise ModelError(
            f"task branches need a BERT-like encoder (model.encoder.layer); {type(model).__name__} has none"
        )
    return layers


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(batch, 1, 1, seq): 0 where a token is, the lowest value where padding is."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def run_layers(layers: torch.nn.ModuleList | list, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Hidden states through ``layers`` (keeps gradients)."""
    extended = additive_mask(mask, hidden.dtype)
    for layer in layers:
        out = layer(hidden, extended)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def hidden_at(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor, layer: int) -> torch.Tensor:
    """The encoder's hidden states below layer ``layer`` (0: the input embeddings), without
    running the layers above it."""
    hidden = model.embeddings(input_ids=ids)
    return run_layers(encoder_layers(model)[:layer], hidden, mask)


class Branch(torch.nn.Module):
    """A copy of the encoder's top layers, from ``fork`` up."""

    def __init__(self, layers: torch.nn.ModuleList, fork: int):
        super().__init__()
        self.layers = layers
        self.fork = fork

    @classmethod
    def from_encoder(cls, model: torch.nn.Module, layers: int) -> Branch:
        """A trainable copy of the top ``layers`` layers of ``model``."""
        stack = encoder_layers(model)
        if not 1 <= layers <= len(stack):
            raise ModelError(f"a branch has 1 to {len(stack)} layers, not {layers}")
        fork = len(stack) - layers
        return cls(torch.nn.ModuleList(copy.deepcopy(list(stack[fork:]))), fork)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return run_layers(self.layers, hidden, mask)

    def save(self, path: Path) -> None:
        from safetensors.torch import save_file

        save_file({k: v.detach().to(torch.float16).cpu().contiguous() for k, v in self.layers.state_dict().items()},
                  str(path))

    @classmethod
    def load(cls, path: Path, model: torch.nn.Module, fork: int) -> Branch:
        """The branch saved at ``path``, forking ``model`` at layer ``fork``."""
        from safetensors.torch import load_file

        stack = encoder_layers(model)
        if not 0 <= fork < len(stack):
            raise ModelError(f"{path}: fork layer {fork} does not exist in an encoder of {len(stack)} layers")
        branch = cls(torch.nn.ModuleList(copy.deepcopy(list(stack[fork:]))), fork)
        try:
            state = load_file(str(path))
            dtype = next(model.parameters()).dtype
            branch.layers.load_state_dict({k: v.to(dtype) for k, v in state.items()})
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelError(f"cannot load the branch {path}: {exc}") from None
        # frozen: inference may run it in another runtime (ONNX); training unfreezes its copy
        branch.requires_grad_(False)
        return branch
