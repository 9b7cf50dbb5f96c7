#!/bin/bash
# Builds llama.cpp's CPU engine (ggml + the llama library) and this folder's two tools into WORK (default
# /tmp/llama-cpp), from the llama.cpp sources that the llama.rn package bundles (its cpp/ folder: llama.cpp
# build 10256, commit 6c8dcaa, for llama.rn 0.12.9; symbols prefixed lm_ggml_). Why that package: this project's
# machines reach the npm registry but not the llama.cpp repository. Compiled as upstream's CPU build is:
# -O3 -march=native, OpenMP, the CPU repack of Q4_0 weights on; upstream's llamafile sgemm is not in the bundle
# (it serves prompts of F16/Q8_0 weights, not the repacked Q4_0 ones nor any single-token decode).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${1:-/tmp/llama-cpp}
mkdir -p "$WORK/obj"
cd "$WORK"
[ -d package/cpp ] || { npm pack --silent llama.rn@0.12.9 >/dev/null 2>&1 && tar xzf llama.rn-0.12.9.tgz; }
S=$WORK/package/cpp
FLAGS="-O3 -march=native -fopenmp -fPIC -DLM_GGML_USE_CPU -DLM_GGML_USE_OPENMP -DLM_GGML_USE_CPU_REPACK -DNDEBUG -D_GNU_SOURCE -I$S -I$S/ggml-cpu"
SOURCES=$(cd "$S" && ls ggml.c ggml-alloc.c ggml-backend.cpp ggml-backend-reg.cpp ggml-backend-dl.cpp ggml-backend-meta.cpp \
    ggml-threading.cpp ggml-quants.c gguf.cpp ggml-opt.cpp ggml-cpu/*.c ggml-cpu/*.cpp ggml-cpu/arch/x86/*.c \
    ggml-cpu/arch/x86/*.cpp ggml-cpu/amx/*.cpp llama*.cpp models/*.cpp unicode.cpp unicode-data.cpp)
for f in $SOURCES; do
    o=obj/$(echo "$f" | tr '/' '_').o
    [ -f "$o" ] && continue
    case $f in
        *.c) echo "gcc -std=c11 $FLAGS -c $S/$f -o $o" ;;
        *) echo "g++ -std=c++17 $FLAGS -c $S/$f -o $o" ;;
    esac
done | xargs -r -P "$(nproc)" -I{} -d '\n' sh -c '{} 2>/dev/null'
for tool in llb quant; do
    g++ -std=c++17 -O2 -march=native -fopenmp -DLM_GGML_USE_CPU -I"$S" -I"$S/ggml-cpu" "$HERE/$tool.cpp" obj/*.o \
        -o "$tool" -lpthread -ldl
done
echo "built $WORK/llb and $WORK/quant"
