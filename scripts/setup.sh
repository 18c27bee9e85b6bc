#!/usr/bin/env sh
# Installs what building avlplus needs beyond Rust: libclang (RocksDB's bindings are generated
# at build time) and a C++ compiler (RocksDB is compiled from source). Safe to run repeatedly.
set -eu
need=""
ldconfig -p 2>/dev/null | grep -q 'libclang' || need="$need libclang-dev"
command -v c++ >/dev/null 2>&1 || need="$need g++"
if [ -n "$need" ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  echo "installing:$need"
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  $sudo apt-get install -y -qq $need >/dev/null
fi
