#!/usr/bin/env bash
# `make package-check`: build the bundle and the Linux installers, and prove both run on a clean
# environment (no virtualenv, no project on PATH or PYTHONPATH):
#   1. make bundle                                   -> dist/Parley
#   2. dist/Parley/parley --self-test MODEL          under env -i
#      dist/Parley/parley --self-test --first-run    under env -i, a fresh HOME and xvfb-run,
#      against a stand-in hub (packaging/first_run_hub.py): the welcome view, the recommended
#      models listed, no pip/make/README wording in the window
#   3. packaging/linux/build_deb.sh                  -> dist/*.deb, dist/*.tar.gz
#   4. dpkg-deb -x the .deb into a temporary root, run <root>/usr/bin/parley --self-test MODEL
#   5. unpack the .tar.gz, install.sh --destdir into a temporary root, run --version there
# MODEL defaults to the starter model (assembled from the parley[starter] package if needed).
# SKIP_BUNDLE=1 reuses an existing dist/Parley.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
cd "$ROOT"
MODEL="${MODEL:-$("$PY" -c 'from inference.library.starter import starter_model_path; print(starter_model_path())')}"
CLEAN_ENV=(env -i "HOME=$HOME" PATH=/usr/bin:/bin LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen)
TMP="$(mktemp -d "${TMPDIR:-/tmp}/parley-check.XXXXXX")"
HUB_PID=""
trap '[ -z "$HUB_PID" ] || kill "$HUB_PID" 2>/dev/null; rm -rf "$TMP"' EXIT
if ! command -v xvfb-run >/dev/null; then
    echo "package-check: xvfb-run is needed for the bundle's first-run check (apt install xvfb)" >&2
    exit 1
fi
df -h "$ROOT" | tail -1

t0=$(date +%s)
if [ "${SKIP_BUNDLE:-0}" != 1 ]; then
    make --no-print-directory bundle BUNDLE_DEPS=
fi
t1=$(date +%s)

echo "== self-test of dist/Parley (clean environment)"
(cd "$TMP" && "${CLEAN_ENV[@]}" "$ROOT/dist/Parley/parley" --self-test "$MODEL")

echo "== first run of dist/Parley (env -i, fresh HOME, Xvfb, stand-in hub)"
mkdir -p "$TMP/home"
PYTHONPATH="$ROOT" "$PY" packaging/first_run_hub.py --url-file "$TMP/hub-url" &
HUB_PID=$!
for _ in $(seq 300); do [ -s "$TMP/hub-url" ] && break; sleep 0.1; done
test -s "$TMP/hub-url" || { echo "package-check: the stand-in hub did not start" >&2; exit 1; }
# xvfb-run sets DISPLAY and XAUTHORITY for its command: pass exactly those through env -i
FIRST_RUN="$(cd "$TMP" && xvfb-run -a -s "-screen 0 1600x1000x24" sh -c \
    'exec env -i HOME="$1" PATH=/usr/bin:/bin LANG=C.UTF-8 DISPLAY="$DISPLAY" \
         XAUTHORITY="$XAUTHORITY" HF_ENDPOINT="$2" HF_HUB_DISABLE_IMPLICIT_TOKEN=1 \
         "$3" --self-test --first-run' \
    sh "$TMP/home" "$(cat "$TMP/hub-url")" "$ROOT/dist/Parley/parley")" \
    || { echo "$FIRST_RUN"; echo "package-check: the bundle's first run failed" >&2; exit 1; }
echo "$FIRST_RUN"
kill "$HUB_PID" && wait "$HUB_PID" 2>/dev/null || true
HUB_PID=""
# every recommended model offered: "N of N recommended models offered"
echo "$FIRST_RUN" | grep -Eq 'passed: welcome view with ([0-9]+) of \1 recommended models offered' \
    || { echo "package-check: not every recommended model was offered" >&2; exit 1; }

echo "== Linux installers"
bash packaging/linux/build_deb.sh
t2=$(date +%s)
VERSION="$(sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -1)"
DEB="$(ls dist/parley_"$VERSION"_*.deb)"
TGZ="$(ls dist/parley-"$VERSION"-linux-*.tar.gz)"
dpkg-deb --info "$DEB" | sed -n 's/^ \(Package\|Version\|Architecture\|Installed-Size\):/  &/p'

echo "== install the .deb into $TMP/deb-root and self-test the installed app"
dpkg-deb -x "$DEB" "$TMP/deb-root"
test -L "$TMP/deb-root/usr/bin/parley"
test -f "$TMP/deb-root/usr/share/applications/parley.desktop"
test -f "$TMP/deb-root/usr/share/icons/hicolor/256x256/apps/parley.png"
if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$TMP/deb-root/usr/share/applications/parley.desktop"
fi
(cd "$TMP" && "${CLEAN_ENV[@]}" "$TMP/deb-root/usr/bin/parley" --self-test "$MODEL")

echo "== the .tar.gz with install.sh --destdir"
mkdir -p "$TMP/tgz"
tar -C "$TMP/tgz" -xzf "$TGZ"
"$TMP"/tgz/parley-*/install.sh --destdir "$TMP/tgz-root"
"${CLEAN_ENV[@]}" "$TMP/tgz-root/usr/bin/parley" --version
"$TMP"/tgz/parley-*/install.sh --destdir "$TMP/tgz-root" --uninstall
test ! -e "$TMP/tgz-root/opt/parley"
t3=$(date +%s)

variants="$(ls dist/Parley/_internal/llama_cpp/lib | sed -n 's/^libggml-cpu-\(.*\)\.so$/\1/p' | tr '\n' ' ')"
echo "== package-check passed"
echo "  bundle:      dist/Parley $(du -sh dist/Parley | cut -f1) (built in $((t1 - t0)) s)"
echo "  .deb:        $DEB $(du -h "$DEB" | cut -f1)"
echo "  .tar.gz:     $TGZ $(du -h "$TGZ" | cut -f1) (installers in $((t2 - t1)) s)"
echo "  CPU backend: ${variants:-built-in (not portable: packaging/build_portable_llama.sh)}"
echo "  total:       $((t3 - t0)) s"
