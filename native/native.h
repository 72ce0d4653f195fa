// Shared declarations of the app._native extension.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

struct ggml_tensor;

namespace native {

// ggml type ids this module converts between.
enum : int { T_F32 = 0, T_F16 = 1, T_Q8_0 = 8, T_BF16 = 30 };

struct ConvertJob {
    const uint8_t * src;        // whole source tensor, rows of n_cols values of src_type
    int src_type;
    uint8_t * dst;              // n_out_rows rows of dst_type
    int dst_type;
    int64_t n_cols;
    int64_t n_out_rows;
    const int64_t * rows;       // source row of each output row, or null for the identity
    float shift;                // added to every value (Gemma norms)
    int n_threads;
};

bool supported_src(int type);
bool supported_dst(int type);
size_t row_bytes(int type, int64_t n_cols);
void convert(const ConvertJob & job);  // runs without the GIL

struct ImatrixEntry {
    std::vector<float> values;    // per matrix: sum over tokens of x_j^2, n_cols values each
    std::vector<int64_t> counts;  // tokens seen per matrix (one per expert for MoE weights)
};

struct Imatrix {
    std::mutex mutex;
    std::map<std::string, ImatrixEntry> entries;
    std::vector<char> scratch;
    std::vector<char> ids;
    bool process_output = false;
    int64_t min_tokens = 16;
    std::string error;
};

// Matches ggml_backend_sched_eval_callback; user_data is an Imatrix*.
bool imatrix_callback(ggml_tensor * t, bool ask, void * user_data);

}  // namespace native
