"""N-gram prompt lookup and the adaptive draft length, on hand-made token sequences."""

from __future__ import annotations

from inference.speculative.length import MAX_PAUSE, DraftLength
from inference.speculative.lookup import NgramLookup

PASSAGE = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]


def test_the_longest_recent_match_is_continued() -> None:
    lookup = NgramLookup(draft_max=8)
    prompt = [1, *PASSAGE, 2, 3]
    lookup.begin(prompt)
    # the reply starts copying the passage: 10 11 12 → draft what followed
    assert lookup.draft([*prompt, 10, 11, 12], limit=4) == [13, 14, 15, 16]
    # the longest match wins over a more recent, shorter one
    seq = [5, 6, 1, 7, 5, 6, 2, 8, 5, 6, 3, 7, 5, 6]
    lookup.begin(seq[:1])
    assert lookup.draft(seq, limit=2) == [2, 8]           # "7 5 6" beats the later "5 6"
    assert lookup.draft([*seq, 2, 9, 5, 6], limit=1) == [2]   # "5 6" most recently before 2


def test_no_match_no_draft_and_limit_is_kept() -> None:
    lookup = NgramLookup(draft_max=16)
    lookup.begin([1, 2, 3])
    assert lookup.draft([1, 2, 3, 4, 5], limit=8) == []
    assert lookup.draft([1, 2, 3, 4, 5, 1, 2], limit=0) == []
    assert lookup.draft([1, 2, 3, 4, 5, 1, 2], limit=2) == [3, 4]


def test_the_conversation_cache_drafts_a_previous_reply_again() -> None:
    lookup = NgramLookup(draft_max=8)
    prompt = [1, 2, 3]
    reply = [40, 41, 42, 43, 44, 45]
    for _ in range(2):                                   # the reply, regenerated once
        lookup.begin(prompt)
        lookup.draft([*prompt, *reply], limit=1)
    lookup.begin(prompt)                                 # again: the reply is not in the prompt
    assert lookup.draft([*prompt, 40, 41], limit=3) == [42, 43, 44]
    lookup.begin([7, 7, 8])                              # another conversation: cache is gone
    assert lookup.draft([7, 7, 8, 40, 41], limit=3) == []


def test_draft_length_grows_shrinks_and_pauses() -> None:
    length = DraftLength(maximum=16)
    assert length.allowed() == 4
    length.update(4, 4)
    assert length.current == 6
    for _ in range(5):
        length.update(length.current, length.current)
    assert length.current == 16
    length.update(16, 3)
    assert length.current == 5
    length.update(5, 0)
    assert (length.current, length.pause) == (2, 1)
    assert length.allowed() == 0 and length.allowed() == 2
    for _ in range(8):
        length.update(2, 0)
    assert length.pause == MAX_PAUSE and length.current == 1
    length.update(1, 1)
    assert length.misses == 0
