"""Fine-tuning the encoder with a classification head: LoRA adapters (peft) or all weights."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..models.encoder import Chunk, Encoder, document_embeddings
from .common import AnchoredHead, Progress, macro_f1
from .fit import Validation, fit, random_batches

LORA_TARGETS = ["query", "key", "value", "dense"]
HEAD_LR = 1e-2
WARMUP_SHARE = 0.1


def tunable_copy(encoder: Encoder, method: str, r: int, alpha: int) -> torch.nn.Module:
    """A copy of the shared encoder to train: all of it (full) or LoRA adapters on it."""
    model = copy.deepcopy(encoder.model)
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.1, target_modules=LORA_TARGETS))
    return model.to(encoder.device)


def resume_adapter(encoder: Encoder, folder: Path) -> torch.nn.Module:
    """A copy of the shared encoder with a saved LoRA adapter, trainable: to go on training a
    model from where it stands (continual learning) instead of starting again."""
    from peft import PeftModel

    from ..errors import ModelError

    try:
        model = PeftModel.from_pretrained(copy.deepcopy(encoder.model), str(folder), is_trainable=True)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the adapter in {folder} to train it further: {exc}") from None
    return model.to(encoder.device)


def load_head_state(module: torch.nn.Module, path: Path) -> None:
    """Load a head saved with safetensors (``head.safetensors``) into ``module``."""
    from safetensors.torch import load_file

    module.load_state_dict(load_file(str(path)))


def embed(model: torch.nn.Module, encoder: Encoder, docs: Sequence[Sequence[Chunk]], batch_docs: int) -> torch.Tensor:
    return torch.cat([
        document_embeddings(model, docs[i : i + batch_docs], encoder.pad_id, encoder.device)
        for i in range(0, len(docs), batch_docs)
    ])


def finetune(
    encoder: Encoder,
    texts: Sequence[str],
    y: np.ndarray,
    train_idx: Sequence[int],
    val_idx: Sequence[int],
    w0: np.ndarray,
    *,
    method: str,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float,
    dropout: float,
    patience: int,
    seed: int,
    lora_r: int,
    lora_alpha: int,
    train_windows: int,
    report: Progress | None = None,
) -> tuple[torch.nn.Module, np.ndarray, np.ndarray, np.ndarray]:
    """(tuned model, head weight, head bias, validation logits) after early stopping on the
    validation loss."""
    torch.manual_seed(seed)
    model = tunable_copy(encoder, method, lora_r, lora_alpha)
    head = AnchoredHead(w0, dropout).to(encoder.device)
    train_docs = [encoder.chunk(texts[i], max_chunks=train_windows) for i in train_idx]
    val_docs = [encoder.chunk(texts[i], max_chunks=encoder.settings.max_chunks) for i in val_idx]
    yt = torch.tensor(y[list(train_idx)], device=encoder.device)
    yv = torch.tensor(y[list(val_idx)], device=encoder.device)

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        emb = document_embeddings(model, [train_docs[i] for i in batch], encoder.pad_id, encoder.device)
        return F.cross_entropy(head(emb), yt[batch])

    def val_logits() -> torch.Tensor:
        model.eval()
        head.eval()
        with torch.inference_mode():
            return head(embed(model, encoder, val_docs, encoder.settings.batch_size))

    def validate() -> Validation:
        if not len(val_docs):
            return Validation(None)
        logits = val_logits()
        loss = float(F.cross_entropy(logits, yv))
        return Validation(-loss, loss, macro_f1(yv.cpu().numpy(), logits.argmax(1).cpu().numpy(), len(w0)))

    # the head's gradients stay out of the clipping: so this classifier has always trained
    fit(model, head, random_batches(len(train_docs), batch_size, seed), batch_loss, validate,
        epochs=epochs, steps_per_epoch=math.ceil(len(train_docs) / batch_size), lr=lr, head_lr=HEAD_LR,
        weight_decay=weight_decay, warmup_share=WARMUP_SHARE, patience=patience, min_gain=1e-4,
        clip_head=False, report=report)
    logits = val_logits().cpu().numpy() if len(val_docs) else np.zeros((0, len(w0)), dtype=np.float32)
    weight, bias = head.export()
    return model, weight, bias, logits
