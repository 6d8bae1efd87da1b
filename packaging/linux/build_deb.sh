#!/usr/bin/env bash
# Linux installers from the bundle (dist/Parley, `make bundle`):
#   dist/parley_<version>_<arch>.deb              installs /opt/parley, /usr/bin/parley, menu entry
#   dist/parley-<version>-linux-<machine>.tar.gz  the bundle + install.sh (system-wide or --user)
# No AppImage: appimagetool and the AppImage runtime are not packaged by Debian or PyPI (the PyPI
# tools download them from GitHub at build time), so this project cannot build one reproducibly.
set -euo pipefail
# env: BUNDLE (dist/Parley), OUT (dist), VERSION (from pyproject.toml), DEB_COMPRESS (gzip; xz is
# ~25% smaller but takes minutes on 2 busy cores: the release workflow uses xz).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUNDLE="${BUNDLE:-$ROOT/dist/Parley}"
OUT="${OUT:-$ROOT/dist}"
VERSION="${VERSION:-$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/pyproject.toml" | head -1)}"
ARCH="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
MACHINE="$(uname -m)"
[ -x "$BUNDLE/parley" ] || { echo "build_deb.sh: no bundle at $BUNDLE (run make bundle)" >&2; exit 1; }

STAGE="$(mktemp -d "${TMPDIR:-/tmp}/parley-deb.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT

# -- .deb --------------------------------------------------------------------------------------
"$ROOT/packaging/linux/install.sh" --bundle "$BUNDLE" --destdir "$STAGE/root" >/dev/null
mkdir -p "$STAGE/root/DEBIAN" "$STAGE/root/usr/share/doc/parley"
install -m 644 "$ROOT/packaging/linux/copyright" "$STAGE/root/usr/share/doc/parley/copyright"
SIZE_KB="$(du -sk --exclude=DEBIAN "$STAGE/root" | cut -f1)"
# Qt's xcb platform plugin needs these X11 libraries from the system (PyInstaller does not
# bundle them); GL/EGL/fontconfig come from the desktop. Wayland sessions use the bundled
# libQt6WaylandClient plus the system's libwayland-*.
cat > "$STAGE/root/DEBIAN/control" <<CONTROL
Package: parley
Version: $VERSION
Section: utils
Priority: optional
Architecture: $ARCH
Installed-Size: $SIZE_KB
Maintainer: Parley developers <maintainers@parley.invalid>
Depends: libc6 (>= 2.31), libfontconfig1, libfreetype6, libx11-6, libx11-xcb1, libxcb1,
 libxcb-cursor0, libxcb-icccm4, libxcb-image0, libxcb-keysyms1, libxcb-randr0,
 libxcb-render-util0, libxcb-shape0, libxcb-xfixes0, libxcb-xkb1, libxkbcommon0,
 libxkbcommon-x11-0, libegl1, libgl1, libdbus-1-3, libwayland-client0, libwayland-cursor0,
 libwayland-egl1
Description: Chat with local GGUF language models, fully offline
 Parley is a desktop app over llama.cpp: chat, text completion and instruct modes, live
 speed and memory metrics, perplexity and quantization comparisons. Everything runs on
 this computer. Conversations are kept in ~/.local/share/Parley and are never removed by
 upgrading or uninstalling the package.
CONTROL
DEB="$OUT/parley_${VERSION}_${ARCH}.deb"
nice -n 19 dpkg-deb --root-owner-group -Z"${DEB_COMPRESS:-gzip}" --build "$STAGE/root" "$DEB" >/dev/null
echo "deb:    $DEB ($(du -h "$DEB" | cut -f1))"

# -- .tar.gz -----------------------------------------------------------------------------------
TARDIR="$STAGE/tar/parley-$VERSION"
mkdir -p "$TARDIR"
cp -a "$BUNDLE/." "$TARDIR/"
install -m 755 "$ROOT/packaging/linux/install.sh" "$TARDIR/install.sh"
TGZ="$OUT/parley-$VERSION-linux-$MACHINE.tar.gz"
tar -C "$STAGE/tar" -cf - "parley-$VERSION" | nice -n 19 gzip -6 > "$TGZ"
echo "tar.gz: $TGZ ($(du -h "$TGZ" | cut -f1))"
