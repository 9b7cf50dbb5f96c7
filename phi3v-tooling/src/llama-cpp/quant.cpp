// F16 GGUF -> Q4_0 or Q8_0 GGUF with ggml's own block quantizers (llama-quantize is not among the bundled sources).
// As llama-quantize does by default: the 2-D weights to the type, output.weight to Q6_K for Q4_0 (to Q8_0 for Q8_0),
// the norms stay F32.
//
//   quant IN.gguf OUT.gguf q4_0|q8_0
#include "ggml.h"
#include "gguf.h"
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "quant IN OUT q4_0|q8_0\n"); return 2; }
    std::string t = argv[3];
    lm_ggml_type type = t == "q4_0" ? LM_GGML_TYPE_Q4_0 : LM_GGML_TYPE_Q8_0;
    lm_ggml_context *in_ctx = nullptr;
    lm_gguf_init_params ip = {false, &in_ctx};
    lm_gguf_context *in = lm_gguf_init_from_file(argv[1], ip);
    if (!in) { fprintf(stderr, "read failed\n"); return 1; }
    lm_gguf_context *out = lm_gguf_init_empty();
    lm_gguf_set_kv(out, in);
    lm_gguf_set_val_u32(out, "general.file_type", t == "q4_0" ? 2 : 7);
    const int64_t n = lm_gguf_get_n_tensors(in);
    lm_ggml_init_params cp = {(size_t) 6 << 30, nullptr, false};
    lm_ggml_context *oc = lm_ggml_init(cp);
    std::vector<float> row;
    for (int64_t i = 0; i < n; i++) {
        const char *name = lm_gguf_get_tensor_name(in, i);
        lm_ggml_tensor *src = lm_ggml_get_tensor(in_ctx, name);
        lm_ggml_tensor *dst;
        if (src->type == LM_GGML_TYPE_F16 && lm_ggml_n_dims(src) == 2) {
            lm_ggml_type tt = type;
            if (!strcmp(name, "output.weight") && type == LM_GGML_TYPE_Q4_0) tt = LM_GGML_TYPE_Q6_K;
            dst = lm_ggml_new_tensor_2d(oc, tt, src->ne[0], src->ne[1]);
            row.resize(src->ne[0] * src->ne[1]);
            lm_ggml_fp16_to_fp32_row((const lm_ggml_fp16_t *) src->data, row.data(), (int64_t) row.size());
            lm_ggml_quantize_chunk(tt, row.data(), dst->data, 0, src->ne[1], src->ne[0], nullptr);
        } else {
            dst = lm_ggml_dup_tensor(oc, src);
            memcpy(dst->data, src->data, lm_ggml_nbytes(src));
        }
        lm_ggml_set_name(dst, name);
        lm_gguf_add_tensor(out, dst);
    }
    if (!lm_gguf_write_to_file(out, argv[2], false)) { fprintf(stderr, "write failed\n"); return 1; }
    printf("wrote %s\n", argv[2]);
    return 0;
}
