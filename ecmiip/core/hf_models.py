"""Hugging Face models loaded one way everywhere: plain, with a LoRA adapter, or in 4 bits for QLoRA.

Every load refuses remote code (``trust_remote_code=False``) and pickled weights (``use_safetensors=True``:
a pickle can run code when it is read). torch, transformers and peft are imported only when a model is
loaded, so importing this module (and the configs it defines, which recipes hold) costs nothing.
A folder transformers or peft cannot read is a one-line :class:`InputError` naming it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecmiip.core.errors import InputError
from ecmiip.core.typed_yaml import check_fields

if TYPE_CHECKING:
    import torch

DTYPES = ("float32", "float16", "bfloat16")
_LOAD_ERRORS = (OSError, ValueError, KeyError)


@dataclass
class FourBit:
    """bitsandbytes 4-bit storage of the base model for QLoRA (the paper's: NF4, double quantization)."""

    load_in_4bit: bool = True
    quant_type: str = "nf4"  # nf4 | fp4
    double_quant: bool = True
    compute_dtype: str = "bfloat16"  # bfloat16 | float16 | float32

    def __post_init__(self) -> None:
        check_fields(self, [
            ("quant_type", lambda v: v in ("nf4", "fp4"), "nf4 or fp4"),
            ("compute_dtype", lambda v: v in DTYPES, "bfloat16, float16 or float32"),
        ])  # fmt: skip


@dataclass
class Lora:
    """The LoRA adapters to train: rank, α, dropout and the modules they wrap."""

    r: int = 64
    alpha: int = 128
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"

    def __post_init__(self) -> None:
        check_fields(self, [
            ("r", lambda v: v >= 1, "a positive rank"),
            ("alpha", lambda v: v > 0, "positive"),
            ("dropout", lambda v: 0 <= v < 1, "0 or more and below 1"),
        ])  # fmt: skip


def torch_dtype(dtype: torch.dtype | str) -> torch.dtype | str:
    """``"bfloat16"`` → ``torch.bfloat16``; a torch dtype and ``"auto"`` (the checkpoint's own) pass through."""
    import torch

    if isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    if dtype in DTYPES:
        return getattr(torch, dtype)
    raise InputError(f"unknown dtype {dtype!r} (expected auto, {', '.join(DTYPES)})")


def load_tokenizer(path: Path | str, *, local_files_only: bool = False) -> Any:
    """The folder's tokenizer (never remote code); a failure names the tokenizer files the folder holds."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=False, local_files_only=local_files_only)
    except Exception as e:  # noqa: BLE001 - transformers raises many kinds for a broken tokenizer
        files = ", ".join(sorted(p.name for p in Path(path).glob("tokenizer*"))) or "none"
        raise InputError(f"{path}: the tokenizer cannot be loaded ({e}); tokenizer files found: {files}") from e


def load_config(path: Path | str, *, local_files_only: bool = True) -> Any:
    """The folder's ``config.json`` as transformers reads it (never remote code)."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(path, trust_remote_code=False, local_files_only=local_files_only)
    except _LOAD_ERRORS as e:
        raise InputError(f"{path}: transformers cannot read its config.json ({e})") from e


def empty_model(config: Any, dtype: torch.dtype | str = "float32") -> Any:
    """The causal LM of ``config`` on the meta device: its modules and names, no memory, no weights."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return AutoModelForCausalLM.from_config(config, dtype=torch_dtype(dtype), trust_remote_code=False)


def load_model(
    path: Path | str,
    *,
    dtype: torch.dtype | str = "auto",
    device: torch.device | str | int | None = None,
    quantization: FourBit | None = None,
    adapter: Path | str | None = None,
    local_files_only: bool = False,
    quiet: bool = False,
) -> Any:
    """A causal LM from a safetensors folder.

    ``dtype`` is a torch dtype, a name (``"bfloat16"``) or ``"auto"`` (the checkpoint's own). ``device``
    moves the model there (``None``: where transformers puts it, the CPU). With ``quantization`` the
    weights are stored in 4 bits and the model is placed whole on ``device`` (``None``: the current CUDA
    device, else the CPU); it is not yet prepared for training (:func:`prepare_for_kbit_training`).
    ``adapter`` applies a trained LoRA adapter folder, frozen (:func:`apply_adapter`). ``quiet`` hides
    transformers' per-tensor progress bar (noise in a chat window).
    """
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": torch_dtype(dtype)}
    if quantization is not None:
        kwargs["quantization_config"] = _bitsandbytes(quantization)
        kwargs["device_map"] = {"": _default_device() if device is None else device}
    undo = _hide_progress_bar() if quiet else (lambda: None)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            path, trust_remote_code=False, use_safetensors=True, local_files_only=local_files_only, **kwargs
        )
    except _LOAD_ERRORS as e:
        raise InputError(f"{path}: transformers cannot load it as a causal LM ({e})") from e
    finally:
        undo()
    if device is not None and quantization is None:
        model = model.to(device)
    if adapter is not None:
        model = apply_adapter(model, adapter)
    return model


def apply_adapter(model: Any, adapter_dir: Path | str, *, trainable: bool = False) -> Any:
    """``model`` wrapped by peft with the LoRA adapter in ``adapter_dir`` (unmerged)."""
    from peft import PeftModel

    try:
        with warnings.catch_warnings():  # peft calls a transformers API deprecated in 5.x: not the user's concern
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
            return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=trainable)
    except (*_LOAD_ERRORS, RuntimeError) as e:
        raise InputError(f"{adapter_dir}: peft cannot apply this adapter to the model ({e})") from e


def add_lora(model: Any, lora: Lora, **options: Any) -> Any:
    """``model`` wrapped by peft with new trainable LoRA adapters; ``options`` go to peft's ``LoraConfig``
    (``use_rslora``, ``use_dora``, ``modules_to_save``, ``init_lora_weights``…)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        task_type="CAUSAL_LM", r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
        target_modules=lora.target_modules, **options,
    )  # fmt: skip
    return get_peft_model(model, config)


def prepare_for_kbit_training(model: Any) -> Any:
    """A 4-bit model made trainable by peft (norms in fp32, gradient checkpointing, non-reentrant)."""
    from peft import prepare_model_for_kbit_training

    return prepare_model_for_kbit_training(model, gradient_checkpointing_kwargs={"use_reentrant": False})


def _bitsandbytes(q: FourBit) -> Any:
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=q.load_in_4bit,
        bnb_4bit_quant_type=q.quant_type,
        bnb_4bit_use_double_quant=q.double_quant,
        bnb_4bit_compute_dtype=torch_dtype(q.compute_dtype),
    )


def _default_device() -> int | str:
    import torch

    return torch.cuda.current_device() if torch.cuda.is_available() else "cpu"


def _hide_progress_bar() -> Callable[[], None]:
    """Hide transformers' loading progress bar; returns the undo."""
    from transformers.utils import logging as hf_logging

    if not hf_logging.is_progress_bar_enabled():
        return lambda: None
    hf_logging.disable_progress_bar()
    return hf_logging.enable_progress_bar
