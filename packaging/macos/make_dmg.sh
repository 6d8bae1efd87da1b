#!/usr/bin/env bash
# macOS: sign dist/Parley.app (from `make bundle`), pack it into a .dmg, sign and notarize that.
#   dist/Parley-<version>-macos-<arch>.dmg
# Signing and notarization run only when their secrets are set (unsigned local builds otherwise):
#   MACOS_CODESIGN_IDENTITY   "Developer ID Application: Name (TEAMID)", in the keychain already
#                             (the release workflow imports it from MACOS_CERTIFICATE_P12_BASE64).
#                             Set it for `make bundle` too: PyInstaller then signs every binary.
#   notarytool, either an app-specific password:  APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD
#              or an App Store Connect API key:   APPLE_API_KEY_ID, APPLE_API_ISSUER_ID,
#                                                 APPLE_API_KEY_P8 (the .p8 file's contents)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
APP="${APP:-$ROOT/dist/Parley.app}"
VERSION="${VERSION:-$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/pyproject.toml" | head -1)}"
DMG="$ROOT/dist/Parley-$VERSION-macos-$(uname -m).dmg"
ENTITLEMENTS="$ROOT/packaging/macos/entitlements.plist"
ID="${MACOS_CODESIGN_IDENTITY:-}"
[ -d "$APP" ] || { echo "make_dmg.sh: no $APP (run make bundle)" >&2; exit 1; }

if [ -n "$ID" ]; then
    echo "== signing $APP"
    # Inner binaries were signed by PyInstaller (codesign_identity); sign the bundle itself last,
    # with the hardened runtime that notarization requires.
    codesign --force --options runtime --timestamp --entitlements "$ENTITLEMENTS" --sign "$ID" "$APP"
    codesign --verify --deep --strict --verbose=2 "$APP"
else
    echo "== MACOS_CODESIGN_IDENTITY not set: the app stays unsigned (Gatekeeper will warn)"
fi

echo "== building $DMG"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
rm -f "$DMG"
hdiutil create -volname "Parley $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"
[ -z "$ID" ] || codesign --force --timestamp --sign "$ID" "$DMG"

if [ -n "$ID" ] && { [ -n "${APPLE_ID:-}" ] || [ -n "${APPLE_API_KEY_ID:-}" ]; }; then
    echo "== notarizing (this waits for Apple, usually a few minutes)"
    if [ -n "${APPLE_API_KEY_ID:-}" ]; then
        KEY="$STAGE/AuthKey_$APPLE_API_KEY_ID.p8"
        printf '%s' "$APPLE_API_KEY_P8" > "$KEY"
        xcrun notarytool submit "$DMG" --key "$KEY" --key-id "$APPLE_API_KEY_ID" \
            --issuer "$APPLE_API_ISSUER_ID" --wait
    else
        xcrun notarytool submit "$DMG" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
            --password "$APPLE_APP_PASSWORD" --wait
    fi
    xcrun stapler staple "$DMG"
    xcrun stapler validate "$DMG"
    spctl --assess --type open --context context:primary-signature --verbose=2 "$DMG" || true
else
    echo "== notarization skipped (needs MACOS_CODESIGN_IDENTITY and Apple credentials)"
fi
echo "dmg: $DMG ($(du -h "$DMG" | cut -f1))"
