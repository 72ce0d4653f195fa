// Bulk walks over the start of a GGUF file held in memory: string arrays skipped by their lengths and
// tensor infos read into plain records. Neither ever fails: each stops before the first item it cannot
// prove sound (not wholly held, past the limit, or breaking a rule), and the Python parser reads that item
// field by field, fetching more bytes or raising the error the user sees. So these walks only have to be
// strict, never to explain.
#include "native.h"

namespace native {

namespace {

// GGUF is little-endian; assembled byte by byte so the host's order does not matter (compilers emit one load).
inline uint64_t le64(const uint8_t * p) {
    return static_cast<uint64_t>(p[0]) | static_cast<uint64_t>(p[1]) << 8 | static_cast<uint64_t>(p[2]) << 16 |
           static_cast<uint64_t>(p[3]) << 24 | static_cast<uint64_t>(p[4]) << 32 | static_cast<uint64_t>(p[5]) << 40 |
           static_cast<uint64_t>(p[6]) << 48 | static_cast<uint64_t>(p[7]) << 56;
}

inline uint32_t le32(const uint8_t * p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
           static_cast<uint32_t>(p[3]) << 24;
}

constexpr uint64_t kInt64Max = 0x7fffffffffffffffULL;

// a * b into *out, or true when it does not fit in 64 bits (portable: MSVC has no __builtin_mul_overflow)
inline bool mul_overflows(uint64_t a, uint64_t b, uint64_t * out) {
    if (a != 0 && b > UINT64_MAX / a) return true;
    *out = a * b;
    return false;
}

// A position in the held bytes. Every read goes through take(), the one bounds check.
struct Cursor {
    const uint8_t * data;
    int64_t held;
    int64_t at;

    // The next n bytes, or null when they are not all held.
    const uint8_t * take(uint64_t n) {
        if (at > held || n > static_cast<uint64_t>(held - at)) return nullptr;
        const uint8_t * p = data + at;
        at += static_cast<int64_t>(n);
        return p;
    }
};

}  // namespace

StringWalk walk_strings(const uint8_t * data, int64_t held, int64_t pos, uint64_t count, int64_t limit) {
    uint64_t n = 0;
    Cursor c{data, held, pos};
    while (n < count) {
        const uint8_t * field = c.take(8);
        if (!field) break;
        const uint64_t length = le64(field);
        if (c.at > limit || length > static_cast<uint64_t>(limit - c.at)) break;
        c.at += static_cast<int64_t>(length);  // <= limit: no overflow; the bytes need not be held
        pos = c.at;
        ++n;
    }
    return {n, pos};
}

int64_t walk_tensor_infos(const uint8_t * data, int64_t held, int64_t pos, uint64_t count, int64_t size,
                          const uint64_t * types, size_t n_types, std::vector<TensorRecord> & out) {
    for (uint64_t i = 0; i < count; ++i) {
        TensorRecord r{};
        r.start = pos;
        Cursor c{data, held, pos};
        const uint8_t * field = c.take(8);
        if (!field) break;
        const uint64_t name_len = le64(field);
        if (name_len > kMaxTensorName) break;
        r.name_at = c.at;
        r.name_len = static_cast<uint32_t>(name_len);
        if (!c.take(name_len) || !(field = c.take(4))) break;
        r.n_dims = le32(field);
        if (r.n_dims > kMaxDims || !(field = c.take(8 * r.n_dims + 4 + 8))) break;  // dims, type, offset
        uint64_t n_elements = 1;
        bool sound = true;
        for (uint32_t d = 0; d < r.n_dims; ++d, field += 8) {
            r.dims[d] = le64(field);
            if (r.dims[d] > kInt64Max || mul_overflows(n_elements, r.dims[d], &n_elements) ||
                n_elements > kInt64Max)
                sound = false;
        }
        if (!sound) break;
        r.type = le32(field);
        r.offset = le64(field + 4);
        if (r.type >= n_types || types[2 * r.type] == 0) break;  // a type the table does not know
        const uint64_t block = types[2 * r.type], type_size = types[2 * r.type + 1];
        const uint64_t row = r.n_dims ? r.dims[0] : 1;
        if (row % block != 0 || mul_overflows(n_elements / block, type_size, &r.n_bytes)) break;
        // what every later tensor info needs at the least must still fit in the file
        uint64_t reserve = 0;
        if (mul_overflows(count - i - 1, kMinTensorInfo, &reserve)) break;
        if (c.at > size || static_cast<uint64_t>(size - c.at) < reserve) break;
        out.push_back(r);
        pos = c.at;
    }
    return pos;
}

}  // namespace native
