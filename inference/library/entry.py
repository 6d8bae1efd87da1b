"""What the library lists: one `LibraryEntry` per model, the `FitSettings` its memory verdict
is for, and a `LibraryListing` (the entries plus how the listing went)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inference.gguf.file import GGUFInfo
from inference.library.provenance import DownloadCheck
from inference.library.sources import SourceKind
from inference.memory.fit import FitVerdict


@dataclass(frozen=True)
class FitSettings:
    """The settings a fit verdict is for, and the memory it is measured against."""

    n_ctx: int = 4096
    n_gpu_layers: int = 0
    free_vram: int | None = None          # None: no GPU offload
    available_ram: int = 0

    @classmethod
    def detect(cls, n_ctx: int = 4096, n_gpu_layers: int = 0) -> FitSettings:
        """Available RAM now; free VRAM (NVML) only when GPU layers are asked for."""
        import psutil

        free_vram = None
        if n_gpu_layers != 0:
            from inference.memory.probes import MemoryProbe

            with MemoryProbe() as probe:
                gpu, _note = probe.gpu_memory()
            if gpu is not None:
                free_vram = max(0, gpu.total_bytes - gpu.used_bytes)
        return cls(n_ctx, n_gpu_layers, free_vram, int(psutil.virtual_memory().available))


@dataclass(frozen=True)
class LibraryEntry:
    """One model in the library (for a split model: its first part, sizes summed)."""

    path: Path
    source: SourceKind
    root: Path
    file_name: str
    name: str
    size: int                                   # bytes, every present part together
    architecture: str | None = None
    parameters: int | None = None
    quant: str | None = None
    bits_per_weight: float | None = None
    context_length: int | None = None
    repo_id: str | None = None                  # Hugging Face cache entries
    revision: str | None = None
    parts: tuple[Path, ...] = ()
    missing_parts: tuple[str, ...] = ()
    error: str | None = None                    # why it can't be used (unreadable, parts missing)
    fit: FitVerdict | None = None
    download_check: DownloadCheck | None = None   # a Parley download's check; None: no record
    info: GGUFInfo | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None and self.info is not None

    @property
    def unverified(self) -> bool:
        """Downloaded by Parley from a hub that gave no sha256 to check it against."""
        return self.download_check is not None and not self.download_check.verified

    @property
    def source_label(self) -> str:
        return self.source.label

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "file_name": self.file_name, "name": self.name,
            "source": self.source.value, "source_label": self.source_label,
            "root": str(self.root), "repo_id": self.repo_id, "revision": self.revision,
            "architecture": self.architecture, "parameters": self.parameters,
            "quant": self.quant,
            "bits_per_weight": None if self.bits_per_weight is None
            else round(self.bits_per_weight, 4),
            "size": self.size, "context_length": self.context_length,
            "parts": [str(p) for p in self.parts], "missing_parts": list(self.missing_parts),
            "error": self.error,
            "download_check": None if self.download_check is None else self.download_check.value,
            "verified": None if self.download_check is None else self.download_check.verified,
            "fit": None if self.fit is None else {
                "fit": self.fit.fit.value, "message": self.fit.message,
                "n_gpu_layers": self.fit.n_gpu_layers,
                "total_bytes": self.fit.estimate.total_bytes},
        }


@dataclass(frozen=True)
class LibraryListing:
    entries: tuple[LibraryEntry, ...]
    files: int                 # .gguf files seen (split parts counted one by one)
    header_reads: int          # headers read from disk this time (cache misses)
    cache_hits: int
    seconds: float
