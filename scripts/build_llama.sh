#!/usr/bin/env bash
# Build llama-cpp-python for *this* CPU and install it into .venv.
#
# The wheel is kept in ~/.cache/labelwise/wheels/<key>/, where the key covers the CPU's
# instruction-set flags, the compiler flags and the version: a wheel built on another CPU is
# never reused (pip's own cache is keyed on the source archive only, so it would be).
#
# AMX is left out: on machines (VMs) that list AMX in /proc/cpuinfo but do not let a process use
# its tile registers, llama.cpp's AMX kernels die with SIGILL at the first matrix product.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${LLAMA_CPP_VERSION:-0.3.36}"
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"  # CMake starts CMAKE_C(XX)_FLAGS from these
export CFLAGS="${CFLAGS:-} $NO_AMX" CXXFLAGS="${CXXFLAGS:-} $NO_AMX"
flags="$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || uname -m)"
key="$(printf '%s\n' "$VERSION" "${CMAKE_ARGS:-}" "$CFLAGS" "$CXXFLAGS" "$flags" "$(cc --version 2>/dev/null | head -1)" \
  | sha256sum | cut -c1-16)"
dir="${LABELWISE_WHEELS:-$HOME/.cache/labelwise/wheels}/$key"
if ! ls "$dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $VERSION for this CPU (about 7-13 minutes on 2 cores, once)..." >&2
  mkdir -p "$dir.tmp"
  .venv/bin/python -m pip wheel -q --no-cache-dir --no-deps -w "$dir.tmp" "llama-cpp-python==$VERSION"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
.venv/bin/python -m pip install -q --force-reinstall --no-deps "$dir"/llama_cpp_python-*.whl
