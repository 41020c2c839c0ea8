"""Fine-tuning the encoder with a classification head: LoRA adapters (peft) or all weights."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..models.encoder import Chunk, Encoder, document_embeddings
from .common import AnchoredHead, EarlyStopping, EpochReport, Progress, macro_f1

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
    """(tuned model, head weight, head bias, validation logits) after early stopping."""
    torch.manual_seed(seed)
    model = tunable_copy(encoder, method, lora_r, lora_alpha)
    head = AnchoredHead(w0, dropout).to(encoder.device)
    train_docs = [encoder.chunk(texts[i], max_chunks=train_windows) for i in train_idx]
    val_docs = [encoder.chunk(texts[i], max_chunks=encoder.settings.max_chunks) for i in val_idx]
    yt = torch.tensor(y[list(train_idx)], device=encoder.device)
    yv = torch.tensor(y[list(val_idx)], device=encoder.device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(
        [{"params": trainable, "lr": lr}, {"params": list(head.parameters()), "lr": HEAD_LR}],
        weight_decay=weight_decay,
    )
    total_steps = epochs * math.ceil(len(train_docs) / batch_size)
    warmup = max(1, int(WARMUP_SHARE * total_steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup)))
    )
    stopper = EarlyStopping(patience)
    g = torch.Generator().manual_seed(seed)

    def state() -> dict:
        return {"model": {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad},
                "head": head.state_dict()}

    def val_logits() -> torch.Tensor:
        model.eval()
        head.eval()
        with torch.inference_mode():
            return head(embed(model, encoder, val_docs, encoder.settings.batch_size))

    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        head.train()
        total = 0.0
        for batch in torch.randperm(len(train_docs), generator=g).split(batch_size):
            opt.zero_grad()
            emb = document_embeddings(model, [train_docs[i] for i in batch], encoder.pad_id, encoder.device)
            loss = F.cross_entropy(head(emb), yt[batch])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(batch)
        val_loss = val_f1 = None
        if len(val_docs):
            logits = val_logits()
            val_loss = float(F.cross_entropy(logits, yv))
            val_f1 = macro_f1(yv.cpu().numpy(), logits.argmax(1).cpu().numpy(), len(w0))
        if report:
            report(EpochReport(epoch, epochs, total / len(train_docs), val_loss, val_f1, time.perf_counter() - t0))
        if val_loss is not None and stopper.update(val_loss, state):
            break
    if stopper.best_state is not None:
        named = dict(model.named_parameters())
        with torch.no_grad():
            for n, value in stopper.best_state["model"].items():
                named[n].copy_(value)
        head.load_state_dict(stopper.best_state["head"])
    logits = val_logits().cpu().numpy() if len(val_docs) else np.zeros((0, len(w0)), dtype=np.float32)
    weight, bias = head.export()
    model.eval()
    return model, weight, bias, logits
