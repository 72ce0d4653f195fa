// Python bindings (plain CPython API) of app._native.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "native.h"

namespace {

struct Buffer {
    Py_buffer view{};
    bool held = false;
    ~Buffer() {
        if (held) PyBuffer_Release(&view);
    }
    bool get(PyObject * obj, int flags) {
        held = PyObject_GetBuffer(obj, &view, flags) == 0;
        return held;
    }
};

PyObject * convert(PyObject *, PyObject * args, PyObject * kwargs) {
    static const char * kwlist[] = {"src", "src_type", "dst", "dst_type", "n_cols", "rows", "shift", "n_threads", nullptr};
    PyObject *src_obj, *dst_obj, *rows_obj = Py_None;
    int src_type, dst_type, n_threads = 1;
    long long n_cols;
    float shift = 0.0f;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OiOiL|Ofi", const_cast<char **>(kwlist), &src_obj, &src_type,
                                     &dst_obj, &dst_type, &n_cols, &rows_obj, &shift, &n_threads))
        return nullptr;
    if (!native::supported_src(src_type) || !native::supported_dst(dst_type)) {
        PyErr_Format(PyExc_ValueError, "unsupported conversion %d -> %d", src_type, dst_type);
        return nullptr;
    }
    if (n_cols <= 0 || (dst_type == native::T_Q8_0 && n_cols % 32 != 0)) {
        PyErr_SetString(PyExc_ValueError, "row length must be positive (and whole Q8_0 blocks)");
        return nullptr;
    }
    Buffer src, dst, rows;
    if (!src.get(src_obj, PyBUF_SIMPLE) || !dst.get(dst_obj, PyBUF_WRITABLE)) return nullptr;
    const size_t in_row = native::row_bytes(src_type, n_cols);
    const size_t out_row = native::row_bytes(dst_type, n_cols);
    const int64_t n_src_rows = src.view.len / static_cast<Py_ssize_t>(in_row);
    if (src.view.len % static_cast<Py_ssize_t>(in_row) != 0 || dst.view.len % static_cast<Py_ssize_t>(out_row) != 0) {
        PyErr_SetString(PyExc_ValueError, "buffer sizes are not whole rows");
        return nullptr;
    }
    const int64_t n_out = dst.view.len / static_cast<Py_ssize_t>(out_row);
    const int64_t * row_ids = nullptr;
    if (rows_obj != Py_None) {
        if (!rows.get(rows_obj, PyBUF_SIMPLE)) return nullptr;
        if (rows.view.len != n_out * static_cast<Py_ssize_t>(sizeof(int64_t))) {
            PyErr_SetString(PyExc_ValueError, "rows must hold one int64 per output row");
            return nullptr;
        }
        row_ids = static_cast<const int64_t *>(rows.view.buf);
        for (int64_t i = 0; i < n_out; ++i) {
            if (row_ids[i] < 0 || row_ids[i] >= n_src_rows) {
                PyErr_SetString(PyExc_IndexError, "row index outside the source tensor");
                return nullptr;
            }
        }
    } else if (n_out > n_src_rows) {
        PyErr_SetString(PyExc_ValueError, "destination has more rows than the source");
        return nullptr;
    }
    native::ConvertJob job{static_cast<const uint8_t *>(src.view.buf), src_type, static_cast<uint8_t *>(dst.view.buf),
                           dst_type, n_cols, n_out, row_ids, shift, n_threads};
    Py_BEGIN_ALLOW_THREADS native::convert(job);
    Py_END_ALLOW_THREADS Py_RETURN_NONE;
}

PyObject * row_bytes(PyObject *, PyObject * args) {
    int type;
    long long n_cols;
    if (!PyArg_ParseTuple(args, "iL", &type, &n_cols)) return nullptr;
    return PyLong_FromSize_t(native::row_bytes(type, n_cols));
}

// Strings walked in one go before the GIL is let go: a vocabulary takes milliseconds, a GUI thread is waiting.
constexpr uint64_t kReleaseGilFrom = 4096;

// A position past the held bytes is fine (the walk then takes nothing); a negative one is a caller's bug.
bool position_ok(long long pos) {
    if (pos < 0) {
        PyErr_SetString(PyExc_ValueError, "negative position");
        return false;
    }
    return true;
}

PyObject * gguf_skip_strings(PyObject *, PyObject * args) {
    PyObject * data_obj;
    long long pos, limit;
    unsigned long long count;
    if (!PyArg_ParseTuple(args, "OLKL", &data_obj, &pos, &count, &limit)) return nullptr;
    Buffer data;
    if (!data.get(data_obj, PyBUF_SIMPLE) || !position_ok(pos)) return nullptr;
    const auto * bytes = static_cast<const uint8_t *>(data.view.buf);
    native::StringWalk walk{};
    if (count >= kReleaseGilFrom) {
        Py_BEGIN_ALLOW_THREADS walk = native::walk_strings(bytes, data.view.len, pos, count, limit);
        Py_END_ALLOW_THREADS
    } else {
        walk = native::walk_strings(bytes, data.view.len, pos, count, limit);
    }
    return Py_BuildValue("(KL)", static_cast<unsigned long long>(walk.n), static_cast<long long>(walk.end));
}

PyObject * tensor_record(const uint8_t * bytes, const native::TensorRecord & r) {
    // strict UTF-8: a name that is not is left to the Python parser (it decodes with replacement and checks)
    PyObject * name = PyUnicode_DecodeUTF8(reinterpret_cast<const char *>(bytes + r.name_at), r.name_len, nullptr);
    if (!name) return nullptr;
    PyObject * shape = PyTuple_New(r.n_dims);
    if (!shape) {
        Py_DECREF(name);
        return nullptr;
    }
    for (uint32_t d = 0; d < r.n_dims; ++d) PyTuple_SET_ITEM(shape, d, PyLong_FromUnsignedLongLong(r.dims[d]));
    return Py_BuildValue("(LNNIKK)", static_cast<long long>(r.start), name, shape, static_cast<unsigned int>(r.type),
                         static_cast<unsigned long long>(r.offset), static_cast<unsigned long long>(r.n_bytes));
}

PyObject * gguf_tensor_infos(PyObject *, PyObject * args) {
    PyObject *data_obj, *types_obj;
    long long pos, size;
    unsigned long long count;
    if (!PyArg_ParseTuple(args, "OLKLO", &data_obj, &pos, &count, &size, &types_obj)) return nullptr;
    Buffer data, types;
    if (!data.get(data_obj, PyBUF_SIMPLE) || !types.get(types_obj, PyBUF_SIMPLE) || !position_ok(pos))
        return nullptr;
    if (types.view.len % (2 * sizeof(uint64_t)) != 0) {
        PyErr_SetString(PyExc_ValueError, "types must hold (elements per block, bytes per block) uint64 pairs");
        return nullptr;
    }
    const auto * bytes = static_cast<const uint8_t *>(data.view.buf);
    std::vector<native::TensorRecord> records;
    long long end = native::walk_tensor_infos(bytes, data.view.len, pos, count, size,
                                              static_cast<const uint64_t *>(types.view.buf),
                                              types.view.len / (2 * sizeof(uint64_t)), records);
    PyObject * list = PyList_New(0);
    if (!list) return nullptr;
    for (const auto & r : records) {
        PyObject * item = tensor_record(bytes, r);
        if (!item) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                Py_DECREF(list);
                return nullptr;
            }
            PyErr_Clear();
            end = r.start;
            break;
        }
        const int appended = PyList_Append(list, item);
        Py_DECREF(item);
        if (appended < 0) {
            Py_DECREF(list);
            return nullptr;
        }
    }
    return Py_BuildValue("(NL)", list, end);
}

struct CollectorObject {
    PyObject_HEAD native::Imatrix * m;
};

int collector_init(PyObject * self, PyObject * args, PyObject * kwargs) {
    static const char * kwlist[] = {"process_output", "min_tokens", nullptr};
    int process_output = 0;
    long long min_tokens = 16;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|pL", const_cast<char **>(kwlist), &process_output, &min_tokens))
        return -1;
    auto * obj = reinterpret_cast<CollectorObject *>(self);
    delete obj->m;
    obj->m = new native::Imatrix();
    obj->m->process_output = process_output != 0;
    obj->m->min_tokens = min_tokens;
    return 0;
}

void collector_dealloc(PyObject * self) {
    delete reinterpret_cast<CollectorObject *>(self)->m;
    PyTypeObject * type = Py_TYPE(self);
    auto free_fn = reinterpret_cast<freefunc>(PyType_GetSlot(type, Py_tp_free));
    free_fn(self);
    Py_DECREF(type);  // heap types own a reference from each instance
}

native::Imatrix * collector(PyObject * self) {
    auto * m = reinterpret_cast<CollectorObject *>(self)->m;
    if (!m) PyErr_SetString(PyExc_RuntimeError, "collector not initialised");
    return m;
}

PyObject * collector_addresses(PyObject * self, PyObject *) {
    auto * m = collector(self);
    if (!m) return nullptr;
    return Py_BuildValue("(NN)", PyLong_FromVoidPtr(reinterpret_cast<void *>(&native::imatrix_callback)),
                         PyLong_FromVoidPtr(m));
}

PyObject * collector_entries(PyObject * self, PyObject *) {
    auto * m = collector(self);
    if (!m) return nullptr;
    std::lock_guard<std::mutex> lock(m->mutex);
    if (!m->error.empty()) {
        PyErr_SetString(PyExc_RuntimeError, m->error.c_str());
        return nullptr;
    }
    PyObject * out = PyDict_New();
    for (const auto & [name, e] : m->entries) {
        PyObject * counts = PyTuple_New(static_cast<Py_ssize_t>(e.counts.size()));
        for (size_t i = 0; i < e.counts.size(); ++i) PyTuple_SET_ITEM(counts, i, PyLong_FromLongLong(e.counts[i]));
        PyObject * values = PyBytes_FromStringAndSize(reinterpret_cast<const char *>(e.values.data()),
                                                      static_cast<Py_ssize_t>(e.values.size() * sizeof(float)));
        PyObject * pair = Py_BuildValue("(NN)", values, counts);
        PyDict_SetItemString(out, name.c_str(), pair);
        Py_DECREF(pair);
    }
    return out;
}

PyMethodDef collector_methods[] = {
    {"addresses", collector_addresses, METH_NOARGS,
     "(callback, user_data) addresses for llama_context_params.cb_eval / cb_eval_user_data"},
    {"entries", collector_entries, METH_NOARGS, "{weight name: (float32 sums as bytes, counts)}"},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot collector_slots[] = {
    {Py_tp_new, reinterpret_cast<void *>(PyType_GenericNew)},
    {Py_tp_init, reinterpret_cast<void *>(collector_init)},
    {Py_tp_dealloc, reinterpret_cast<void *>(collector_dealloc)},
    {Py_tp_methods, collector_methods},
    {Py_tp_doc, const_cast<char *>("Accumulates squared activations of mat-mul weights (llama.cpp eval callback).")},
    {0, nullptr},
};

PyType_Spec collector_spec = {"app._native.ImatrixCollector", sizeof(CollectorObject), 0, Py_TPFLAGS_DEFAULT,
                              collector_slots};

PyMethodDef module_methods[] = {
    {"convert", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(convert)), METH_VARARGS | METH_KEYWORDS,
     "convert(src, src_type, dst, dst_type, n_cols, rows=None, shift=0.0, n_threads=1)"},
    {"row_bytes", row_bytes, METH_VARARGS, "row_bytes(ggml_type, n_cols)"},
    {"gguf_skip_strings", gguf_skip_strings, METH_VARARGS,
     "gguf_skip_strings(data, pos, count, limit) -> (strings walked, where the next starts)"},
    {"gguf_tensor_infos", gguf_tensor_infos, METH_VARARGS,
     "gguf_tensor_infos(data, pos, count, size, types) -> ([(start, name, shape, type, offset, n_bytes)], end)"},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_native", "GGUF Studio native kernels", -1, module_methods,
                          nullptr, nullptr, nullptr, nullptr};

}  // namespace

PyMODINIT_FUNC PyInit__native(void) {
    PyObject * type = PyType_FromSpec(&collector_spec);
    if (!type) return nullptr;
    PyObject * m = PyModule_Create(&module_def);
    if (!m || PyModule_AddObject(m, "ImatrixCollector", type) < 0) {
        Py_DECREF(type);
        Py_XDECREF(m);
        return nullptr;
    }
    return m;
}
