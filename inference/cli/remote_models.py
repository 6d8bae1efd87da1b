"""`parley models --remote URL`: the models a server lists, its kind and context size."""

from __future__ import annotations

import argparse

from inference.cli.common import print_json
from inference.cli.remote_args import endpoint_from_args
from inference.common.cancel import CancelToken
from inference.remote.engine import RemoteEngine
from inference.remote.sampling_map import ignored_sliders


def list_remote(args: argparse.Namespace) -> int:
    endpoint = endpoint_from_args(args)
    engine = RemoteEngine(endpoint)
    try:
        survey = engine.survey(CancelToken())
    finally:
        engine.close()
    ignored = ignored_sliders(survey.kind)
    if args.json:
        print_json({"base_url": endpoint.base_url, "server": survey.kind.value,
                    "ignored_sliders": list(ignored),
                    "models": [{**m.to_dict(), "n_ctx": survey.n_ctx(m) or None}
                               for m in survey.models]})
        return 0
    if not survey.models:
        print(f"{endpoint.base_url} lists no models")
        return 0
    rows = [(m.id, m.owned_by or "—", f"{survey.n_ctx(m):,}" if survey.n_ctx(m) else "unknown")
            for m in survey.models]
    headers = ("MODEL", "OWNER", "CTX")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for row in (headers, *rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print(f"\n{len(survey.models)} models at {endpoint.base_url} ({survey.kind.label})"
          + (f"; it ignores these sliders: {', '.join(ignored)}" if ignored else ""))
    return 0
