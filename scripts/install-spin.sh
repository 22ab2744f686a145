#!/usr/bin/env bash
# Installs the official Spin release into .kiln/bin/spin (KILN_SPIN_DIR
# overrides the folder), its SHA-256
# checked against the release's own checksums file, when the network
# allows. On any failure it says exactly how to get Spin and exits 1.
# Environment: KILN_SPIN_VERSION (v4.0.2, the version kiln is tested with),
# KILN_SPIN_URL_BASE (https://github.com/spinframework/spin/releases/download;
# the tests point it at a local server).
set -euo pipefail
cd "$(dirname "$0")/.."

version="${KILN_SPIN_VERSION:-v4.0.2}"
base="${KILN_SPIN_URL_BASE:-https://github.com/spinframework/spin/releases/download}"
dest="${KILN_SPIN_DIR:-.kiln/bin}"
case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=macos ;;
  *) os="" ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) arch="" ;;
esac
tarball="spin-$version-$os-$arch.tar.gz"
sums="checksums-$version.txt"

how_to() {
  cat >&2 <<HOW
kiln needs the Spin CLI ($version) and could not install it: $1

Get it one of these ways, then run the command again:
  - the official release for this machine, checked:
      curl -fLO $base/$version/$tarball
      curl -fLO $base/$version/$sums
      grep " $tarball\$" $sums | sha256sum -c -
      tar xzf $tarball spin && mkdir -p .kiln/bin && mv spin .kiln/bin/
  - Spin's installer (https://spinframework.dev/install):
      curl -fsSL https://spinframework.dev/downloads/install.sh | bash && sudo mv spin /usr/local/bin/
  - offline: a spin binary on PATH, or ../shared/bin/spin beside this repository.
HOW
  exit 1
}

[ -n "$os" ] && [ -n "$arch" ] || how_to "no official build for $(uname -s) $(uname -m)"
command -v curl >/dev/null || how_to "curl is not installed"
command -v sha256sum >/dev/null || how_to "sha256sum is not installed"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "==> downloading Spin $version ($tarball)" >&2
fetch() { curl -fsSL --connect-timeout 5 --max-time 300 -o "$tmp/$1" "$base/$version/$1"; }
fetch "$sums" || how_to "could not download $base/$version/$sums"
fetch "$tarball" || how_to "could not download $base/$version/$tarball"
expected="$(awk -v f="$tarball" '$2 == f || $2 == "*" f { print $1 }' "$tmp/$sums")"
[ -n "$expected" ] || how_to "$sums lists no checksum for $tarball"
actual="$(sha256sum "$tmp/$tarball" | awk '{ print $1 }')"
[ "$expected" = "$actual" ] || how_to "the SHA-256 of $tarball is $actual, the release says $expected: not installed"
tar xzf "$tmp/$tarball" -C "$tmp" spin || how_to "$tarball holds no spin binary"
mkdir -p "$dest"
install -m 0755 "$tmp/spin" "$dest/spin"
echo "==> installed $dest/spin (SHA-256 of $tarball checked)" >&2
