"""Hugging Face hub: search model repos with GGUF files, and list a repo's GGUF files.

Nothing here runs unless the user searches or downloads: huggingface_hub is imported on first
use and no connection is opened before. Offline is a normal state, not a failure: with
`HF_HUB_OFFLINE=1` (read when called, not at import) or no network, every function raises
`HubOfflineError` with a sentence to show, and the rest of Parley carries on.

`HF_ENDPOINT` is read when called too (tests point it at a stand-in server on 127.0.0.1).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from inference.common.errors import ParleyError
from inference.common.install import running_frozen
from inference.gguf.split_names import split_name
from inference.memory.fit import DEFAULT_RAM_MARGIN, DEFAULT_VRAM_MARGIN, Fit, human_bytes

if TYPE_CHECKING:
    from inference.library.library import FitSettings

DEFAULT_ENDPOINT = "https://huggingface.co"
OFFLINE_MESSAGE = ("Parley is offline (HF_HUB_OFFLINE=1); the hub can't be searched. "
                   "Everything else works.")
API_TIMEOUT_S = 20.0
MAX_TREE_PAGES = 100
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_TRUE = {"1", "on", "yes", "true"}
_QUANT = re.compile(
    r"(?<![A-Za-z0-9])(?:UD-)?("
    r"I?Q[1-8]_K(?:_(?:XXS|XS|S|M|L|XL))?"   # Q4_K_M, Q6_K, Q3_K_XL, IQ2_K
    r"|IQ[1-4]_(?:XXS|XS|S|M|NL)"             # IQ3_XS, IQ4_NL, IQ1_S
    r"|TQ[12]_0|Q[4-8]_[01]|MXFP4"            # ternary, legacy, MXFP4
    r"|BF16|F16|F32|FP16|FP32"
    r")(?![A-Za-z0-9])",
    re.IGNORECASE)


class HubError(ParleyError):
    """The hub answered, but not with what was asked for (the message says what)."""


class HubOfflineError(HubError):
    """Offline by choice (HF_HUB_OFFLINE=1) or the hub can't be reached."""


class RepoNotFoundError(HubError):
    pass


@dataclass(frozen=True)
class HubModel:
    """A search result: a model repo with GGUF files."""

    repo_id: str
    downloads: int | None = None
    likes: int | None = None
    last_modified: str | None = None
    pipeline_tag: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class HubPart:
    filename: str                  # the path in the repo
    size: int | None
    sha256: str | None             # from the hub's LFS record


@dataclass(frozen=True)
class HubFile:
    """A GGUF model in a repo: one file, or every part of a split model."""

    repo_id: str
    filename: str                  # the (first part's) path in the repo
    quant: str | None
    parts: tuple[HubPart, ...]
    revision: str = "main"

    @property
    def name(self) -> str:
        return self.filename.rsplit("/", 1)[-1]

    @property
    def size(self) -> int | None:
        sizes = [p.size for p in self.parts]
        return None if any(s is None for s in sizes) else sum(s or 0 for s in sizes)

    @property
    def sha256(self) -> str | None:
        return self.parts[0].sha256 if len(self.parts) == 1 else None

    @property
    def is_split(self) -> bool:
        return len(self.parts) > 1

    @property
    def verifiable(self) -> bool:
        """Whether the hub gives a sha256 for every part (else a download is not verified)."""
        return bool(self.parts) and all(p.sha256 for p in self.parts)

    def to_dict(self) -> dict[str, Any]:
        return {"repo_id": self.repo_id, "filename": self.filename, "name": self.name,
                "quant": self.quant, "size": self.size, "sha256": self.sha256,
                "verifiable": self.verifiable,
                "parts": [vars(p) for p in self.parts] if self.is_split else None}


@dataclass(frozen=True)
class SizeFit:
    """Whether a file would fit, judged by its size alone (the header isn't downloaded)."""

    fit: Fit
    message: str


def hub_offline(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    value = env.get("HF_HUB_OFFLINE") or env.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().lower() in _TRUE


def hub_endpoint(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return (env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def quant_label(filename: str) -> str | None:
    """The quantization named in a file name: "Qwen3-8B-Q4_K_M.gguf" -> "Q4_K_M"."""
    name = filename.rsplit("/", 1)[-1]
    found = _QUANT.findall(name) or _QUANT.findall(filename)
    if not found:
        return None
    label = found[-1].upper()
    return {"FP16": "F16", "FP32": "F32"}.get(label, label)


def search_models(query: str, *, limit: int = 30) -> list[HubModel]:
    """Model repos with GGUF files matching `query`, most downloaded first.

    One request to `/api/models` (what `HfApi.list_models` sends), without its retry loop: an
    unreachable hub is reported in seconds, not after half a minute of back-off.
    """
    with hub_errors():
        from huggingface_hub.hf_api import ModelInfo
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        params: dict[str, Any] = {"filter": "gguf", "sort": "downloads", "limit": limit}
        if query.strip():
            params["search"] = query.strip()
        response = get_session().get(f"{hub_endpoint()}/api/models", params=params,
                                     headers=build_hf_headers(), timeout=API_TIMEOUT_S)
        hf_raise_for_status(response)
        results = [ModelInfo(**{"siblings": None, **item}) for item in response.json()]
        return [HubModel(
            repo_id=m.id, downloads=m.downloads, likes=m.likes,
            last_modified=m.last_modified.isoformat() if m.last_modified else None,
            pipeline_tag=m.pipeline_tag, tags=tuple(m.tags or ())) for m in results[:limit]]


def list_gguf_files(repo_id: str, *, revision: str = "main") -> list[HubFile]:
    """A repo's GGUF models (split parts grouped), with quant label, size and sha256.

    The requests `HfApi.model_info(files_metadata=True)` and `list_repo_tree` send, read
    leniently: a field the hub leaves out (a size, an LFS record) is unknown, not a KeyError.
    """
    with hub_errors(repo_id):
        repo, rev = quote(repo_id, safe="/"), quote(revision, safe="")
        info = _get_json(f"/api/models/{repo}/revision/{rev}", {"blobs": "true"})
        siblings = info.get("siblings") if isinstance(info, dict) else None
        parts = [_part(s, s.get("rfilename"), "sha256") for s in siblings or ()
                 if isinstance(s, dict) and str(s.get("rfilename", "")).lower().endswith(".gguf")]
        if any(p.sha256 is None or p.size is None for p in parts):   # fill in from the tree
            tree = {e["path"]: _part(e, e["path"], "oid") for e in _tree(repo, rev)}
            parts = [_merge(p, tree.get(p.filename)) for p in parts]
    return _group_parts(repo_id, revision, parts)


def size_fit(size: int | None, settings: FitSettings) -> SizeFit | None:
    """A rough verdict from the file size (weights only; the context adds more)."""
    if size is None:
        return None
    ram = settings.available_ram
    vram = settings.free_vram if settings.n_gpu_layers != 0 else None
    weights = f"~{human_bytes(size)} of weights"
    if vram is not None and size + DEFAULT_VRAM_MARGIN <= vram:
        return SizeFit(Fit.GPU, f"fits on the GPU: {weights}, {human_bytes(vram)} free VRAM")
    if size + DEFAULT_RAM_MARGIN <= ram:
        return SizeFit(Fit.RAM, f"fits in RAM: {weights}, {human_bytes(ram)} available")
    if vram is not None and size + DEFAULT_RAM_MARGIN + DEFAULT_VRAM_MARGIN <= ram + vram:
        return SizeFit(Fit.PARTIAL, f"partly on the GPU: {weights}, {human_bytes(vram)} free "
                                    f"VRAM + {human_bytes(ram)} RAM")
    return SizeFit(Fit.TOO_LARGE, f"too large: {weights}, {human_bytes(ram)} RAM available")


@contextmanager
def hub_errors(repo_id: str | None = None) -> Iterator[None]:
    """Check offline mode, then turn huggingface_hub / network errors into HubErrors."""
    if hub_offline():
        raise HubOfflineError(OFFLINE_MESSAGE)
    import httpx2
    from huggingface_hub import errors as hf

    what = f"the model repo {repo_id}" if repo_id else "the hub"
    try:
        yield
    except hf.OfflineModeIsEnabled:
        raise HubOfflineError(OFFLINE_MESSAGE) from None
    except hf.GatedRepoError:
        login = ("set the HF_TOKEN environment variable to an access token from "
                 "huggingface.co/settings/tokens" if running_frozen()   # no `hf` in a bundle
                 else "log in (`hf auth login`, or set HF_TOKEN)")
        raise HubError(f"{what} is gated: accept its terms on the Hugging Face website and "
                       f"{login} to download it") from None
    except hf.RepositoryNotFoundError:
        raise RepoNotFoundError(f"{what} was not found on the hub (check the name; private "
                                "repos need a login)") from None
    except hf.RevisionNotFoundError:
        raise HubError(f"{what} has no such revision") from None
    except hf.HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "an error"
        raise HubError(f"the hub answered {status} for {what}: {_first_line(exc)}") from None
    except (httpx2.TransportError, ConnectionError) as exc:
        raise HubOfflineError(
            f"Parley can't reach the Hugging Face hub at {hub_endpoint()} ({_first_line(exc)}); "
            "the hub can't be searched. Everything else works.") from None


# --- internals ---------------------------------------------------------------------------------


def _get_json(path: str, params: dict[str, Any]) -> Any:
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    response = get_session().get(f"{hub_endpoint()}{path}", params=params,
                                 headers=build_hf_headers(), timeout=API_TIMEOUT_S)
    hf_raise_for_status(response)
    return response.json()


def _tree(repo: str, rev: str) -> Iterator[dict[str, Any]]:
    """The repo's file entries, every page (a bounded number) of the paginated tree."""
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    url: str | None = f"{hub_endpoint()}/api/models/{repo}/tree/{rev}"
    params: dict[str, Any] | None = {"recursive": "true", "expand": "true"}
    for _page in range(MAX_TREE_PAGES):
        if url is None:
            return
        response = get_session().get(url, params=params, headers=build_hf_headers(),
                                     timeout=API_TIMEOUT_S)
        hf_raise_for_status(response)
        entries = response.json()
        yield from (e for e in entries if isinstance(e, dict) and isinstance(e.get("path"), str)
                    ) if isinstance(entries, list) else ()
        url, params = response.links.get("next", {}).get("url"), None


def _part(entry: dict[str, Any], filename: str, sha_key: str) -> HubPart:
    """A listing entry as a HubPart; a size or sha256 that is missing or malformed is None."""
    lfs = entry.get("lfs") if isinstance(entry.get("lfs"), dict) else {}
    sizes = [v for v in (entry.get("size"), lfs.get("size"))
             if isinstance(v, int) and not isinstance(v, bool) and v >= 0]
    sha = lfs.get(sha_key)
    return HubPart(filename, sizes[0] if sizes else None,
                   sha.lower() if isinstance(sha, str) and _SHA256.fullmatch(sha) else None)


def _merge(part: HubPart, entry: HubPart | None) -> HubPart:
    if entry is None:
        return part
    return HubPart(part.filename, part.size if part.size is not None else entry.size,
                   part.sha256 or entry.sha256)


def _group_parts(repo_id: str, revision: str, parts: list[HubPart]) -> list[HubFile]:
    files: list[HubFile] = []
    splits: dict[tuple[str, str, int], list[HubPart]] = {}
    for part in sorted(parts, key=lambda p: p.filename):
        folder, _, name = part.filename.rpartition("/")
        split = split_name(name)
        if split is None:
            files.append(HubFile(repo_id, part.filename, quant_label(part.filename), (part,),
                                 revision))
        else:
            splits.setdefault((folder, split.base, split.count), []).append(part)
    for group in splits.values():
        group.sort(key=lambda p: p.filename)
        files.append(HubFile(repo_id, group[0].filename, quant_label(group[0].filename),
                             tuple(group), revision))
    return sorted(files, key=lambda f: f.filename.lower())


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]

