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

// GGUF header walks (gguf_walk.cpp). `held` bytes of the file are in `data`; positions are offsets into it.
constexpr uint64_t kMaxTensorName = 63;  // GGML_MAX_NAME - 1
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
constexpr uint64_t kMinTensorInfo = 8 + 4 + 4 + 8;  // empty name, no dims, type, offset

struct StringWalk {
    uint64_t n;   // strings walked
    int64_t end;  // where the next one starts (the last one's bytes may lie past `held`, never past `limit`)
};

// Up to `count` strings (u64 length, then the bytes) from `pos`; stops before one whose length field is not
// wholly held or whose bytes would end past `limit`.
StringWalk walk_strings(const uint8_t * data, int64_t held, int64_t pos, uint64_t count, int64_t limit);

struct TensorRecord {
    int64_t start;    // where the info begins (its name's length field)
    int64_t name_at;  // the name's bytes
    uint32_t name_len;
    uint32_t n_dims;
    uint64_t dims[kMaxDims];
    uint32_t type;
    uint64_t offset;   // as stored: relative to the tensor data
    uint64_t n_bytes;  // from the type table
};

// Up to `count` tensor infos from `pos` into `out`; returns where the next one starts. Stops before one not
// wholly held, one that leaves less than kMinTensorInfo bytes per later info before `size`, or one that breaks
// a rule: a name over kMaxTensorName bytes, over kMaxDims dims, a dim or element count over INT64_MAX, a type
// `types` (pairs of elements per block and bytes per block, by type id; 0 elements: unknown) does not know, a
// row that is not whole blocks, or a byte size over 64 bits.
int64_t walk_tensor_infos(const uint8_t * data, int64_t held, int64_t pos, uint64_t count, int64_t size,
                          const uint64_t * types, size_t n_types, std::vector<TensorRecord> & out);

}  // namespace native
