// Importance-matrix collector: for every matrix multiplication by a model weight, accumulate the
// squared activations entering each column (what llama-imatrix records and llama-quantize reads).
#include "native.h"

#include <ggml-backend.h>
#include <ggml.h>

#include <cmath>
#include <cstring>

namespace native {

// Weights used inside a graph can carry decorated names ("CPU#blk.0.attn_q.weight#0").
static std::string weight_name(const char * name) {
    const char * start = std::strchr(name, '#');
    if (!start) return name;
    ++start;
    const char * end = std::strchr(start, '#');
    return end ? std::string(start, end - start) : std::string(start);
}

static const char * host_data(const ggml_tensor * t, std::vector<char> & scratch) {
    if (ggml_backend_buffer_is_host(t->buffer)) return static_cast<const char *>(t->data);
    scratch.resize(ggml_nbytes(t));
    ggml_backend_tensor_get(t, scratch.data(), 0, scratch.size());
    return scratch.data();
}

static void add_squares(float * acc, const float * x, int64_t n) {
    for (int64_t j = 0; j < n; ++j) acc[j] += x[j] * x[j];
}

static bool collect_dense(Imatrix & m, const ggml_tensor * w, const ggml_tensor * x, const char * data,
                          ImatrixEntry & e) {
    const int64_t n_mat = w->ne[2] * w->ne[3];
    const int64_t ne0 = x->ne[0];
    if (e.values.empty()) {
        e.values.assign(ne0 * n_mat, 0.0f);
        e.counts.assign(1, 0);
    } else if (static_cast<int64_t>(e.values.size()) != ne0 * n_mat) {
        m.error = "inconsistent activation size for " + std::string(w->name);
        return false;
    }
    for (int64_t i3 = 0; i3 < x->ne[3]; ++i3) {
        for (int64_t i2 = 0; i2 < x->ne[2]; ++i2) {
            const int64_t mat = (i3 % w->ne[3]) * w->ne[2] + (i2 % w->ne[2]);
            for (int64_t row = 0; row < x->ne[1]; ++row) {
                const char * p = data + row * x->nb[1] + i2 * x->nb[2] + i3 * x->nb[3];
                add_squares(e.values.data() + mat * ne0, reinterpret_cast<const float *>(p), ne0);
            }
        }
    }
    for (auto & c : e.counts) c += ggml_nrows(x) / n_mat;
    return true;
}

static bool collect_experts(Imatrix & m, const ggml_tensor * t, const ggml_tensor * w, const ggml_tensor * x,
                            const char * data, ImatrixEntry & e) {
    const ggml_tensor * ids = t->src[2];
    const int64_t n_expert = w->ne[2];
    const int64_t ne0 = x->ne[0];
    if (e.values.empty()) {
        e.values.assign(ne0 * n_expert, 0.0f);
        e.counts.assign(n_expert, 0);
    } else if (static_cast<int64_t>(e.values.size()) != ne0 * n_expert) {
        m.error = "inconsistent expert activation size for " + std::string(w->name);
        return false;
    }
    m.ids.resize(ggml_nbytes(ids));
    ggml_backend_tensor_get(ids, m.ids.data(), 0, m.ids.size());
    for (int64_t slot = 0; slot < ids->ne[0]; ++slot) {
        for (int64_t token = 0; token < ids->ne[1]; ++token) {
            const int32_t ex = *reinterpret_cast<const int32_t *>(m.ids.data() + token * ids->nb[1] + slot * ids->nb[0]);
            if (ex < 0 || ex >= n_expert) continue;
            const char * p = data + (slot % x->ne[1]) * x->nb[1] + token * x->nb[2];
            add_squares(e.values.data() + ex * ne0, reinterpret_cast<const float *>(p), ne0);
            e.counts[ex]++;
        }
    }
    return true;
}

bool imatrix_callback(ggml_tensor * t, bool ask, void * user_data) {
    auto & m = *static_cast<Imatrix *>(user_data);
    const ggml_tensor * w = t->src[0];
    const ggml_tensor * x = t->src[1];
    if (ask) {
        if (t->op == GGML_OP_MUL_MAT_ID) return true;
        if (t->op != GGML_OP_MUL_MAT || x->type != GGML_TYPE_F32 || x->ne[1] < m.min_tokens) return false;
        const std::string name = weight_name(w->name);
        return name.rfind("blk.", 0) == 0 || (m.process_output && name == "output.weight");
    }
    std::lock_guard<std::mutex> lock(m.mutex);
    if (!m.error.empty() || x->nb[0] != ggml_element_size(x)) return true;
    const char * data = host_data(x, m.scratch);
    ImatrixEntry & e = m.entries[weight_name(w->name)];
    const bool ok = t->op == GGML_OP_MUL_MAT_ID ? collect_experts(m, t, w, x, data, e) : collect_dense(m, w, x, data, e);
    if (ok) {
        for (float v : e.values) {
            if (!std::isfinite(v)) {
                m.error = "non-finite activations in " + std::string(w->name);
                break;
            }
        }
    }
    return true;  // never abort the graph; errors are reported when the entries are read
}

}  // namespace native
