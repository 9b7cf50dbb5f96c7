// Times llama.cpp's CPU engine as `phi3v bench --scenario prefill<N>` times ours: a prompt of random tokens, then
// single-token decode steps, on 2 threads by default. The depths grow in one context: the prompt of each depth
// extends the cache of the previous one (its prompt and decode tokens), so a run reads 4000 prompt tokens, not
// the sum of all depths. One untimed decode step precedes each timed window.
//
//   llb MODEL.gguf FLASH_ATTN(0|1) DEPTHS(e.g. 16,800,2000,4000) DECODE_TOKENS [THREADS]
#include "llama.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: llb MODEL.gguf FLASH_ATTN(0|1) DEPTHS(csv) DECODE_TOKENS [THREADS]\n");
        return 2;
    }
    const char *path = argv[1];
    const int fa = atoi(argv[2]);
    std::vector<int> depths;
    for (char *p = strtok(argv[3], ","); p; p = strtok(nullptr, ",")) {
        depths.push_back(atoi(p));
    }
    const int tokens = atoi(argv[4]);
    const int threads = argc > 5 ? atoi(argv[5]) : 2;

    llama_backend_init();
    double t0 = now();
    llama_model *model = llama_model_load_from_file(path, llama_model_default_params());
    if (!model) {
        fprintf(stderr, "cannot load %s\n", path);
        return 1;
    }
    const double load = now() - t0;
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 4608;
    cp.n_batch = 512;
    cp.n_ubatch = 512;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.flash_attn_type = fa ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "cannot create the context\n");
        return 1;
    }
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> random_token(100, 31999);
    int pos = 0;   // positions already in the cache
    for (int depth : depths) {
        if (depth <= pos || depth + 1 + tokens > (int) cp.n_ctx) {
            fprintf(stderr, "depth %d: must exceed the previous depth + its decode tokens (%d) and fit %u\n", depth, pos,
                    cp.n_ctx);
            return 2;
        }
        std::vector<llama_token> prompt(depth - pos);
        for (auto &t : prompt) {
            t = random_token(rng);
        }
        double p0 = now();
        for (int i = 0; i < (int) prompt.size(); i += 512) {
            int n = std::min(512, (int) prompt.size() - i);
            if (llama_decode(ctx, llama_batch_get_one(prompt.data() + i, n))) {
                fprintf(stderr, "prompt failed\n");
                return 1;
            }
        }
        llama_synchronize(ctx);
        const double prompt_s = now() - p0;
        llama_token next = random_token(rng);
        llama_decode(ctx, llama_batch_get_one(&next, 1));   // untimed
        llama_synchronize(ctx);
        double d0 = now();
        for (int i = 0; i < tokens; i++) {
            next = random_token(rng);
            if (llama_decode(ctx, llama_batch_get_one(&next, 1))) {
                fprintf(stderr, "decode failed\n");
                return 1;
            }
            llama_synchronize(ctx);
        }
        const double decode_s = now() - d0;
        printf("[llb] %s fa=%d load %.1f s | prompt %d tokens %.2f s (%.1f tok/s) | decode %d tokens at %d-%d positions: "
               "%.3f tok/s\n", strrchr(path, '/') ? strrchr(path, '/') + 1 : path, fa, load, (int) prompt.size(), prompt_s,
               prompt.size() / prompt_s, tokens, depth + 2, depth + 1 + tokens, tokens / decode_s);
        fflush(stdout);
        pos = depth + 1 + tokens;
    }
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
