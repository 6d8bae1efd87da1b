#!/usr/bin/env bash
# `make package-check`: build the bundle and the Linux installers, and prove both run on a clean
# environment (no virtualenv, no project on PATH or PYTHONPATH):
#   1. make bundle                                   -> dist/Parley
#   2. dist/Parley/parley --self-test MODEL          under env -i
#      packaging/bundle_first_run.sh                 dist/Parley/parley --self-test --first-run
#      under env -i, a fresh HOME and xvfb-run, against a stand-in hub: the welcome view, the
#      recommended models listed, no pip/make/README wording in the window
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
trap 'rm -rf "$TMP"' EXIT
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
bash packaging/bundle_first_run.sh

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
