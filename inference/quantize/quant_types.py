"""The quantization types llama.cpp's quantize tool offers, and which of them need an imatrix.

`approx_bpw` is a nominal bits-per-weight figure used only to order types by precision (a real
file's figure depends on its tensor mix: token embeddings are often kept at higher precision).

An importance matrix is required (llama.cpp's `tensor_requires_imatrix` in src/llama-quant.cpp)
whenever a file type puts any tensor other than the token embedding / output into IQ1_S, IQ1_M,
IQ2_XXS, IQ2_XS, IQ2_S or IQ3_XXS, and for Q2_K tensors of a Q2_K_S file. That is the types
IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S (IQ2_XS tensors), IQ2_M (IQ2_S tensors), IQ3_XXS,
IQ3_XS (attention Q/K and middle FFN tensors become IQ3_XXS) and Q2_K_S.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inference.common.errors import InvalidSettingError
from inference.llama.quantize import ftype_id

FLOAT_TYPES = frozenset({"F32", "F16", "BF16"})


@dataclass(frozen=True)
class QuantType:
    name: str             # llama.cpp's name, e.g. "Q4_K_M"
    ftype: int            # LLAMA_FTYPE_* value (inference.llama.quantize.ftype_id)
    approx_bpw: float
    needs_imatrix: bool = False

    @property
    def is_float(self) -> bool:
        return self.name in FLOAT_TYPES


def _t(name: str, bpw: float, imatrix: bool = False) -> QuantType:
    return QuantType(name, ftype_id(name), bpw, imatrix)


_ALL = (
    _t("F32", 32.0), _t("F16", 16.0), _t("BF16", 16.0),
    _t("Q8_0", 8.5), _t("Q6_K", 6.56), _t("Q5_1", 6.0), _t("Q5_K_M", 5.69),
    _t("Q5_K_S", 5.54), _t("Q5_0", 5.5), _t("Q4_1", 5.0), _t("Q4_K_M", 4.85),
    _t("Q4_K_S", 4.58), _t("Q4_0", 4.5), _t("IQ4_NL", 4.5), _t("Q3_K_L", 4.27),
    _t("IQ4_XS", 4.25), _t("Q3_K_M", 3.91), _t("IQ3_M", 3.66), _t("Q3_K_S", 3.5),
    _t("IQ3_S", 3.44), _t("IQ3_XS", 3.3, True), _t("IQ3_XXS", 3.06, True), _t("Q2_K", 2.96),
    _t("Q2_K_S", 2.79, True), _t("IQ2_M", 2.7, True), _t("IQ2_S", 2.5, True),
    _t("IQ2_XS", 2.31, True), _t("IQ2_XXS", 2.06, True), _t("IQ1_M", 1.75, True),
    _t("IQ1_S", 1.56, True),
)
QUANT_TYPES: dict[str, QuantType] = {q.name: q for q in _ALL}
ALIASES = {"Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M"}
IMATRIX_TYPES = tuple(q.name for q in _ALL if q.needs_imatrix)

_NAMES = sorted([*QUANT_TYPES, *ALIASES], key=len, reverse=True)
_SUFFIX = re.compile(r"[-_.](?:" + "|".join(_NAMES) + r")$", re.IGNORECASE)


def quant_type(name: str) -> QuantType:
    """The type called `name` (case-insensitive; Q4_K → Q4_K_M like llama-quantize)."""
    key = name.strip().upper()
    key = ALIASES.get(key, key)
    found = QUANT_TYPES.get(key)
    if found is None:
        raise InvalidSettingError(
            f"unknown quantization type {name!r}; choose one of {', '.join(QUANT_TYPES)}")
    return found


def parse_types(text: str) -> tuple[QuantType, ...]:
    """'Q8_0,Q4_0, q2_k' → the types, in order, without repeats."""
    names = [part for part in (p.strip() for p in text.split(",")) if part]
    if not names:
        raise InvalidSettingError("name at least one quantization type, e.g. Q8_0,Q4_0")
    seen: dict[str, QuantType] = {}
    for name in names:
        q = quant_type(name)
        seen.setdefault(q.name, q)
    return tuple(seen.values())


def source_type(quant: str) -> QuantType | None:
    """The QuantType a GGUF's quant label (GGUFInfo.quant) names, or None if not a known one.

    A guessed label ("Q4_K (guessed)", from the tensors' main type) maps to the K-quant's
    medium mix; anything else unknown gives None (precision can't be compared).
    """
    base = quant.replace("(guessed)", "").strip().upper()
    base = ALIASES.get(base, base)
    return QUANT_TYPES.get(base)


def base_name(stem: str) -> str:
    """A file stem without its quant suffix: 'gemma-3-270m-q4_k_m' → 'gemma-3-270m'."""
    return _SUFFIX.sub("", stem) or stem
