#!/usr/bin/env bash
# Installs the LLVM that `--features cuda` needs, from PyPI, so that the native CUDA backend
# builds without the internet access its build script would otherwise want:
#
#   bash scripts/setup-llvm.sh
#   CUDARC_CUDA_VERSION=13000 cargo build --release --features cuda
#
# Why: burn-cuda 0.22.1 -> cubecl-cuda 0.11.3 -> cubecl-llvm 0.11.3, whose build dependency
# `tracel-llvm-bundler` 23.1.0-4 downloads an LLVM archive from GitHub in its build script
# unless `<data_local_dir>/tracel/tracel-llvm-23.1.0-4/.tracel-llvm-installed` exists; then
# it only runs that folder's `bin/llvm-config --link-static ...`. PyPI's `mlc-llvm-static`
# (relocatable static LLVM 23.1.1, X86) plus `mlc-llvm-static-extra-targets` (NVPTX, AMDGPU,
# ...) ship exactly such a folder (`mlc_llvm_static/static/`: bin/llvm-config, include/,
# lib/ with zlib and zstd), so this script unpacks both wheels there and touches the sentinel.
#
# data_local_dir is `$XDG_DATA_HOME` when that is an absolute path, else `$HOME/.local/share`
# (the `dirs` crate's rule, which the bundler uses).
#
# Needs python3 (the wheels' llvm-config is a Python script, and unpacking uses zipfile) and
# ~400 MB of disk. Downloads ~92 MB with pip unless HTL_LLVM_WHEELS names a folder that
# already holds both wheels (fully offline). Idempotent: a complete install is left alone;
# a half-written one is replaced.
set -euo pipefail

LLVM_VERSION="23.1.1.post0"
BUNDLER_DIR_NAME="tracel-llvm-23.1.0-4"
# sha256 of the two wheels (manylinux_2_28_x86_64) as PyPI serves them.
SHA_BASE="dcfec888abfaa418be77d41af585805f31463584cf9c90582992c00f392c1ac5"
SHA_EXTRA="c36e834d9a4e9cf9759f27fece65711ece7a2fc2b5a96dbb15d66f5e9e787929"

die() { echo "setup-llvm: $*" >&2; exit 1; }

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] ||
    die "only Linux x86-64 is supported (this is $(uname -s)-$(uname -m)); elsewhere let the bundler download its own LLVM"
command -v python3 >/dev/null || die "python3 not found; install it (the LLVM's llvm-config is a Python script)"

if [ -n "${XDG_DATA_HOME:-}" ] && [ "${XDG_DATA_HOME#/}" != "$XDG_DATA_HOME" ]; then
    DATA_DIR="$XDG_DATA_HOME"
else
    [ -n "${HOME:-}" ] || die "neither an absolute XDG_DATA_HOME nor HOME is set; set one of them"
    DATA_DIR="$HOME/.local/share"
fi
DEST="$DATA_DIR/tracel/$BUNDLER_DIR_NAME"
SENTINEL="$DEST/.tracel-llvm-installed"

installed_ok() {
    [ -f "$SENTINEL" ] && [ -x "$DEST/bin/llvm-config" ] &&
        [ "$("$DEST/bin/llvm-config" --link-static --version 2>/dev/null)" = "23.1.1" ] &&
        "$DEST/bin/llvm-config" --link-static --targets-built 2>/dev/null | grep -qw NVPTX
}

if installed_ok; then
    echo "setup-llvm: LLVM 23.1.1 (with NVPTX) already installed in $DEST"
    exit 0
fi

WHEELS="${HTL_LLVM_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/htl-llvm-wheels}"
mkdir -p "$WHEELS"
BASE_WHL="$WHEELS/mlc_llvm_static-$LLVM_VERSION-py3-none-manylinux_2_28_x86_64.whl"
EXTRA_WHL="$WHEELS/mlc_llvm_static_extra_targets-$LLVM_VERSION-py3-none-manylinux_2_28_x86_64.whl"
sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
if ! sha_ok "$BASE_WHL" "$SHA_BASE" || ! sha_ok "$EXTRA_WHL" "$SHA_EXTRA"; then
    echo "setup-llvm: downloading mlc-llvm-static==$LLVM_VERSION (+ extra targets, ~92 MB) from PyPI into $WHEELS"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --platform manylinux_2_28_x86_64 --python-version 3.12 --implementation py \
        -d "$WHEELS" "mlc-llvm-static==$LLVM_VERSION" "mlc-llvm-static-extra-targets==$LLVM_VERSION" ||
        die "pip could not download mlc-llvm-static==$LLVM_VERSION; put both wheels in a folder and set HTL_LLVM_WHEELS to it"
fi
sha_ok "$BASE_WHL" "$SHA_BASE" || die "$BASE_WHL is missing or its sha256 is not $SHA_BASE; delete it and run again"
sha_ok "$EXTRA_WHL" "$SHA_EXTRA" || die "$EXTRA_WHL is missing or its sha256 is not $SHA_EXTRA; delete it and run again"

# Unpack next to the destination, then move into place, so an interrupted run never leaves
# a folder that looks installed (the sentinel is written last).
mkdir -p "$DATA_DIR/tracel"
TMP="$(mktemp -d "$DATA_DIR/tracel/.$BUNDLER_DIR_NAME.XXXXXX")"
chmod 755 "$TMP"
trap 'rm -rf "$TMP"' EXIT
python3 - "$TMP" "$BASE_WHL" "$EXTRA_WHL" <<'PY'
import os, sys, zipfile
dest, wheels = sys.argv[1], sys.argv[2:]
prefix = "mlc_llvm_static/static/"
for wheel in wheels:
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            name = info.filename
            if not name.startswith(prefix) or name.endswith("/"):
                continue
            rel = name[len(prefix):]
            if rel.startswith("/") or ".." in rel.split("/"):
                sys.exit(f"setup-llvm: unsafe path {name!r} in {wheel}")
            target = os.path.join(dest, rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(info) as src, open(target, "wb") as out:
                while True:
                    chunk = src.read(1 << 20)
                    if not chunk:
                        break
                    out.write(chunk)
            mode = (info.external_attr >> 16) & 0o777
            os.chmod(target, mode if mode else 0o644)
PY
chmod +x "$TMP/bin/llvm-config"
[ "$("$TMP/bin/llvm-config" --link-static --version)" = "23.1.1" ] || die "the unpacked llvm-config does not report 23.1.1"
"$TMP/bin/llvm-config" --link-static --targets-built | grep -qw NVPTX || die "the unpacked LLVM lacks the NVPTX target"
rm -rf "$DEST"
mv "$TMP" "$DEST"
trap - EXIT
touch "$SENTINEL"
installed_ok || die "install in $DEST did not verify"
echo "setup-llvm: LLVM 23.1.1 ($("$DEST/bin/llvm-config" --link-static --targets-built | wc -w) targets, NVPTX included) installed in $DEST"
