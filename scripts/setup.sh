#!/usr/bin/env sh
# Installs what building and testing avlplus needs beyond Rust: libclang (RocksDB's bindings
# are generated at build time by bindgen, which loads libclang.so) and a C++ compiler (RocksDB
# is compiled from source); for the C ABI's binding tests (ffi/): gcc and valgrind (the C
# test), a JDK and JNA (Java), python3 (Python), node, Chromium and binaryen's wasm-opt
# (JavaScript and the browser). Safe to run repeatedly; prints what it installs.
#
# The check asks for what bindgen loads, not for any file with "libclang" in its name: a
# machine can have libclang-cpp (another library, pulled in by other packages) and no
# libclang.so, and then the RocksDB build fails with "Unable to find libclang".
set -eu

installed() { # Debian package installed?
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

need=""
if command -v dpkg-query >/dev/null 2>&1; then
  installed libclang-dev || need="$need libclang-dev"
  installed g++ || command -v c++ >/dev/null 2>&1 || need="$need g++"
  # The bindings' tests (ffi/tests/): each fails under CI=true when its tool is missing.
  for pkg in gcc valgrind libjna-java chromium binaryen; do
    installed "$pkg" || need="$need $pkg"
  done
  command -v javac >/dev/null 2>&1 || need="$need openjdk-17-jdk-headless"
  command -v python3 >/dev/null 2>&1 || need="$need python3"
  command -v node >/dev/null 2>&1 || need="$need nodejs"
else
  # Not Debian: look for the library itself (libclang.so or libclang-N.so, not libclang-cpp).
  ldconfig -p 2>/dev/null | grep -Eq '[[:space:]]libclang(-[0-9.]+)?\.so[[:space:]]' \
    || { echo "setup: libclang.so not found; install your distribution's libclang development package" >&2; exit 1; }
  command -v c++ >/dev/null 2>&1 \
    || { echo "setup: no C++ compiler found; install one (g++ or clang++)" >&2; exit 1; }
fi

if [ -n "$need" ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  echo "setup: installing:$need"
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $need >/dev/null
  # dpkg refreshes the loader's cache in a trigger it need not wait for: refresh it now, so
  # that what was just installed (libclang.so) is found at once.
  $sudo ldconfig
fi
# The JavaScript binding's test builds the verifier for wasm32 and drives Chromium with
# playwright-core (ffi/js/package-lock.json; no browser download: it uses Debian's chromium).
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 \
  || { echo "setup: rustup target add wasm32-unknown-unknown failed" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -d "$root/ffi/js/node_modules/playwright-core" ]; then
  echo "setup: npm ci in ffi/js (playwright-core)"
  (cd "$root/ffi/js" && npm ci --no-audit --no-fund --silent)
fi
echo "setup: build and test dependencies present (libclang-dev, C++ compiler, gcc, valgrind, JDK + JNA, python3, node, chromium, wasm-opt)"
