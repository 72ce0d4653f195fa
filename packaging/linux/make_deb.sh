#!/usr/bin/env bash
# Wrap a bundle folder into a .deb: /opt/gguf-studio, /usr/bin/gguf-studio, a menu entry and an icon.
set -euo pipefail
BUNDLE=$1 VERSION=$2 DIST=$3
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
         "$STAGE/usr/share/icons/hicolor/scalable/apps"
cp -a "$BUNDLE" "$STAGE/opt/gguf-studio"
ln -s ../../opt/gguf-studio/gguf-studio "$STAGE/usr/bin/gguf-studio"
install -m 644 "$ROOT/resources/gguf-studio.desktop" "$STAGE/usr/share/applications/"
install -m 644 "$ROOT/resources/icons/gguf-studio.svg" "$STAGE/usr/share/icons/hicolor/scalable/apps/"
SIZE_KB=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
ARCH=$(dpkg --print-architecture)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$SIZE_KB/" \
    "$ROOT/packaging/linux/control.in" > "$STAGE/DEBIAN/control"
install -m 755 "$ROOT/packaging/linux/postinst" "$STAGE/DEBIAN/postinst"
install -m 755 "$ROOT/packaging/linux/postinst" "$STAGE/DEBIAN/postrm"
DEB=$DIST/gguf-studio_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group --build "$STAGE" "$DEB" >/dev/null
ls -lh "$DEB"
