"""ONNX Runtime behind ``Encoder.trunk`` and ``Encoder.run_branch`` (CPU inference only).

The shared encoder's trunk (one graph per set of fork layers it must hand out) and every task
branch are exported once to ONNX from an eager-attention copy of the torch weights, fused by
ONNX Runtime's BERT optimizer (Attention, SkipLayerNorm, BiasGelu, EmbedLayerNorm) and, with
``quantize = "int8"``, quantized dynamically (int8 weights, per channel). The files are cached
by a hash of the weights, so a restart only loads them. Every graph, new or cached, is checked
against torch on a small random batch before it is used; one that disagrees (or cannot be
exported) leaves that model on torch, with a warning. Training never comes here: a branch
whose weights require gradients (one being trained) runs in torch.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
import warnings
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ModelError

log = logging.getLogger("workflowd.models")

# Bump when the exported graphs change shape or meaning: old cache files are then not read.
FORMAT = 1
OPSET = 17
FP32_TOLERANCE = 1e-3  # max abs difference of the outputs, fp32 graph against torch
INT8_MIN_COSINE = 0.95  # mean-pooled int8 output against torch (measured: 0.99 on embeddings)
INSTALL = "pip install onnxruntime onnx"


def import_onnxruntime() -> Any:
    """The onnxruntime module, or a ModelError saying what to install."""
    try:
        import onnx  # noqa: F401  (export and fusion need it)
        import onnxruntime
    except ImportError as exc:
        raise ModelError(
            f'model.runtime = "onnx" needs the packages onnxruntime and onnx ({INSTALL}); '
            f'or set runtime = "torch" ({exc})'
        ) from None
    return onnxruntime


def onnxruntime_available() -> bool:
    try:
        import_onnxruntime()
    except ModelError:
        return False
    return True


def choose_runtime(runtime: str, quantize: str, device: torch.device) -> str:
    """``torch`` or ``onnx`` for the settings on this device (see ModelSettings.runtime)."""
    if runtime == "torch":
        return "torch"
    if runtime == "onnx":
        import_onnxruntime()
        if device.type != "cpu":
            raise ModelError(f'model.runtime = "onnx" runs on the CPU; set device = "cpu", or runtime = "auto" '
                             f"to use {device} with torch")
        return "onnx"
    # auto: torch, unless int8 is asked for on the CPU (only ONNX Runtime has it). Through the
    # whole pipeline ONNX Runtime fp32 measured no faster than torch (3.80 against 3.98 docs/s,
    # benchmarks/README.md "Throughput"), though its encoder pass alone ran 1.26x as fast.
    if device.type != "cpu":
        if quantize != "none":
            log.warning("model.quantize = %s applies to ONNX Runtime on the CPU; %s runs torch unquantized",
                        quantize, device)
        return "torch"
    if quantize != "none":
        import_onnxruntime()  # raises: int8 was asked for and only the onnx runtime has it
        return "onnx"
    return "torch"


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def weights_hash(module: torch.nn.Module, *extra: object) -> str:
    """A hash of a module's weights (names, shapes, dtypes, values) and ``extra``."""
    h = hashlib.blake2b(digest_size=16)
    for item in extra:
        h.update(repr(item).encode())
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _versions(module: torch.nn.Module) -> tuple[int, ...]:
    """Cheap change detector: torch bumps a tensor's version on every in-place write."""
    try:
        return tuple(p._version for p in module.parameters())
    except RuntimeError:  # inference tensors (made under inference_mode) keep no version
        return tuple(p.data_ptr() for p in module.parameters())


def eager_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A CPU fp32 copy in eval mode whose attention is the eager path (the one the BERT
    fusion recognises; the SDPA path does not fuse)."""
    dup = copy.deepcopy(module).to("cpu", torch.float32)
    for sub in dup.modules():
        config = getattr(sub, "config", None)
        if config is not None and hasattr(config, "_attn_implementation"):
            with contextlib.suppress(AttributeError, ValueError):
                config._attn_implementation = "eager"
    return dup.eval()


class _Trunk(torch.nn.Module):
    def __init__(self, model: torch.nn.Module, forks: tuple[int, ...]):
        super().__init__()
        self.model, self.forks = model, forks

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                         output_hidden_states=bool(self.forks))
        return (out.last_hidden_state, *(out.hidden_states[f] for f in self.forks))


class _BranchExport(torch.nn.Module):
    """A branch as exported: the padding mask built the way the model's own forward builds it
    (transformers' bidirectional mask, a pattern the attention fusion recognises), else as
    Branch.forward does; the same additive mask either way."""

    def __init__(self, branch: torch.nn.Module):
        super().__init__()
        self.branch = branch
        self.config = next((m.config for m in branch.modules() if hasattr(m, "config")), None)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        from .branch import additive_mask

        mask = None
        if self.config is not None:
            try:
                from transformers.masking_utils import create_bidirectional_mask
            except ImportError:  # an older transformers
                create_bidirectional_mask = None
            if create_bidirectional_mask is not None:
                mask = create_bidirectional_mask(config=self.config, inputs_embeds=hidden,
                                                 attention_mask=attention_mask, allow_is_bidirectional_skip=False)
        if mask is None:
            mask = additive_mask(attention_mask, hidden.dtype)
        for layer in self.branch.layers:
            out = layer(hidden, mask)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden


class _Graph:
    """One exported model's session and the names of its inputs and outputs."""

    def __init__(self, session: Any, path: Path):
        self.session, self.path = session, path
        self.outputs = [o.name for o in session.get_outputs()]

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(names, feeds)


class OnnxRuntime:
    """Exported, fused (and optionally int8) ONNX graphs of an encoder and its branches."""

    def __init__(self, model: torch.nn.Module, *, quantize: str = "none", threads: int = 0,
                 cache_dir: Path | None = None, token_types: bool = False):
        """``token_types``: the graph takes ``token_type_ids`` too (the tagger reads word shapes
        through them)."""
        self.ort = import_onnxruntime()
        self.model = model
        self.token_types = token_types
        self.quantize = quantize
        self.threads = threads or default_threads()
        self._tmp: tempfile.TemporaryDirectory | None = None
        if cache_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="workflowd-onnx-")
            cache_dir = Path(self._tmp.name)
        self.cache_dir = Path(cache_dir)
        config = model.config
        self.dim = int(config.hidden_size)
        self.heads = int(config.num_attention_heads)
        self.vocab = int(config.vocab_size)
        self._lock = threading.RLock()
        self._trunks: dict[frozenset[int], _Graph | None] = {}
        self._trunk_versions: tuple[int, ...] | None = None
        self._model_hash: str | None = None
        self._branches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.exports = 0  # graphs exported by this process (tests and benchmarks read it)
        self.loads = 0  # graphs loaded from the cache

    # -- the two entry points --------------------------------------------------------------

    def trunk(self, ids: torch.Tensor, mask: torch.Tensor, forks: frozenset[int],
              token_types: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[int, torch.Tensor]] | None:
        """(last hidden states, {fork: hidden states}); None: run this one in torch."""
        graph = self._trunk_graph(forks)
        if graph is None:
            return None
        names = ["last", *(f"hidden_{f}" for f in sorted(forks))]
        feeds = {"input_ids": _int64(ids), "attention_mask": _int64(mask)}
        if self.token_types:
            feeds["token_type_ids"] = _int64(token_types if token_types is not None else torch.zeros_like(ids))
        outs = graph.run(names, feeds)
        return torch.from_numpy(outs[0]), {f: torch.from_numpy(o) for f, o in zip(sorted(forks), outs[1:], strict=True)}

    def branch(self, branch: torch.nn.Module, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor | None:
        """The branch's output states; None: run it in torch (being trained, or not exportable)."""
        if any(p.requires_grad for p in branch.parameters()):
            return None
        graph = self._branch_graph(branch)
        if graph is None:
            return None
        feeds = {"hidden": hidden.detach().to("cpu", torch.float32).contiguous().numpy(),
                 "attention_mask": _int64(mask)}
        return torch.from_numpy(graph.run(["states"], feeds)[0])

    def branch_ready(self, branch: torch.nn.Module) -> bool:
        """Export or load a (frozen) branch's graph now; False: it will run in torch."""
        if any(p.requires_grad for p in branch.parameters()):
            return False
        return self._branch_graph(branch) is not None

    def prepare(self, forks: frozenset[int] = frozenset()) -> bool:
        """Export or load the trunk's graph for ``forks`` now; False: it will run in torch."""
        return self._trunk_graph(forks) is not None

    # -- graphs: cached, or exported once ---------------------------------------------------

    def _trunk_graph(self, forks: frozenset[int]) -> _Graph | None:
        versions = _versions(self.model)
        with self._lock:
            if versions != self._trunk_versions:  # first call, or the weights were changed in place
                self._trunks.clear()
                self._model_hash = None
                self._trunk_versions = versions
            # a graph exported for more forks serves fewer (its extra outputs are not fetched)
            for have, graph in self._trunks.items():
                if forks <= have and graph is not None:
                    return graph
            if forks in self._trunks:
                return None
            if self._model_hash is None:
                self._model_hash = weights_hash(self.model, FORMAT, OPSET, self.ort.__version__, torch.__version__)
            order = tuple(sorted(forks))
            tt = "-tt" if self.token_types else ""
            name = f"trunk-{self._model_hash}-f{'_'.join(map(str, order)) or 'none'}{tt}-{self.quantize}.onnx"
            graph = self._graph(name, lambda: _Trunk(eager_copy(self.model), order), _Trunk(self.model, order),
                                self._trunk_example, "the encoder")
            self._trunks[forks] = graph
            return graph

    def _branch_graph(self, branch: torch.nn.Module) -> _Graph | None:
        versions = _versions(branch)
        with self._lock:
            known = self._branches.get(branch)
            if known is not None and known[0] == versions:
                return known[1]
            key = weights_hash(branch, FORMAT, OPSET, self.ort.__version__, torch.__version__,
                               getattr(branch, "fork", None), type(branch).__name__)
            graph = self._graph(f"branch-{key}-{self.quantize}.onnx", lambda: _BranchExport(eager_copy(branch)),
                                branch, self._branch_example, f"a task branch (fork {getattr(branch, 'fork', '?')})")
            self._branches[branch] = (versions, graph)
            return graph

    def _trunk_example(self) -> tuple[tuple[torch.Tensor, ...], list[str], list[str], dict[str, dict[int, str]]]:
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(1000, self.vocab, (2, 24), generator=g)
        mask = torch.ones_like(ids)
        mask[1, 15:] = 0
        ids[1, 15:] = 0
        if self.token_types:
            types = torch.randint(0, int(self.model.config.type_vocab_size), ids.shape, generator=g)
            return (ids, mask, types), ["input_ids", "attention_mask", "token_type_ids"], [], {}
        return (ids, mask), ["input_ids", "attention_mask"], [], {}

    def _branch_example(self) -> tuple[tuple[torch.Tensor, ...], list[str], list[str], dict[str, dict[int, str]]]:
        g = torch.Generator().manual_seed(0)
        hidden = torch.randn((2, 24, self.dim), generator=g) * 0.5
        mask = torch.ones((2, 24), dtype=torch.long)
        mask[1, 15:] = 0
        return (hidden, mask), ["hidden", "attention_mask"], ["states"], {}

    def _graph(self, name: str, make: Callable[[], torch.nn.Module], reference: torch.nn.Module,
               example: Callable, what: str) -> _Graph | None:
        """The graph ``name`` from the cache, else exported from ``make()``; either way checked
        against ``reference`` (the torch module it stands for). None: it runs in torch."""
        path = self.cache_dir / name
        if path.exists():
            try:
                graph = self._session(path)
                self._check(graph, reference, example, strict=self.quantize == "none")
                self.loads += 1
                return graph
            except Exception as exc:  # noqa: BLE001  (a corrupt or foreign file: export it again)
                log.warning("cached ONNX graph %s is unusable (%s); exporting it again", path, exc)
                with contextlib.suppress(OSError):
                    path.unlink()
        try:
            return self._export(path, make, reference, example, what)
        except Exception as exc:  # noqa: BLE001  (whatever fails here, torch still works)
            log.warning("cannot run %s in ONNX Runtime (%s: %s); it runs in torch", what, type(exc).__name__, exc)
            return None

    def _export(self, path: Path, make: Callable[[], torch.nn.Module], reference: torch.nn.Module,
                example: Callable, what: str) -> _Graph:
        from onnxruntime.transformers.optimizer import optimize_model

        t0 = time.perf_counter()
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        module = make()
        args, inputs, outputs, _ = example()
        if not outputs:  # the trunk: last, then one output per fork
            outputs = ["last", *(f"hidden_{f}" for f in module.forks)]
        axes = {n: {0: "batch", 1: "sequence"} for n in [*inputs, *outputs]}
        work = Path(tempfile.mkdtemp(prefix=".export-", dir=self.cache_dir))
        try:
            raw = work / "raw.onnx"
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the tracer's warnings: the graph is checked below instead
                torch.onnx.export(module.eval(), args, str(raw), input_names=inputs, output_names=outputs,
                                  dynamic_axes=axes, opset_version=OPSET, dynamo=False, do_constant_folding=True)
            module.eval()  # the exporter can leave modules in training mode (dropout on)
            fused = work / "fused.onnx"
            opt = optimize_model(str(raw), model_type="bert", num_heads=self.heads, hidden_size=self.dim,
                                 opt_level=1)
            counts = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
            opt.save_model_to_file(str(fused))
            # the fp32 fused graph must equal torch before anything is built on it
            self._check(self._session(fused), reference, example, strict=True)
            final = fused
            if self.quantize == "int8":
                import onnx
                from onnxruntime.quantization import QuantType, quantize_dynamic

                final = work / "int8.onnx"
                quantize_dynamic(str(fused), str(final), per_channel=True, weight_type=QuantType.QInt8,
                                 extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
                self._check(self._session(final), reference, example, strict=False)
            # another process may export the same graph now: each writes its own file, then renames
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
            shutil.move(str(final), tmp)
            os.replace(tmp, path)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        _release_memory()  # the export's copies and traces are garbage now: give the pages back
        graph = self._session(path)
        self.exports += 1
        log.info("exported %s to ONNX (%s, %s) in %.1f s: %s", what, self.quantize, counts,
                 time.perf_counter() - t0, path)
        return graph

    def _session(self, path: Path) -> _Graph:
        ort = self.ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Window batches change shape all the time: ORT's arena and memory patterns keep the
        # largest of each per session and cost 0.7 GB more peak memory for 3 sessions (2.0 GB
        # against 1.35 GB over 96 BBC articles) for about 5% of speed.
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
        return _Graph(ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]), path)

    def _check(self, graph: _Graph, module: torch.nn.Module, example: Callable, strict: bool) -> None:
        """Raise unless the graph gives torch's outputs on a small random batch."""
        args, inputs, _outputs, _ = example()
        modes = [m.training for m in module.modules()]
        try:
            module.eval()
            with torch.no_grad():
                ref = module(*args)
        finally:  # the caller's module, as it was
            for m, mode in zip(module.modules(), modes, strict=True):
                m.training = mode
        ref = ref if isinstance(ref, tuple) else (ref,)
        feeds = {n: (a.numpy() if a.dtype != torch.long else _int64(a)) for n, a in zip(inputs, args, strict=True)}
        got = graph.run(graph.outputs, feeds)
        if len(got) != len(ref):
            raise ModelError(f"{graph.path.name}: {len(got)} outputs, torch gives {len(ref)}")
        mask = args[1].unsqueeze(-1).float()
        for r, o in zip(ref, got, strict=True):
            o = torch.from_numpy(o)
            if r.shape != o.shape:
                raise ModelError(f"{graph.path.name}: output shape {tuple(o.shape)}, torch gives {tuple(r.shape)}")
            if strict:
                diff = float(((r - o).abs() * mask).max())
                if not diff < FP32_TOLERANCE:
                    raise ModelError(f"{graph.path.name}: differs from torch by {diff:.2g} (tolerance {FP32_TOLERANCE})")
            else:
                a, b = (r * mask).sum(1), (o * mask).sum(1)
                cos = float(torch.nn.functional.cosine_similarity(a, b, dim=-1).min())
                if not cos > INT8_MIN_COSINE:
                    raise ModelError(f"{graph.path.name}: cosine {cos:.3f} to torch (at least {INT8_MIN_COSINE})")


def _release_memory() -> None:
    """Collect garbage and return the freed heap to the system (glibc keeps it otherwise: the
    daemon's memory would stay at the export's high-water mark while it runs)."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _int64(t: torch.Tensor) -> np.ndarray:
    t = t.detach()
    if t.device.type != "cpu" or t.dtype != torch.long or not t.is_contiguous():
        t = t.to("cpu", torch.long).contiguous()
    return t.numpy()
