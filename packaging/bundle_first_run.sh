#!/usr/bin/env bash
# The bundle's first run as a person who just installed Parley meets it: dist/Parley/parley
# --self-test --first-run under env -i, a fresh HOME and xvfb-run, against a stand-in hub
# (packaging/first_run_hub.py). Prints the self-test's line; exits 1 unless it passed with every
# recommended model offered. Used by packaging/package_check.sh and `make screenshots`.
#
# Usage: packaging/bundle_first_run.sh [SCREENSHOT.png]   (saves the window as it was checked)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
SHOT="${1:-}"
[ -z "$SHOT" ] || SHOT="$(cd "$(dirname "$SHOT")" && pwd)/$(basename "$SHOT")"
test -x "$ROOT/dist/Parley/parley" || { echo "bundle_first_run: no dist/Parley (make bundle)" >&2; exit 1; }
command -v xvfb-run >/dev/null || { echo "bundle_first_run: xvfb-run is needed (apt install xvfb)" >&2; exit 1; }
TMP="$(mktemp -d "${TMPDIR:-/tmp}/parley-first-run.XXXXXX")"
HUB_PID=""
trap '[ -z "$HUB_PID" ] || kill "$HUB_PID" 2>/dev/null; rm -rf "$TMP"' EXIT

mkdir -p "$TMP/home"
PYTHONPATH="$ROOT" "$PY" "$ROOT/packaging/first_run_hub.py" --url-file "$TMP/hub-url" &
HUB_PID=$!
for _ in $(seq 300); do [ -s "$TMP/hub-url" ] && break; sleep 0.1; done
test -s "$TMP/hub-url" || { echo "bundle_first_run: the stand-in hub did not start" >&2; exit 1; }
ARGS=(--self-test --first-run)
[ -z "$SHOT" ] || ARGS+=(--screenshot "$SHOT")
# xvfb-run sets DISPLAY and XAUTHORITY for its command: pass exactly those through env -i
FIRST_RUN="$(cd "$TMP" && xvfb-run -a -s "-screen 0 1600x1000x24" sh -c \
    'home="$1" hub="$2"; shift 2
     exec env -i HOME="$home" PATH=/usr/bin:/bin LANG=C.UTF-8 DISPLAY="$DISPLAY" \
         XAUTHORITY="$XAUTHORITY" HF_ENDPOINT="$hub" HF_HUB_DISABLE_IMPLICIT_TOKEN=1 "$@"' \
    sh "$TMP/home" "$(cat "$TMP/hub-url")" "$ROOT/dist/Parley/parley" "${ARGS[@]}")" \
    || { echo "$FIRST_RUN"; echo "bundle_first_run: the bundle's first run failed" >&2; exit 1; }
echo "$FIRST_RUN"
# every recommended model offered: "N of N recommended models offered"
echo "$FIRST_RUN" | grep -Eq 'passed: welcome view with ([0-9]+) of \1 recommended models offered' \
    || { echo "bundle_first_run: not every recommended model was offered" >&2; exit 1; }
[ -z "$SHOT" ] || { test -s "$SHOT" && echo "bundle_first_run: saved $SHOT"; }
