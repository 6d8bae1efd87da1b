"""Whether a draft model's tokens mean what the main model's do (checked when it is loaded)."""

from __future__ import annotations

from inference.common.errors import ModelLoadError
from inference.llama.native import NativeModel

SPREAD = 4093        # besides the first 1,000 ids, every SPREAD-th id's text is compared


class IncompatibleDraftError(ModelLoadError):
    """The draft model's vocabulary is not the main model's."""


def check_same_vocabulary(main: NativeModel, draft: NativeModel) -> None:
    """Raise IncompatibleDraftError, naming both files, unless the draft's vocabulary is the
    main model's: same size, same BOS and end-of-generation tokens, same token texts (the first
    1,000 ids and a spread over the rest, as llama.cpp's speculative example checks)."""
    problem = _difference(main, draft)
    if problem:
        raise IncompatibleDraftError(
            f"The draft model {draft.path.name} cannot draft for {main.path.name}: their "
            f"vocabularies differ ({problem}); choose a draft model of the same family")


def _difference(main: NativeModel, draft: NativeModel) -> str | None:
    if main.n_vocab != draft.n_vocab:
        return f"{draft.n_vocab} tokens against {main.n_vocab}"
    if main.bos != draft.bos or main.add_bos != draft.add_bos:
        return "different beginning-of-text token"
    ids = [*range(min(1000, main.n_vocab)), *range(1000, main.n_vocab, SPREAD)]
    for token in ids:
        if main.token_text(token) != draft.token_text(token):
            return f"token {token} is {main.token_text(token)!r} against " \
                   f"{draft.token_text(token)!r}"
        if main.is_eog(token) != draft.is_eog(token):
            return f"token {token} ends a reply in one model only"
    return None
