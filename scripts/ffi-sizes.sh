#!/usr/bin/env bash
# Shipped binary sizes of the C ABI (crate avlplus-ffi), as a markdown table on stdout.
#
#   bash scripts/ffi-sizes.sh
#
# Budgets (from the issue): the stripped Android .so <= 400 KiB, the .wasm <= 120 KiB after
# wasm-opt; for iOS the figure is what the static library adds to an app (no budget).
# Builds go to $AVLPLUS_SIZES_TARGET_DIR (default ~/.cache/avlplus-sizes), never ./target,
# so that they neither disturb nor wait on the tree's own builds; a second run builds
# nothing and only re-measures (seconds). Installs what it needs: rustup targets, llvm-tools,
# and Debian's gcc-aarch64-linux-gnu and binaryen if missing. Progress goes to stderr.
#
# Profiles: `release` is the workspace's release profile (opt-level 3, thin local LTO, 16
# codegen units), measured for reference; `mobile` is what Android and iOS builds use
# (opt-level "s", fat LTO, 1 codegen unit; it keeps release's `panic = "unwind"`, which the
# ABI needs: ffi/src/boundary.rs catches panics at every entry point); `wasm` is the
# module's own profile (ffi/tests/common/js.rs builds it the same way).
#
# With --check, exits 1 when an artifact is over its budget (CI runs it so).
set -euo pipefail
export LC_ALL=C   # sort/join agree on order; awk prints a decimal point
check=
[[ ${1:-} == --check ]] && check=1

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${AVLPLUS_SIZES_TARGET_DIR:-$HOME/.cache/avlplus-sizes}"
out="$CARGO_TARGET_DIR/ffi-sizes"   # stripped copies, the Android link's stubs
mkdir -p "$out"

step() { printf '==> %s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------------------

if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
apt_updated=
apt_install() {
    [[ -n $apt_updated ]] || { "${sudo[@]}" apt-get update -qq >&2; apt_updated=1; }
    step "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >&2
}

host=$(rustc -vV | sed -n 's/^host: //p')
targets=(wasm32-unknown-unknown aarch64-linux-android aarch64-unknown-linux-gnu
    aarch64-apple-ios aarch64-unknown-linux-musl)
# aarch64-unknown-linux-musl is not measured: its rust-std ships LLVM's libunwind.a built
# for aarch64 (lib/self-contained), which the Android link below needs (see there).
installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
    grep -qx "$t" <<<"$installed" || { step "rustup target add $t"; rustup target add "$t" >&2; }
done

sysroot=$(rustc --print sysroot)
bin="$sysroot/lib/rustlib/$host/bin"   # rust-lld always; llvm-* with llvm-tools
if [[ ! -x $bin/llvm-size ]]; then
    step "rustup component add llvm-tools"
    rustup component add llvm-tools >&2 || true
fi
# llvm-size, llvm-strip and llvm-nm read every format measured here (ELF, Mach-O, wasm).
# Without llvm-tools (rustup unreachable), Debian's LLVM does the same.
llvm() {
    if [[ -x $bin/llvm-$1 ]]; then echo "$bin/llvm-$1"; return; fi
    local d
    for d in /usr/lib/llvm-*/bin; do [[ -x $d/llvm-$1 ]] && { echo "$d/llvm-$1"; return; }; done
    apt_install llvm >&2
    llvm "$1"
}
size=$(llvm size) strip=$(llvm strip) nm=$(llvm nm) ar=$(llvm ar) readobj=$(llvm readobj)
lld="$bin/rust-lld"

command -v wasm-opt >/dev/null || apt_install binaryen
command -v aarch64-linux-gnu-gcc >/dev/null || apt_install gcc-aarch64-linux-gnu

# --- rows --------------------------------------------------------------------------------

rows=()
over=()
# row ARTIFACT TARGET PROFILE FILE BUDGET_KIB|-  (BUDGET "-": a reference figure)
row() { row_bytes "$1" "$2" "$3" "$(stat -c %s "$4")" "$5"; }
row_bytes() {
    local holds=— budget=—
    if [[ $5 != - ]]; then
        budget="≤ $5 KiB"
        if (($4 <= $5 * 1024)); then holds=yes; else holds=**NO**; over+=("$1 ($3)"); fi
    fi
    rows+=("$(awk -v a="$1" -v t="$2" -v p="$3" -v b="$4" -v bu="$budget" -v h="$holds" \
        'BEGIN { printf "| %s | %s | %s | %d | %.1f | %s | %s |", a, t, p, b, b / 1024, bu, h }')")
}

# ELF: a stripped copy, as an app or a distribution ships it (the Android Gradle plugin
# strips every .so it packages; --strip-all keeps only what the loader reads).
stripped() { "$strip" --strip-all -o "$2" "$1"; }

# cargo rustc with one crate type: the products are libavlplus_ffi.{so,a} and building only
# the one measured saves an LTO pass (with fat LTO each crate type is optimised apart).
ffi() { # PROFILE TARGET CRATE_TYPE [cargo args] [-- rustc args]
    local profile=$1 target=$2 kind=$3
    shift 3
    step "build $kind, $target, profile $profile"
    cargo rustc --quiet -p avlplus-ffi --lib --crate-type "$kind" --profile "$profile" \
        --target "$target" "$@" >&2
}

# --- 1. wasm -----------------------------------------------------------------------------
# Exactly what ffi/tests/common/js.rs ships to ffi/js (simd128, wasm-opt -O3), and for
# reference the size-optimised module (no SIMD, opt-level "s", wasm-opt -Oz).

step "build wasm32-unknown-unknown, profile wasm (simd128)"
cargo build --quiet -p avlplus-ffi --profile wasm --target wasm32-unknown-unknown --lib \
    --config 'target.wasm32-unknown-unknown.rustflags=["-C", "target-feature=+simd128"]' >&2
wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm/avlplus_ffi.wasm"
wasm-opt -O3 --strip-debug --strip-producers "$wasm" -o "$out/avlplus.wasm"
row ".wasm as shipped, wasm-opt -O3" wasm32-unknown-unknown "wasm + simd128" "$out/avlplus.wasm" 120
step "build wasm32-unknown-unknown, profile mobile (size)"
cargo build --quiet -p avlplus-ffi --profile mobile --target wasm32-unknown-unknown --lib >&2
wasm-opt -Oz --strip-debug --strip-producers \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/mobile/avlplus_ffi.wasm" -o "$out/avlplus-small.wasm"
row ".wasm size-optimised, wasm-opt -Oz" wasm32-unknown-unknown mobile "$out/avlplus-small.wasm" 120

# --- 2. Android .so, linked without the NDK ----------------------------------------------
# There is no NDK here, but an Android cdylib can be linked honestly with rustc's own
# rust-lld. What the NDK contributes to libavlplus_ffi.so, and what stands in for it:
#  - bionic's libc, libm, libdl and liblog (`-lc -lm -ldl -llog`): a shared object only
#    names them (DT_NEEDED, undefined dynamic symbols, symbol versions), it copies nothing.
#    Stub .so files stand in: made by rust-lld from linker scripts, they define exactly the
#    symbols the library leaves undefined (found by a first link against empty stubs), each
#    in the bionic library that has it, with bionic's version name LIBC, so the output gets
#    the same kind of dynamic tables a real link gives it.
#  - libunwind (`-lunwind`): the NDK has only a static libunwind.a (LLVM's), so its code IS
#    part of the shipped .so (std's panic unwinding). LLVM's libunwind.a for aarch64 from
#    Rust's aarch64-unknown-linux-musl std stands in for it: same code, built for musl.
#  - the NDK clang driver's own link flags: added below. Left out: crtbegin_so.o and
#    crtend_so.o (well under 1 KiB).
# The file is for measuring: a few of its imports are musl's names (from that libunwind.a),
# which bionic lacks, so it would not load on a device. The aarch64-unknown-linux-gnu rows
# below are the cross-check (same code, linked by GNU ld; glibc's unwinder is libgcc_s.so,
# so they lack the unwinder): the detail table after the main one compares their sections.

stub_dir="$out/android-ld"
mkdir -p "$stub_dir"
cp "$sysroot/lib/rustlib/aarch64-unknown-linux-musl/lib/self-contained/libunwind.a" \
    "$stub_dir/libunwind.a.in"
# The linker rustc runs (with -C linker-flavor=ld: rustc passes ld's own arguments).
cat >"$stub_dir/ld" <<EOF
#!/usr/bin/env bash
# Written by scripts/ffi-sizes.sh: rust-lld as an NDK-less Android linker (see there).
set -euo pipefail
export LC_ALL=C   # sort/join agree on order; awk prints a decimal point
dir=$stub_dir lld=$lld nm=$nm
o=; prev=
for a in "\$@"; do [[ \$prev == -o ]] && o=\$a; prev=\$a; done
# Stub bionic libraries defining the symbols listed in file \$1, each in its library.
stubs() {
    rm -rf "\$dir/lib"; mkdir -p "\$dir/lib"
    cp "\$dir/libunwind.a.in" "\$dir/lib/libunwind.a"
    awk -v d="\$dir/lib" '
        /^(dl[a-z_]*|android_dlopen_ext)\$/ { print \$0 " = 0;" > (d "/dl.syms"); next }
        /^__android_log/ { print \$0 " = 0;" > (d "/log.syms"); next }
        /^(a?(sin|cos|tan)h?|atan2|exp|exp2|expm1|log|log2|log10|log1p|pow|sqrt|cbrt|hypot|fmod|floor|ceil|trunc|round|fma|ldexp|frexp|modf|fmin|fmax|fdim|copysign|rint|nearbyint|scalbn|erfc?|tgamma|lgamma)f?\$/ {
            print \$0 " = 0;" > (d "/m.syms"); next }
        { print \$0 " = 0;" > (d "/c.syms") }' "\$1"
    printf 'LIBC { global: *; };\n' > "\$dir/lib/version.map"
    local l
    for l in c m dl log; do
        touch "\$dir/lib/\$l.syms"
        "\$lld" -flavor gnu -m aarch64linux -shared -soname "lib\$l.so" \
            --version-script="\$dir/lib/version.map" -o "\$dir/lib/lib\$l.so" "\$dir/lib/\$l.syms"
    done
}
# Flags the NDK's clang driver adds for an aarch64 Android shared object (NDK r27+: 16 KiB
# pages); rustc's own (-shared, --gc-sections, -z relro -z now, --eh-frame-hdr...) are in \$@.
link() {
    "\$lld" -flavor gnu -L "\$dir/lib" "\$@" --hash-style=gnu --build-id=sha1 \
        --enable-new-dtags -z max-page-size=16384 --fix-cortex-a53-843419
}
stubs /dev/null
link "\$@"
"\$nm" -D --undefined-only "\$o" | awk '{ print \$NF }' > "\$dir/undefined.txt"
stubs "\$dir/undefined.txt"
link "\$@"
EOF
chmod +x "$stub_dir/ld"

# blake3 is `pure` on Android (ffi/Cargo.toml): portable Rust, no C.
for profile in release mobile; do
    CARGO_TARGET_AARCH64_LINUX_ANDROID_LINKER="$stub_dir/ld" \
        ffi "$profile" aarch64-linux-android cdylib -- -C linker-flavor=ld
    stripped "$CARGO_TARGET_DIR/aarch64-linux-android/$profile/libavlplus_ffi.so" \
        "$out/android-$profile.so"
    # The budget is the shipped build's (mobile); release is shown for reference.
    budget=-
    [[ $profile == mobile ]] && budget=400
    row "Android .so, stripped (rust-lld, no NDK)" aarch64-linux-android "$profile" \
        "$out/android-$profile.so" "$budget"
done

# --- 2b. the same code as a glibc .so (cross-check of the Android figure) -----------------
# Same ISA, same Rust code, a real toolchain's link (Debian's aarch64 GNU ld). blake3 would
# compile its NEON C here; CARGO_FEATURE_PURE is exactly what its `pure` feature does (only
# its build script reads it: it then emits no blake3_neon cfg and compiles no C), so the
# code matches Android's.
for profile in release mobile; do
    CARGO_FEATURE_PURE=1 CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
        ffi "$profile" aarch64-unknown-linux-gnu cdylib
    stripped "$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/$profile/libavlplus_ffi.so" \
        "$out/gnu-aarch64-$profile.so"
    row "proxy: glibc .so, stripped (no unwinder)" aarch64-unknown-linux-gnu "$profile" \
        "$out/gnu-aarch64-$profile.so" -
done

# --- 3. iOS .a ---------------------------------------------------------------------------
# A staticlib holds all of std as objects and the app's linker dead-strips it, so neither
# the raw .a nor its stripped size is what an app grows by. With fat LTO and one codegen
# unit (profile mobile), rustc merges our code and every Rust crate it uses, std included,
# into one object (avlplus_ffi-*.rcgu.o) and internalises all but the exported avlplus_*
# functions, dropping what they do not reach; only compiler_builtins (never LTO'd) stays
# as separate members. The "contribution" is what that object puts in the app's __TEXT and
# __DATA segments (code, constants, strings, __eh_frame, data; not the zero-fill __bss,
# not its __DWARF, which the app's link leaves out, nor __LD,__compact_unwind, which it
# turns into a much smaller __unwind_info), plus the same of each other member that
# defines a symbol the object imports. It is an upper bound for an app that calls every
# entry point (the app's -dead_strip drops functions it does not reach), leaving out the
# few bytes of stubs the app's linker adds.
ffi mobile aarch64-apple-ios staticlib
a="$CARGO_TARGET_DIR/aarch64-apple-ios/mobile/libavlplus_ffi.a"
"$strip" -S -o "$out/ios.a" "$a"
row "iOS .a, raw" aarch64-apple-ios mobile "$a" -
row "iOS .a, llvm-strip -S" aarch64-apple-ios mobile "$out/ios.a" -
members="$out/ios-members"
rm -rf "$members" && mkdir -p "$members"
(cd "$members" && "$ar" x "$a")
lto=("$members"/avlplus_ffi-*.rcgu.o)
((${#lto[@]} == 1)) || { echo "expected one LTO object in $a, found ${#lto[@]}" >&2; exit 1; }
# The other members that define a symbol the LTO object imports (none, as of writing).
used=$(for m in "$members"/*.o; do
    [[ $m == "${lto[0]}" ]] || "$nm" --defined-only -j "$m" 2>/dev/null | sed "s|^|$m |"
done | awk 'NR == FNR { want[$1]; next } ($2 in want) { print $1 }' \
    <("$nm" -u -j "${lto[0]}") - | sort -u)
contribution=$("$size" -m "${lto[0]}" $used | awk -F'[(,):]+' '
    /Section \(__(TEXT|DATA), / && $3 !~ /bss|common/ { s += $4 } END { print s }')
row_bytes "iOS contribution: LTO object __TEXT+__DATA" aarch64-apple-ios mobile "$contribution" -

# --- 4. native, for reference ------------------------------------------------------------
# The host's own build (blake3 with its x86-64 SIMD assembly).
ffi release "$host" cdylib
stripped "$CARGO_TARGET_DIR/$host/release/libavlplus_ffi.so" "$out/native.so"
row "native .so, stripped" "$host" release "$out/native.so" -

# --- the table ---------------------------------------------------------------------------

echo "| artifact | target | profile | bytes | KiB | budget | holds |"
echo "| --- | --- | --- | ---: | ---: | --- | --- |"
printf '%s\n' "${rows[@]}"
echo
echo "iOS: other .a members that the LTO object needs: $(wc -w <<<"$used")"
echo
# Is the NDK-less Android .so representative? Its allocated sections against the glibc
# build of the same code (profile mobile): the code should match to within the unwinder.
echo "| section (profile mobile) | Android .so | glibc .so |"
echo "| --- | ---: | ---: |"
join -a1 -a2 -e 0 -o 0,1.2,2.2 \
    <("$size" -A "$out/android-mobile.so" | awk 'NF == 3 && $1 ~ /^\./ { print $1, $2 }' | sort) \
    <("$size" -A "$out/gnu-aarch64-mobile.so" | awk 'NF == 3 && $1 ~ /^\./ { print $1, $2 }' | sort) |
    awk '{ printf "| %s | %d | %d |\n", $1, $2, $3 }'
echo
echo "Android undefined imports: $(wc -l <"$stub_dir/undefined.txt");" \
    "NEEDED: $("$readobj" -d "$out/android-mobile.so" |
        sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')"
if [[ -n $check && ${#over[@]} -gt 0 ]]; then
    printf 'over budget: %s\n' "${over[@]}" >&2
    exit 1
fi
