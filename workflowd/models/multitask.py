"""The bundled encoder tuned for several tasks at once: one pass serves every built-in step.

The shipped multi-task adapter (``workflowd/artifacts/encoder``) was trained on names
(CoNLL-2003) and sentiment (SST-2, Financial PhraseBank) together, with the word shapes the
uncased encoder cannot see entering as token types. The entity and sentiment heads read the
tuned layers' own hidden states; a small token-wise network (``Restore``), trained to give
back the original encoder's token states (distillation), puts the last layer into the space
the original all-MiniLM-L6-v2 embeddings live in, which is what document embeddings,
zero-shot labels, classification heads and summaries read. So a document costs one pass
instead of three, and the embedding space stays that of the published model.

Loaded only for ``[model] base = "bundled"``: another base is used as it is, and the shipped
entity and sentiment heads (which need this encoder) are then unavailable until trained.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.nn import functional as F

from ..errors import ModelError

if TYPE_CHECKING:
    from .encoder import Encoder

log = logging.getLogger("workflowd.models")

SHIPPED = Path(__file__).resolve().parent.parent / "artifacts" / "encoder"


class Restore(torch.nn.Module):
    """Token-wise residual network from the tuned last layer back to the original space."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.up = torch.nn.Linear(dim, hidden)
        self.down = torch.nn.Linear(hidden, dim)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return states + self.down(F.gelu(self.up(states)))


class TunedOutput(dict):
    """What a Hugging Face encoder returns, as far as workflowd reads it."""

    @property
    def last_hidden_state(self) -> torch.Tensor:
        return self["last_hidden_state"]

    @property
    def hidden_states(self) -> tuple[torch.Tensor, ...] | None:
        return self.get("hidden_states")


class TunedModel(torch.nn.Module):
    """A BERT-like encoder followed by ``Restore``: ``last_hidden_state`` is in the original
    encoder's space; ``hidden_states`` (when asked for) are the tuned layers' own, the last
    of them before the restoration: what task heads read."""

    def __init__(self, encoder: torch.nn.Module, restore: Restore, meta: dict[str, Any] | None = None):
        super().__init__()
        self.encoder_model = encoder
        self.restore = restore
        self.config = encoder.config
        self.meta = meta or {}

    @property
    def embeddings(self) -> torch.nn.Module:
        return self.encoder_model.embeddings

    @property
    def encoder(self) -> torch.nn.Module:
        """The transformer layers (``encoder.layer``), as on a BERT model: task branches copy them."""
        return self.encoder_model.encoder

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.encoder_model.get_input_embeddings()

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, inputs_embeds: torch.Tensor | None = None,
                output_hidden_states: bool = False, **_: Any) -> TunedOutput:
        out = self.encoder_model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                                 inputs_embeds=inputs_embeds, output_hidden_states=output_hidden_states)
        result = TunedOutput(last_hidden_state=self.restore(out.last_hidden_state))
        if output_hidden_states:
            result["hidden_states"] = out.hidden_states
        return result


    def save_pretrained(self, folder: str | Path, **kwargs: Any) -> None:
        """Save as a Hugging Face folder (the encoder) with ``restore.safetensors`` beside it
        (a fully fine-tuned copy; ``load_pretrained`` reads it back)."""
        from safetensors.torch import save_file

        self.encoder_model.save_pretrained(str(folder), **kwargs)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.restore.state_dict().items()},
                  str(Path(folder) / RESTORE_FILE))


RESTORE_FILE = "restore.safetensors"


def with_saved_restore(model: torch.nn.Module, folder: Path) -> torch.nn.Module:
    """A model loaded from a folder that ``TunedModel.save_pretrained`` wrote, whole again."""
    from safetensors.torch import load_file

    path = Path(folder) / RESTORE_FILE
    if not path.is_file():
        return model
    state = load_file(str(path))
    restore = Restore(int(model.config.hidden_size), int(state["up.weight"].shape[0]))
    restore.load_state_dict(state)
    return TunedModel(model, restore).eval()


def is_tuned(model: torch.nn.Module) -> bool:
    return isinstance(model, TunedModel)


def load_tuned(model: torch.nn.Module, folder: Path = SHIPPED) -> TunedModel:
    """``model`` (the bundled encoder, changed in place) with the multi-task adapter merged in,
    the word-shape table as its token types, and the restoration after it."""
    from peft import PeftModel
    from safetensors.torch import load_file

    try:
        meta = json.loads((folder / "meta.json").read_text())
        extra = load_file(str(folder / "extra.safetensors"))
        adapters = sorted(p for p in folder.iterdir() if p.name.startswith("adapter") and p.is_dir())
        if not adapters:
            raise OSError("no adapter folder")
        merged = model
        for adapter in adapters:  # LoRA adapters trained one on top of the other, merged in order
            merged = PeftModel.from_pretrained(merged, str(adapter)).merge_and_unload()
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot load the multi-task encoder in {folder}: {exc}") from None
    shapes = extra["input_shapes"]
    types = torch.nn.Embedding(shapes.shape[0], shapes.shape[1])
    with torch.no_grad():
        # token type 0 of the original encoder, plus each word shape's own vector
        types.weight.copy_(merged.embeddings.token_type_embeddings.weight[0] + shapes)
    merged.embeddings.token_type_embeddings = types
    merged.config.type_vocab_size = int(shapes.shape[0])
    restore = Restore(int(merged.config.hidden_size), int(extra["restore.up.weight"].shape[0]))
    restore.load_state_dict({k.removeprefix("restore."): v for k, v in extra.items() if k.startswith("restore.")})
    tuned = TunedModel(merged, restore, meta)
    return tuned.eval()


def task_model(encoder: Encoder, folder: Path, meta: dict[str, Any], what: str, task: str) -> torch.nn.Module:
    """The encoder model a saved task model (``what``, saved in ``folder``) reads: the shared
    multi-task pass itself when its meta says ``shared`` (the shipped heads), or a copy of the
    shared encoder with the model's own adapter merged in (one more pass, a trained model)."""
    from peft import PeftModel

    if meta.get("shared"):
        if not encoder.tuned:
            raise ModelError(
                f"the {what} in {folder} reads the bundled multi-task encoder, and [model] base is "
                f"{encoder.name!r}: train one on it (workflowd train --task {task} --data FILE)")
        return encoder.model
    try:
        model = PeftModel.from_pretrained(copy.deepcopy(encoder.model), str(Path(folder) / "adapter"))
        return model.merge_and_unload()
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"cannot load the {what} in {folder}: {exc}") from None
