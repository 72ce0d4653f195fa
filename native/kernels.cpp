// Tensor conversion kernels. Every conversion goes through ggml's own row functions, so results are
// bit-identical to what ggml (and llama.cpp's converter, which follows ggml's reference) produces.
#include "native.h"

#include <ggml.h>

#include <algorithm>
#include <cstring>
#include <thread>

namespace native {

bool supported_src(int type) { return type == T_F32 || type == T_F16 || type == T_BF16; }

bool supported_dst(int type) { return supported_src(type) || type == T_Q8_0; }

size_t row_bytes(int type, int64_t n_cols) { return ggml_row_size(static_cast<ggml_type>(type), n_cols); }

static void load_row(const uint8_t * src, int type, int64_t n, float * out) {
    switch (type) {
        case T_F32: std::memcpy(out, src, n * sizeof(float)); break;
        case T_F16: ggml_fp16_to_fp32_row(reinterpret_cast<const ggml_fp16_t *>(src), out, n); break;
        case T_BF16: ggml_bf16_to_fp32_row(reinterpret_cast<const ggml_bf16_t *>(src), out, n); break;
    }
}

static void store_row(const float * x, int type, int64_t n, uint8_t * dst) {
    switch (type) {
        case T_F32: std::memcpy(dst, x, n * sizeof(float)); break;
        case T_F16: ggml_fp32_to_fp16_row(x, reinterpret_cast<ggml_fp16_t *>(dst), n); break;
        case T_BF16: ggml_fp32_to_bf16_row_ref(x, reinterpret_cast<ggml_bf16_t *>(dst), n); break;
        case T_Q8_0: ggml_quantize_chunk(GGML_TYPE_Q8_0, x, dst, 0, 1, n, nullptr); break;
    }
}

static void convert_range(const ConvertJob & job, int64_t first, int64_t last) {
    std::vector<float> row(job.n_cols);
    std::vector<ggml_fp16_t> half(job.shift != 0.0f && job.src_type == T_F16 ? job.n_cols : 0);
    const size_t in_bytes = row_bytes(job.src_type, job.n_cols);
    const size_t out_bytes = row_bytes(job.dst_type, job.n_cols);
    for (int64_t r = first; r < last; ++r) {
        const int64_t src_row = job.rows ? job.rows[r] : r;
        load_row(job.src + src_row * in_bytes, job.src_type, job.n_cols, row.data());
        if (job.shift != 0.0f) {
            for (float & v : row) v += job.shift;
            if (!half.empty()) {  // the sum of two halves is a half, as in the reference converter
                ggml_fp32_to_fp16_row(row.data(), half.data(), job.n_cols);
                ggml_fp16_to_fp32_row(half.data(), row.data(), job.n_cols);
            }
        }
        store_row(row.data(), job.dst_type, job.n_cols, job.dst + r * out_bytes);
    }
}

void convert(const ConvertJob & job) {
    const int64_t min_rows_per_thread = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, job.n_cols));
    int64_t n_threads = std::max(1, job.n_threads);
    n_threads = std::min(n_threads, std::max<int64_t>(1, job.n_out_rows / min_rows_per_thread));
    if (n_threads == 1) {
        convert_range(job, 0, job.n_out_rows);
        return;
    }
    std::vector<std::thread> workers;
    const int64_t per = (job.n_out_rows + n_threads - 1) / n_threads;
    for (int64_t i = 0; i < n_threads; ++i) {
        const int64_t first = i * per;
        const int64_t last = std::min(job.n_out_rows, first + per);
        if (first < last) workers.emplace_back(convert_range, std::cref(job), first, last);
    }
    for (auto & w : workers) w.join();
}

}  // namespace native
