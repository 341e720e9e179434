#!/usr/bin/env bash
# Prepares .device/ (ignored by git through .git/info/exclude) for bench/device/run.sh on a machine with
# no network: the Deno binary xz-compressed, a DENO_DIR holding the npm packages and remote modules the
# device steps import, and the Vulkan loader package from Debian (libvulkan1, unpacked there if the
# machine lacks it). Run here, from any folder of the checkout; needs deno, xz, apt-get download and the
# npm registry. Prints what it made and the total size (the transfer to a device machine holds 64 MiB,
# the working tree included).
#
#   bench/device/pack.sh
set -euo pipefail
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$root"
dev=.device
exclude="$(git rev-parse --git-common-dir)/info/exclude"
mkdir -p "$(dirname "$exclude")" "$dev"
grep -qx '/.device/' "$exclude" 2>/dev/null || echo '/.device/' >>"$exclude"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. Deno: the binary this checkout runs with (npx's copy, reached through the `deno` on PATH)
deno_bin=$(readlink -f "$(command -v deno)")
echo "deno: $deno_bin ($("$deno_bin" --version | head -1))"
if [ -f "$dev/deno.xz" ] && [ "$dev/deno.xz" -nt "$deno_bin" ] && [ -f "$dev/deno.version" ] &&
  [ "$(cat "$dev/deno.version")" = "$("$deno_bin" --version | head -1)" ]; then
  echo "deno.xz is current (delete it to rebuild)"
else
  xz -T0 -9 -c "$deno_bin" >"$tmp/deno.xz"
  mv "$tmp/deno.xz" "$dev/deno.xz"
  "$deno_bin" --version | head -1 >"$dev/deno.version"
fi

# 2. DENO_DIR: only what the device steps import. .device/deno.json is the project's import map, test
# settings and unstable flags (npm-lazy-caching: only the npm packages the graph uses are cached) without
# its tasks and lock; run.sh passes it (--config .device/deno.json --no-lock --cached-only).
deno eval 'const d = JSON.parse(Deno.readTextFileSync("deno.json"));
const c = { imports: d.imports, unstable: d.unstable ?? [], test: d.test ?? {} };
Deno.writeTextFileSync(".device/deno.json", JSON.stringify(c, null, 2) + "\n");'
entry=(bench/webgpu_bench.ts bench/device/peft_roundtrip.ts tests/webgpu_fft_test.ts tests/webgpu_kernels_test.ts
  tests/webgpu_select_test.ts tests/webgpu_training_test.ts)
for f in tests/conformance*_test.ts; do [ -f "$f" ] && entry+=("$f"); done
DENO_DIR="$tmp/deno_dir" deno cache --quiet --config "$dev/deno.json" --no-lock "${entry[@]}"
rm -rf "$tmp/deno_dir/gen" "$tmp/deno_dir"/*cache_v* 2>/dev/null || true
tar -C "$tmp" -cJf "$dev/deno_dir.tar.xz" deno_dir
echo "DENO_DIR: $(du -sh "$tmp/deno_dir" | cut -f1) unpacked ($(cd "$tmp/deno_dir" && find . -type f | wc -l) files): $(ls "$tmp/deno_dir/npm/registry.npmjs.org" | tr '\n' ' ')"

# 3. The Vulkan loader (the device image may have the NVIDIA driver's ICD but no libvulkan.so.1)
rm -f "$dev"/*.deb
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64'
(cd "$dev" && apt-get $o download libvulkan1 2>/dev/null || apt-get download libvulkan1)

echo "--- $dev"
ls -la "$dev"
echo "total carried: $(du -sh "$dev" | cut -f1); working tree (tracked): $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) bytes"
