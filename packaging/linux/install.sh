#!/usr/bin/env bash
# Install (or uninstall) the Parley bundle: files under PREFIX, a `parley` link in BINDIR, the
# desktop entry and icons under DATADIR. Used three ways:
#   * by packaging/linux/build_deb.sh, to lay out the .deb:   install.sh --destdir STAGING
#   * from the .tar.gz, system-wide:       sudo ./install.sh
#   * from the .tar.gz, for one user:      ./install.sh --user    (~/.local/opt/parley, ~/.local/bin)
#   * to test into a throw-away root:      install.sh --destdir /tmp/root   (DESTDIR= works too)
# Uninstall: install.sh --uninstall [same options]. Neither ever touches user data: conversations,
# settings and downloaded models live in ~/.local/share/Parley, ~/.config/Parley (platformdirs).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX=/opt/parley BINDIR=/usr/bin DATADIR=/usr/share DESTDIR="${DESTDIR:-}" UNINSTALL=0
if [ -x "$HERE/parley" ]; then BUNDLE="$HERE"; else BUNDLE="$HERE/../../dist/Parley"; fi
ICONS="$BUNDLE/_internal/resources/icons"
DESKTOP="$BUNDLE/_internal/resources/parley.desktop"

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX="$2"; shift ;;
        --bindir) BINDIR="$2"; shift ;;
        --datadir) DATADIR="$2"; shift ;;
        --destdir) DESTDIR="$2"; shift ;;
        --bundle) BUNDLE="$2"; ICONS="$2/_internal/resources/icons"
                  DESKTOP="$2/_internal/resources/parley.desktop"; shift ;;
        --user) PREFIX="$HOME/.local/opt/parley" BINDIR="$HOME/.local/bin"
                DATADIR="${XDG_DATA_HOME:-$HOME/.local/share}" ;;
        --uninstall) UNINSTALL=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
ROOT="${DESTDIR%/}"
case "$PREFIX" in   # PREFIX is deleted and replaced: refuse anything that is not Parley's own
    /*/parley|/*/Parley|/*/parley-*) ;;
    *) echo "install.sh: --prefix must be an absolute folder named parley (got '$PREFIX')" >&2; exit 2 ;;
esac
SIZES="16 24 32 48 64 128 256 512"

refresh_caches() {   # best effort; the .deb gets this from dpkg triggers instead
    [ -z "$ROOT" ] || return 0
    command -v update-desktop-database >/dev/null && update-desktop-database -q "$DATADIR/applications" || true
    command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$DATADIR/icons/hicolor" || true
}

if [ "$UNINSTALL" = 1 ]; then
    rm -rf "$ROOT$PREFIX"
    rm -f "$ROOT$BINDIR/parley" "$ROOT$DATADIR/applications/parley.desktop" \
          "$ROOT$DATADIR/icons/hicolor/scalable/apps/parley.svg"
    for s in $SIZES; do rm -f "$ROOT$DATADIR/icons/hicolor/${s}x${s}/apps/parley.png"; done
    refresh_caches
    echo "Parley removed from $ROOT$PREFIX (your conversations and models are kept)."
    exit 0
fi

[ -x "$BUNDLE/parley" ] || { echo "install.sh: no bundle at $BUNDLE (run make bundle)" >&2; exit 1; }
mkdir -p "$ROOT$PREFIX" "$ROOT$BINDIR" "$ROOT$DATADIR/applications"
rm -rf "$ROOT$PREFIX"
cp -a "$BUNDLE" "$ROOT$PREFIX"              # -a keeps the bundle's library symlinks
# A relative link, so it also works inside an unpacked --destdir tree.
ln -sfn "$(realpath -m --relative-to="$ROOT$BINDIR" "$ROOT$PREFIX/parley")" "$ROOT$BINDIR/parley"
install -m 644 "$DESKTOP" "$ROOT$DATADIR/applications/parley.desktop"
if [ "$PREFIX" != /opt/parley ]; then        # not on PATH for sure: point the menu at the binary
    sed -i "s|^Exec=parley|Exec=$PREFIX/parley|; s|^TryExec=parley|TryExec=$PREFIX/parley|" \
        "$ROOT$DATADIR/applications/parley.desktop"
fi
install -D -m 644 "$ICONS/parley.svg" "$ROOT$DATADIR/icons/hicolor/scalable/apps/parley.svg"
for s in $SIZES; do
    install -D -m 644 "$ICONS/parley-$s.png" "$ROOT$DATADIR/icons/hicolor/${s}x${s}/apps/parley.png"
done
refresh_caches
echo "Parley installed in $ROOT$PREFIX (command: $ROOT$BINDIR/parley)."
