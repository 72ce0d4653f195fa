#!/usr/bin/env bash
# After `make package`: the bundle's --self-test with no venv and no checkout on the path, then the .deb
# installed into a scratch root (dpkg --instdir) and the installed binary's --self-test. Prints sizes and
# the bundle's start-up time; writes benchmarks/results/package.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DIST=$ROOT/dist
DEB=$(ls "$DIST"/gguf-studio_*.deb | head -1)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
clean_env() { env -i HOME="$WORK/home" PATH=/usr/bin:/bin LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen "$@"; }
mkdir -p "$WORK/home"
cd "$WORK"  # not the checkout: nothing of the project may be importable from here

echo "== bundle self-test (clean environment, cwd $WORK)"
clean_env "$DIST/gguf-studio/gguf-studio" --self-test

echo "== .deb into a scratch root"
SCRATCH=$WORK/root
mkdir -p "$SCRATCH/var/lib/dpkg/info" "$SCRATCH/var/lib/dpkg/updates"
touch "$SCRATCH/var/lib/dpkg/status"
dpkg --force-not-root --force-depends --force-script-chrootless --log=/dev/null \
     --instdir="$SCRATCH" --admindir="$SCRATCH/var/lib/dpkg" -i "$DEB" >"$WORK/dpkg.log" 2>&1 \
    || { cat "$WORK/dpkg.log"; exit 1; }  # (the scratch root has none of the Depends: dpkg lists them)
test -x "$SCRATCH/usr/bin/gguf-studio"
test -f "$SCRATCH/usr/share/applications/gguf-studio.desktop"
desktop-file-validate "$SCRATCH/usr/share/applications/gguf-studio.desktop" 2>/dev/null || true
clean_env "$SCRATCH/usr/bin/gguf-studio" --self-test

echo "== sizes and start-up"
INSTALLED_KB=$(du -sk "$SCRATCH/opt/gguf-studio" | cut -f1)
DEB_BYTES=$(stat -c %s "$DEB")
TAR_BYTES=$(stat -c %s "$(ls "$DIST"/gguf-studio-*-linux-*.tar.gz | head -1)")
START_BUNDLE=$( { /usr/bin/time -f %e env -i HOME="$WORK/home" QT_QPA_PLATFORM=offscreen \
    "$SCRATCH/usr/bin/gguf-studio" screenshot --page settings --out "$WORK/b.png" --wait 0 >/dev/null; } 2>&1 | tail -1)
START_VENV=$( { /usr/bin/time -f %e env HOME="$WORK/home" QT_QPA_PLATFORM=offscreen \
    "$ROOT/.venv/bin/gguf-studio" screenshot --page settings --out "$WORK/v.png" --wait 0 >/dev/null; } 2>&1 | tail -1)
printf 'installed size  %s MiB (target <= 400)\n.deb            %s MiB\ntar.gz          %s MiB\n' \
    $((INSTALLED_KB / 1024)) $((DEB_BYTES / 1048576)) $((TAR_BYTES / 1048576))
printf 'screenshot verb wall time: bundle %ss, venv %ss\n' "$START_BUNDLE" "$START_VENV"
mkdir -p "$ROOT/benchmarks/results"
cat > "$ROOT/benchmarks/results/package.json" <<JSON
{"installed_kib": $INSTALLED_KB, "deb_bytes": $DEB_BYTES, "tar_bytes": $TAR_BYTES,
 "screenshot_wall_s": {"bundle": $START_BUNDLE, "venv": $START_VENV}}
JSON
[ "$INSTALLED_KB" -le $((400 * 1024)) ] || { echo "installed size over 400 MiB"; exit 1; }
echo "package check passed"
