// fastnn._core: the pybind11 bindings, the only file that includes pybind11.
//
// Every heavy call checks its arguments with the GIL held, then releases the GIL for the computation.
// Training calls poll for Ctrl-C after every batch by re-acquiring the GIL and calling PyErr_CheckSignals;
// when a signal handler raised, training stops after the completed step and the exception propagates.
// Arrays arrive as C-contiguous arrays of the network's dtype (converted here only if the caller did not).
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>

#include <cmath>
#include <memory>
#include <string>
#include <thread>

#include "fastnn/activations.hpp"
#include "fastnn/bf16.hpp"
#include "fastnn/blas.hpp"
#include "fastnn/cpu.hpp"
#include "fastnn/distributed.hpp"
#include "fastnn/fault_inject.hpp"
#include "fastnn/losses.hpp"
#include "fastnn/metrics.hpp"
#include "fastnn/network.hpp"
#include "fastnn/optimizers.hpp"
#include "fastnn/threads.hpp"

namespace py = pybind11;
using namespace fastnn;

namespace {

template <class T>
using Arr = py::array_t<T, py::array::c_style | py::array::forcecast>;

std::string shape_str(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

template <class T>
void check_2d(const Arr<T>& a, const char* what, py::ssize_t cols) {
    if (a.ndim() != 2) fail(what, "a 2-D array", "an array of shape " + shape_str(a));
    if (a.shape(1) < 1) fail(what, "at least one column", "an array of shape " + shape_str(a));
    if (cols >= 0 && a.shape(1) != cols)
        fail(what, std::to_string(cols) + " columns", "an array of shape " + shape_str(a));
}

// Sample weights of shape (n,) or (n, 1); null when sw is None.
template <class T>
const T* sample_weights(const py::object& sw, idx n, Arr<T>& keep) {
    if (sw.is_none()) return nullptr;
    keep = Arr<T>::ensure(sw);
    if (!keep) fail("sample_weight", "a numeric array", std::string(py::str(py::type::of(sw))));
    const bool ok = (keep.ndim() == 1 && keep.shape(0) == n) || (keep.ndim() == 2 && keep.shape(0) == n && keep.shape(1) == 1);
    if (!ok) fail("sample_weight", "an array of shape (" + std::to_string(n) + ",) or (" + std::to_string(n) + ", 1)",
                  "shape " + shape_str(keep));
    return keep.data();
}
// Polls Python's signal handlers; true when one raised (the error stays set for the caller to throw).
bool python_interrupted() {
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;
}

unsigned long g_main_thread = 0;  // Python's main thread (threading.main_thread().ident), set at import

// The interrupt check for a call from the current thread (GIL held): Python runs signal handlers in its main
// thread only, so calls from other threads (concurrent predict) skip the per-batch poll and its GIL round trip.
std::function<bool()> interrupt_check() {
    if (PyThread_get_thread_ident() == g_main_thread) return python_interrupted;
    return {};
}

// The MPI allreduce spec from the dict built by fastnn/distributed.py (integers and a float).
MpiAllreduceSpec parse_mpi(const py::dict& d) {
    MpiAllreduceSpec s;
    s.iallreduce = d["iallreduce"].cast<std::uintptr_t>();
    s.test = d["test"].cast<std::uintptr_t>();
    s.comm = d["comm"].cast<std::intptr_t>();
    s.datatype = d["datatype"].cast<std::intptr_t>();
    s.op = d["op"].cast<std::intptr_t>();
    s.in_place = d["in_place"].cast<std::intptr_t>();
    s.handle_size = d["handle_size"].cast<int>();
    s.size = d["size"].cast<int>();
    s.timeout = d["timeout"].cast<double>();
    return s;
}

Schedule parse_schedule(const py::dict& d);  // below

OptConfig parse_opt(const std::string& name, const py::dict& cfg) {
    OptConfig c = opt_defaults(name);
    for (auto item : cfg) {
        const std::string k = py::str(item.first);
        const py::handle v = item.second;
        if (v.is_none()) continue;
        auto num = [&]() {
            if (py::isinstance<py::bool_>(v) || !(py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v)))
                fail(k, "a number", std::string(py::repr(v)));
            return v.cast<double>();
        };
        if (k == "learning_rate") c.learning_rate = num();
        else if (k == "schedule") c.schedule = parse_schedule(py::reinterpret_borrow<py::dict>(v));
        else if (k == "momentum") c.momentum = num();
        else if (k == "nesterov") c.nesterov = v.cast<bool>();
        else if (k == "rho") c.rho = num();
        else if (k == "centered") c.centered = v.cast<bool>();
        else if (k == "epsilon") c.epsilon = num();
        else if (k == "initial_accumulator_value") c.initial_accumulator_value = num();
        else if (k == "beta_1") c.beta_1 = num();
        else if (k == "beta_2") c.beta_2 = num();
        else if (k == "amsgrad") c.amsgrad = v.cast<bool>();
        else if (k == "weight_decay") c.weight_decay = num();
        else if (k == "clipnorm") c.clipnorm = num();
        else if (k == "clipvalue") c.clipvalue = num();
        else if (k == "global_clipnorm") c.global_clipnorm = num();
        else
            fail("optimizer option",
                 "one of learning_rate, schedule, momentum, nesterov, rho, centered, epsilon, initial_accumulator_value, "
                 "beta_1, beta_2, amsgrad, weight_decay, clipnorm, clipvalue, global_clipnorm",
                 "'" + k + "'");
    }
    opt_validate(c);
    return c;
}

// ---- losses, metrics and schedules from their Python descriptions (fastnn/losses.py, metrics.py, optimizers.py) ----

double cfg_num(const py::dict& d, const char* key, double dflt) {
    if (!d.contains(key) || d[key].is_none()) return dflt;
    const py::handle v = d[key];
    if (py::isinstance<py::bool_>(v) || !(py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v)))
        fail(key, "a number", std::string(py::repr(v)));
    return v.cast<double>();
}

bool cfg_bool(const py::dict& d, const char* key, bool dflt) {
    return d.contains(key) && !d[key].is_none() ? d[key].cast<bool>() : dflt;
}

// A loss from its engine name, from_logits and {"delta", "label_smoothing"}.
LossSpec parse_loss(const std::string& name, bool from_logits, const py::dict& cfg) {
    LossSpec s;
    s.kind = loss_from_name(name);
    s.logits = from_logits;
    s.delta = cfg_num(cfg, "delta", 1.0);
    s.smoothing = cfg_num(cfg, "label_smoothing", 0.0);
    loss_validate(s);
    return s;
}

// A metric from a dict {"kind": engine metric name, "weighted", ...} or an engine name.
MetricSpec parse_metric(const py::handle& h) {
    MetricSpec s;
    if (py::isinstance<py::str>(h)) {
        const std::string n = h.cast<std::string>();
        if (n == "mse" || n == "mae") {
            s.loss.kind = loss_from_name(n);
        } else {
            s.kind = metric_from_name(n);
        }
        return s;
    }
    if (!py::isinstance<py::dict>(h)) fail("metric", "a name or a dict", std::string(py::repr(h)));
    const py::dict d = py::reinterpret_borrow<py::dict>(h);
    s.kind = metric_from_name(d["kind"].cast<std::string>());
    if (s.kind == Metric::LossMean) {
        const py::dict lc = d.contains("loss_config") ? py::dict(d["loss_config"]) : py::dict();
        s.loss = parse_loss(d["loss"].cast<std::string>(), cfg_bool(d, "from_logits", false), lc);
        s.negate = cfg_bool(d, "negate", false);
    }
    s.weighted = cfg_bool(d, "weighted", false);
    s.has_threshold = !(d.contains("threshold") && d["threshold"].is_none());
    s.threshold = cfg_num(d, "threshold", s.kind == Metric::Precision || s.kind == Metric::Recall
                                              ? (cfg_num(d, "top_k", 0) > 0 ? kNegInf : 0.5) : 0.5);
    s.k = int(cfg_num(d, "k", 5));
    s.top_k = int(cfg_num(d, "top_k", 0));
    s.class_id = int(cfg_num(d, "class_id", -1));
    s.num_thresholds = int(cfg_num(d, "num_thresholds", 200));
    s.pr = cfg_bool(d, "pr", false);
    s.summation = int(cfg_num(d, "summation", 0));
    s.from_logits = cfg_bool(d, "from_logits", false) && s.kind == Metric::AUC;
    s.average = int(cfg_num(d, "average", 0));
    s.beta = cfg_num(d, "beta", 1.0);
    s.aggregation = int(cfg_num(d, "aggregation", 1));
    return s;
}

// A schedule from {"class_name": "ExponentialDecay", "config": {...}} (Keras's serialized form).
Schedule parse_schedule(const py::dict& d) {
    Schedule s;
    if (!d.contains("class_name") || !d.contains("config"))
        fail("learning-rate schedule", "a dict with class_name and config", std::string(py::repr(d)));
    s.kind = schedule_kind(d["class_name"].cast<std::string>());
    const py::dict c = d["config"];
    auto list = [&](const char* key) {
        std::vector<double> v;
        if (c.contains(key))
            for (auto x : c[key]) v.push_back(x.cast<double>());
        return v;
    };
    s.initial_learning_rate = cfg_num(c, "initial_learning_rate", 0.0);
    s.decay_steps = cfg_num(c, s.kind == SchedKind::CosineDecayRestarts ? "first_decay_steps" : "decay_steps", 1.0);
    s.decay_rate = cfg_num(c, "decay_rate", 0.0);
    s.staircase = cfg_bool(c, "staircase", false);
    s.end_learning_rate = cfg_num(c, "end_learning_rate", 0.0001);
    s.power = cfg_num(c, "power", 1.0);
    s.cycle = cfg_bool(c, "cycle", false);
    s.alpha = cfg_num(c, "alpha", 0.0);
    s.has_warmup = c.contains("warmup_target") && !c["warmup_target"].is_none();
    s.warmup_target = cfg_num(c, "warmup_target", 0.0);
    s.warmup_steps = cfg_num(c, "warmup_steps", 0.0);
    s.t_mul = cfg_num(c, "t_mul", 2.0);
    s.m_mul = cfg_num(c, "m_mul", 1.0);
    s.boundaries = list("boundaries");
    s.values = list("values");
    schedule_validate(s);
    return s;
}

// A metric over (y, p) fed in batches of `batch` rows: its state after every batch is merged from per-batch
// states (as processes would merge them), then its result. For the tests against the NumPy reference.
template <class T>
py::array metric_eval(const py::dict& spec, Arr<T> y, Arr<T> p, py::object sw, idx batch) {
    const MetricSpec s = parse_metric(spec);
    check_2d(p, "y_pred", -1);
    const idx cols = p.shape(1), n = p.shape(0);
    check_2d(y, "y_true", metric_takes_sparse_labels(s) ? 1 : cols);
    if (y.shape(0) != n) fail("y_true", std::to_string(n) + " rows", shape_str(y));
    if (batch < 1) fail("batch_size", "an integer >= 1", std::to_string(batch));
    metric_validate(s, cols);
    Arr<T> keep;
    const T* w = sample_weights<T>(sw, n, keep);
    const idx ycols = y.shape(1);
    std::vector<double> total(std::size_t(metric_state_size(s, cols)), 0.0), part(total.size());
    for (idx start = 0; start < n; start += batch) {
        const idx m = std::min(batch, n - start);
        std::fill(part.begin(), part.end(), 0.0);
        metric_update(s, part.data(), y.data() + start * ycols, p.data() + start * cols, w ? w + start : nullptr, m, cols);
        for (std::size_t i = 0; i < total.size(); ++i) total[i] += part[i];  // merge
    }
    py::array_t<double> out(metric_result_size(s, cols));
    metric_result(s, total.data(), cols, out.mutable_data());
    return out;
}

InitSpec parse_init(const std::string& key, const py::sequence& t) {
    if (t.size() != 3 || !py::isinstance<py::str>(t[0]))
        fail(key, "an initializer tuple (name, a, b)", std::string(py::repr(t)));
    return InitSpec{t[0].cast<std::string>(), t[1].cast<double>(), t[2].cast<double>()};
}

// An op's arguments from a dict: numbers and booleans, names (str), initializers ((name, a, b)); None = default.
OpArgs parse_op_args(const py::dict& d) {
    OpArgs a;
    for (auto item : d) {
        if (!py::isinstance<py::str>(item.first)) fail("op argument name", "a str", std::string(py::repr(item.first)));
        const std::string k = py::str(item.first);
        const py::handle v = item.second;
        if (v.is_none()) continue;
        if (py::isinstance<py::bool_>(v)) a.num[k] = v.cast<bool>() ? 1.0 : 0.0;
        else if (py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v)) a.num[k] = v.cast<double>();
        else if (py::isinstance<py::str>(v)) a.str[k] = v.cast<std::string>();
        else if ((py::isinstance<py::tuple>(v) || py::isinstance<py::list>(v)) && py::len(v) > 0 &&
                 py::isinstance<py::str>(py::reinterpret_borrow<py::sequence>(v)[0]))
            a.init[k] = parse_init(k, py::reinterpret_borrow<py::sequence>(v));
        else if (py::isinstance<py::array>(v) || py::isinstance<py::tuple>(v) || py::isinstance<py::list>(v)) {
            py::array_t<double, py::array::c_style | py::array::forcecast> arr;
            try {
                arr = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(v);
            } catch (const py::error_already_set&) {
            }
            if (!arr || arr.ndim() > 1) fail(k, "a number or a 1-D list of numbers", std::string(py::repr(v)));
            a.values[k] = std::vector<double>(arr.data(), arr.data() + arr.size());
        }
        else fail(k, "a number, a bool, a str or an initializer tuple", std::string(py::repr(v)));
    }
    return a;
}

py::dict args_dict(const OpArgs& a) {
    py::dict d;
    for (const auto& kv : a.num) d[py::str(kv.first)] = kv.second;
    for (const auto& kv : a.str) d[py::str(kv.first)] = kv.second;
    for (const auto& kv : a.init) d[py::str(kv.first)] = py::make_tuple(kv.second.name, kv.second.a, kv.second.b);
    for (const auto& kv : a.values) d[py::str(kv.first)] = kv.second;
    return d;
}

py::tuple shape_tuple(const std::vector<idx>& shape) {
    py::tuple t(shape.size());
    for (std::size_t k = 0; k < shape.size(); ++k) t[k] = shape[k];
    return t;
}

// ---- module-level op functions (used by the tests against the NumPy reference) ----

template <class T>
py::array act_fwd(const std::string& name, Arr<T> z) {
    check_2d(z, "z", -1);
    const Act a = act_from_name(name);
    Arr<T> out({z.shape(0), z.shape(1)});
    act_forward(a, out.mutable_data(), z.data(), z.shape(0), z.shape(1));
    return out;
}

template <class T>
py::array act_bwd(const std::string& name, Arr<T> z, Arr<T> dout) {
    check_2d(z, "z", -1);
    check_2d(dout, "dout", z.shape(1));
    if (dout.shape(0) != z.shape(0)) fail("dout", shape_str(z), shape_str(dout));
    const Act a = act_from_name(name);
    Arr<T> act({z.shape(0), z.shape(1)}), dz({z.shape(0), z.shape(1)});
    act_forward(a, act.mutable_data(), z.data(), z.shape(0), z.shape(1));
    act_backward(a, dz.mutable_data(), z.data(), act.data(), dout.data(), z.shape(0), z.shape(1));
    return dz;
}

template <class T>
std::pair<double, py::object> loss_eval(const std::string& name, Arr<T> y, Arr<T> p, py::object sw,
                                        bool from_logits, const py::dict& cfg, bool want_grad) {
    const LossSpec spec = parse_loss(name, from_logits, cfg);
    check_2d(p, "y_pred", -1);
    check_2d(y, "y_true", spec.kind == Loss::SparseCCE ? 1 : p.shape(1));
    if (y.shape(0) != p.shape(0)) fail("y_true", std::to_string(p.shape(0)) + " rows", shape_str(y));
    const idx n = p.shape(0);
    Arr<T> w;
    const T* wp = sample_weights<T>(sw, n, w);
    py::object grad = py::none();
    T* gp = nullptr;
    if (want_grad) {
        Arr<T> g({p.shape(0), p.shape(1)});
        gp = g.mutable_data();
        grad = g;
    }
    const double total = loss_rows(spec, y.data(), p.data(), wp, gp, n, p.shape(1), T(1) / T(n > 0 ? n : 1));
    return {n > 0 ? total / double(n) : 0.0, grad};
}

template <class T>
py::array opt_trajectory(const std::string& name, const py::dict& cfg, Arr<T> w0, Arr<T> grads) {
    if (w0.ndim() != 1) fail("w0", "a 1-D array", "shape " + shape_str(w0));
    check_2d(grads, "grads", w0.shape(0));
    Optimizer<T> opt;
    opt.cfg = parse_opt(name, cfg);
    const std::size_t n = std::size_t(w0.shape(0));
    opt.reset(n);
    std::vector<T> w(w0.data(), w0.data() + n), g(n);
    Arr<T> out({grads.shape(0), w0.shape(0)});
    const std::vector<Span> spans{{0, n}};
    for (py::ssize_t s = 0; s < grads.shape(0); ++s) {
        std::copy(grads.data() + s * n, grads.data() + (s + 1) * n, g.begin());
        opt.step(w.data(), g.data(), spans, spans);
        std::copy(w.begin(), w.end(), out.mutable_data() + s * n);
    }
    return out;
}

bool is_f32(const py::handle& a) {
    return py::isinstance<py::array>(a) && py::reinterpret_borrow<py::array>(a).dtype().is(py::dtype::of<float>());
}

// ---- the network ----

template <class T>
struct PyNetwork {
    std::shared_ptr<Network<T>> net;

    const T* weights_ptr(const py::object& sw, idx n, Arr<T>& keep) const { return sample_weights<T>(sw, n, keep); }
    int op_index(int i) const {
        if (i < 0 || i >= int(net->ops().size())) throw py::index_error("layer index out of range");
        return i;
    }
    // An op as a dict: kind, sizes, its row's flags, its arguments as given, its ParamSpec indices.
    py::dict op_spec(int i) const {
        const Op& o = net->ops()[std::size_t(op_index(i))];
        const OpRow<T>& r = net->row(i);
        py::dict d;
        d["index"] = i;
        d["kind"] = r.name;
        d["n_in"] = o.n_in;
        d["n_out"] = o.n_out;
        d["activation"] = act_name(o.act);
        d["trainable"] = o.trainable;
        d["training_differs"] = r.training_differs;
        d["feature_major"] = r.feature_major;
        d["args"] = args_dict(o.args);
        py::list params;
        for (int k = 0; k < o.n_params; ++k) params.append(o.first_param + k);
        d["params"] = params;
        return d;
    }
    py::dict param_spec(const ParamSpec& p) const {
        py::dict d;
        d["op"] = p.op;
        d["name"] = p.name;
        d["shape"] = shape_tuple(p.shape);
        d["offset"] = p.offset;
        d["size"] = p.size;
        d["trainable"] = p.trainable;
        d["state"] = p.state;
        d["l1"] = p.l1;
        d["l2"] = p.l2;
        return d;
    }
    void check_xy(const Arr<T>& x, const Arr<T>& y) const {
        check_2d(x, "x", net->n_in());
        check_2d(y, "y", net->target_cols());
        if (x.shape(0) != y.shape(0))
            fail("y", std::to_string(x.shape(0)) + " rows (as many as x)", std::to_string(y.shape(0)) + " rows");
    }
};

template <class T>
void bind_network(py::module_& m, const char* cls) {
    using PN = PyNetwork<T>;
    py::class_<PN>(m, cls)
        .def_property_readonly("dtype", [](const PN&) { return std::string(sizeof(T) == 4 ? "float32" : "float64"); })
        .def_property_readonly("n_in", [](const PN& s) { return s.net->n_in(); })
        .def_property_readonly("n_out", [](const PN& s) { return s.net->n_out(); })
        .def_property_readonly("n_ops", [](const PN& s) { return s.net->ops().size(); })
        .def_property_readonly("n_params", [](const PN& s) { return s.net->n_params(); })
        .def_property_readonly("compiled", [](const PN& s) { return s.net->compiled(); })
        .def_property_readonly("training", [](const PN& s) { return s.net->training(); })
        .def("add_op",
             [](PN& s, const std::string& kind, idx n_in, idx n_out, py::dict args) {
                 s.net->add_op(kind, n_in, n_out, parse_op_args(args));
             },
             py::arg("kind"), py::arg("n_in"), py::arg("n_out"), py::arg("args") = py::dict(),
             "Appends an op: kind is a row of the op table (see op_kinds()), args its arguments by name.")
        .def("compile",
             [](PN& s, const std::string& loss, bool from_logits, const std::string& opt, py::dict cfg,
                py::list metrics, py::dict loss_config) {
                 std::vector<MetricSpec> ms;
                 for (auto h : metrics) ms.push_back(parse_metric(h));
                 s.net->compile(parse_loss(loss, from_logits, loss_config), parse_opt(opt, cfg), ms);
             },
             py::arg("loss") = "mse", py::arg("from_logits") = false, py::arg("optimizer") = "rmsprop",
             py::arg("opt_config") = py::dict(), py::arg("metrics") = py::list(), py::arg("loss_config") = py::dict())
        .def("epoch_metric_state",
             [](const PN& s) {
                 // The running metric states of the current epoch (flat, mergeable by addition across processes).
                 const auto& st = s.net->epoch_metric_state();
                 py::array_t<double> out(py::ssize_t(st.size()));
                 std::copy(st.begin(), st.end(), out.mutable_data());
                 return out;
             })
        .def("metric_results",
             [](const PN& s, py::array_t<double, py::array::c_style | py::array::forcecast> state) {
                 // The metric values of a (merged) state laid out as epoch_metric_state().
                 const MetricSet& ms = s.net->metrics();
                 if (state.ndim() != 1 || state.shape(0) != ms.state_size())
                     fail("metric state", std::to_string(ms.state_size()) + " values", shape_str(state));
                 return ms.results(state.data());
             },
             py::arg("state"))
        .def("op_info", [](const PN& s, int i) { return s.op_spec(i); })
        .def("op_specs",
             [](const PN& s) {
                 py::list out;
                 for (int i = 0; i < int(s.net->ops().size()); ++i) out.append(s.op_spec(i));
                 return out;
             })
        .def("param_specs",
             [](const PN& s) {
                 py::list out;
                 for (const ParamSpec& p : s.net->param_specs()) out.append(s.param_spec(p));
                 return out;
             })
        .def("set_trainable", [](PN& s, int i, bool trainable) { s.net->set_trainable(s.op_index(i), trainable); },
             py::arg("op"), py::arg("trainable"))
        .def("get_weights",
             [](const PN& s, int i) {
                 const int k0 = s.net->ops()[std::size_t(s.op_index(i))].first_param;
                 auto ws = s.net->get_weights(i);
                 py::list out;
                 for (std::size_t k = 0; k < ws.size(); ++k) {
                     const ParamSpec& p = s.net->param_specs()[std::size_t(k0) + k];
                     Arr<T> a(std::vector<py::ssize_t>(p.shape.begin(), p.shape.end()));
                     std::copy(ws[k].begin(), ws[k].end(), a.mutable_data());
                     out.append(a);
                 }
                 return out;
             })
        .def("set_weights",
             [](PN& s, int i, py::list tensors) {
                 const Op& op = s.net->ops()[std::size_t(s.op_index(i))];
                 if (tensors.size() != std::size_t(op.n_params))
                     fail("weights", std::to_string(op.n_params) + " arrays", std::to_string(tensors.size()));
                 std::vector<Arr<T>> keep;
                 std::vector<const T*> ptrs;
                 std::vector<std::size_t> sizes;
                 std::size_t k = 0;
                 for (auto t : tensors) {
                     const ParamSpec& p = s.net->param_specs()[std::size_t(op.first_param) + k++];
                     keep.push_back(Arr<T>::ensure(t));
                     if (!keep.back()) fail(p.name, "a numeric array", std::string(py::repr(t)));
                     const Arr<T>& a = keep.back();
                     bool ok = a.ndim() == py::ssize_t(p.shape.size());
                     for (std::size_t d = 0; ok && d < p.shape.size(); ++d) ok = a.shape(d) == p.shape[d];
                     if (!ok) fail(p.name, "shape " + std::string(py::repr(shape_tuple(p.shape))), "shape " + shape_str(a));
                     ptrs.push_back(a.data());
                     sizes.push_back(std::size_t(a.size()));
                 }
                 s.net->set_weights(i, ptrs, sizes);
             })
        .def("_set_gradient_hook",
             [](PN& s, py::object fn) {
                 // For tests and Python-level reducers: fn(grads) gets a writable view of the flat gradient buffer,
                 // called with the GIL held after each backward pass. None removes the hook.
                 if (fn.is_none()) {
                     s.net->set_gradient_hook(nullptr);
                     return;
                 }
                 auto keep = std::make_shared<py::object>(fn);
                 s.net->set_gradient_hook([keep](T* g, std::size_t n) {
                     py::gil_scoped_acquire gil;
                     py::array_t<T> view({py::ssize_t(n)}, {py::ssize_t(sizeof(T))}, g, py::none());
                     (*keep)(view);
                 });
             },
             py::arg("hook"))
        .def("predict",
             [](const PN& s, Arr<T> x, idx batch_size, int first, int last, bool check_finite) {
                 const auto& ops = s.net->ops();
                 if (ops.empty()) throw std::invalid_argument("the model has no layers");
                 if (last < 0) last += int(ops.size());
                 if (first < 0 || last >= int(ops.size()) || first > last)
                     fail("layer range", "0 <= first <= last < " + std::to_string(ops.size()),
                          std::to_string(first) + ".." + std::to_string(last));
                 check_2d(x, "x", ops[first].n_in);
                 Arr<T> out({x.shape(0), py::ssize_t(ops[last].n_out)});
                 T* op = out.mutable_data();
                 const auto check = interrupt_check();
                 Status st;
                 {
                     py::gil_scoped_release nogil;
                     fastnn::EngineCall engine_call;  // FTZ/DAZ while the engine runs (cpu.hpp)
                     st = s.net->predict(op, x.data(), x.shape(0), batch_size, first, last, check_finite, check);
                 }
                 if (st == Status::Interrupted) throw py::error_already_set();
                 return out;
             },
             py::arg("x"), py::arg("batch_size") = 32, py::arg("first") = 0, py::arg("last") = -1,
             py::arg("check_finite") = false)
        .def("forward_backward",
             [](PN& s, Arr<T> x, Arr<T> y, py::object sw) {
                 s.check_xy(x, y);
                 Arr<T> wk;
                 const T* w = s.weights_ptr(sw, x.shape(0), wk);
                 double loss;
                 {
                     py::gil_scoped_release nogil;
                     fastnn::EngineCall engine_call;  // FTZ/DAZ while the engine runs (cpu.hpp)
                     loss = s.net->forward_backward(x.data(), y.data(), w, x.shape(0));
                 }
                 // The gradient of every tensor but state (which has none), in ParamSpec order.
                 py::list grads;
                 const auto& g = s.net->grads();
                 for (const ParamSpec& p : s.net->param_specs()) {
                     if (p.state) continue;
                     Arr<T> d(std::vector<py::ssize_t>(p.shape.begin(), p.shape.end()));
                     std::copy(g.begin() + std::ptrdiff_t(p.offset), g.begin() + std::ptrdiff_t(p.offset + p.size),
                               d.mutable_data());
                     grads.append(d);
                 }
                 return py::make_tuple(loss, grads);
             },
             py::arg("x"), py::arg("y"), py::arg("sample_weight") = py::none())
        .def("train_on_batch",
             [](PN& s, Arr<T> x, Arr<T> y, py::object sw) {
                 s.check_xy(x, y);
                 if (x.shape(0) == 0) fail("x", "at least one sample", "0 samples");
                 Arr<T> wk;
                 const T* w = s.weights_ptr(sw, x.shape(0), wk);
                 py::gil_scoped_release nogil;
                 fastnn::EngineCall engine_call;  // FTZ/DAZ while the engine runs (cpu.hpp)
                 return s.net->train_on_batch(x.data(), y.data(), w, x.shape(0));
             },
             py::arg("x"), py::arg("y"), py::arg("sample_weight") = py::none())
        .def("begin_epoch", [](PN& s, idx n, bool shuffle, idx batch_size) { s.net->begin_epoch(n, shuffle, batch_size); },
             py::arg("n"), py::arg("shuffle"), py::arg("batch_size") = 0)
        .def("train_epochs",
             [](PN& s, Arr<T> x, Arr<T> y, py::object sw, idx batch_size, bool shuffle, idx epochs,
                bool stop_on_nonfinite) {
                 // Returns (status, logs of the completed epochs, exception or None): an interrupt does not lose
                 // the logs of the epochs that finished; the caller raises the exception after recording them.
                 s.check_xy(x, y);
                 if (batch_size < 1) fail("batch_size", "an integer >= 1", std::to_string(batch_size));
                 Arr<T> wk;
                 const T* w = s.weights_ptr(sw, x.shape(0), wk);
                 std::vector<std::vector<double>> logs;
                 Status st;
                 {
                     py::gil_scoped_release nogil;
                     fastnn::EngineCall engine_call;  // FTZ/DAZ while the engine runs (cpu.hpp)
                     st = s.net->train_epochs(x.data(), y.data(), w, x.shape(0), batch_size, shuffle, epochs,
                                              python_interrupted, stop_on_nonfinite, &logs);
                 }
                 py::object exc = py::none();
                 if (st == Status::Interrupted) {
                     py::error_already_set err;  // fetches and clears the pending exception
                     exc = err.value();
                 }
                 return py::make_tuple(int(st), logs, exc);
             },
             py::arg("x"), py::arg("y"), py::arg("sample_weight"), py::arg("batch_size"), py::arg("shuffle"),
             py::arg("epochs"), py::arg("stop_on_nonfinite") = false)
        .def("train_batches",
             [](PN& s, Arr<T> x, Arr<T> y, py::object sw, idx batch_size, idx b0, idx b1, bool stop_on_nonfinite,
                bool check_interrupts) {
                 s.check_xy(x, y);
                 Arr<T> wk;
                 const T* w = s.weights_ptr(sw, x.shape(0), wk);
                 Status st;
                 idx done = 0;
                 {
                     py::gil_scoped_release nogil;
                     fastnn::EngineCall engine_call;  // FTZ/DAZ while the engine runs (cpu.hpp)
                     std::function<bool()> check;
                     if (check_interrupts) check = python_interrupted;
                     st = s.net->train_batches(x.data(), y.data(), w, x.shape(0), batch_size, b0, b1, check,
                                               stop_on_nonfinite, &done);
                 }
                 if (st == Status::Interrupted) throw py::error_already_set();
                 return py::make_tuple(int(st), done);
             },
             py::arg("x"), py::arg("y"), py::arg("sample_weight"), py::arg("batch_size"), py::arg("b0"),
             py::arg("b1"), py::arg("stop_on_nonfinite") = false, py::arg("check_interrupts") = true)
        .def("set_mpi_grad_hook",
             [](PN& s, py::dict spec) { s.net->set_gradient_hook(mpi_average_hook<T>(parse_mpi(spec))); },
             py::arg("spec"))
        .def("_set_layout", [](PN& s, int layout) { s.net->set_layout(layout); })
        .def_property_readonly("feature_major", [](const PN& s) { return s.net->feature_major(); })
        .def("get_rng_state", [](const PN& s) { return s.net->rng_state(); })
        .def("set_rng_state", [](PN& s, std::array<std::uint64_t, 8> st) { s.net->set_rng_state(st); })
        .def("epoch_logs", [](const PN& s) { return s.net->epoch_logs(); })
        .def("fit_epoch",
             [](PN& s, Arr<T> x, Arr<T> y, py::object sw, idx batch_size, bool shuffle) {
                 s.check_xy(x, y);
                 Arr<T> wk;
                 const T* w = s.weights_ptr(sw, x.shape(0), wk);
                 s.net->begin_epoch(x.shape(0), shuffle, batch_size);
                 Status st;
                 idx done = 0;
                 {
                     py::gil_scoped_release nogil;
                     fastnn::EngineCall engine_call;  // FTZ/DAZ while the engine runs (cpu.hpp)
                     st = s.net->train_batches(x.data(), y.data(), w, x.shape(0), batch_size, 0,
                                               (x.shape(0) + batch_size - 1) / std::max<idx>(batch_size, 1),
                                               python_interrupted, false, &done);
                 }
                 if (st == Status::Interrupted) throw py::error_already_set();
                 return s.net->epoch_logs();
             },
             py::arg("x"), py::arg("y"), py::arg("sample_weight") = py::none(), py::arg("batch_size") = 32,
             py::arg("shuffle") = true)
        .def("evaluate",
             [](const PN& s, Arr<T> x, Arr<T> y, py::object sw, idx batch_size) {
                 s.check_xy(x, y);
                 Arr<T> wk;
                 const T* w = s.weights_ptr(sw, x.shape(0), wk);
                 const auto check = interrupt_check();
                 std::vector<double> result;
                 Status st;
                 {
                     py::gil_scoped_release nogil;
                     fastnn::EngineCall engine_call;  // FTZ/DAZ while the engine runs (cpu.hpp)
                     st = s.net->evaluate(x.data(), y.data(), w, x.shape(0), batch_size, &result, check);
                 }
                 if (st == Status::Interrupted) throw py::error_already_set();
                 return result;
             },
             py::arg("x"), py::arg("y"), py::arg("sample_weight") = py::none(), py::arg("batch_size") = 32)
        .def_property("learning_rate", [](const PN& s) { return s.net->learning_rate(); },
                      [](PN& s, double lr) { s.net->set_learning_rate(lr); })
        .def("get_optimizer_state",
             [](PN& s) {
                 auto& o = s.net->optimizer();
                 std::shared_lock lock(s.net->mutex());
                 py::dict d;
                 d["iterations"] = o.iterations;
                 d["u_product"] = o.u_product;
                 py::list slots;
                 for (auto* v : {&o.s1, &o.s2, &o.s3}) {
                     Arr<T> a({py::ssize_t(v->size())});
                     std::copy(v->begin(), v->end(), a.mutable_data());
                     slots.append(a);
                 }
                 d["slots"] = slots;
                 return d;
             })
        .def("set_optimizer_state",
             [](PN& s, py::dict d) {
                 auto& o = s.net->optimizer();
                 py::list slots = d["slots"];
                 if (slots.size() != 3) fail("optimizer state", "3 slot arrays", std::to_string(slots.size()));
                 std::vector<Arr<T>> arrs;
                 for (auto sl : slots) {
                     arrs.push_back(Arr<T>::ensure(sl));
                     if (!arrs.back() || std::size_t(arrs.back().size()) != s.net->n_params())
                         fail("optimizer slot", std::to_string(s.net->n_params()) + " values", "another size");
                 }
                 // All or nothing: copies made before the state changes, then swapped in.
                 std::vector<T> copies[3];
                 for (int k = 0; k < 3; ++k) copies[k].assign(arrs[k].data(), arrs[k].data() + arrs[k].size());
                 const auto it = d["iterations"].cast<std::int64_t>();
                 if (it < 0) fail("optimizer iterations", "an integer >= 0", std::to_string(it));
                 const double u_product = d["u_product"].cast<double>();  // every value read before any is set
                 if (s.net->training())
                     throw std::runtime_error("cannot set the optimizer state while the model is being trained");
                 std::unique_lock lock(s.net->mutex());
                 o.iterations = it;
                 o.u_product = u_product;
                 std::vector<T>* dst[3] = {&o.s1, &o.s2, &o.s3};
                 for (int k = 0; k < 3; ++k) dst[k]->swap(copies[k]);
             });
}

template <class T>
py::tuple perceptron(Arr<T> x, Arr<T> y, Arr<T> w0, double eta, int epochs) {
    check_2d(x, "X", -1);
    if (y.ndim() != 1 || y.shape(0) != x.shape(0)) fail("y", "a 1-D array of length " + std::to_string(x.shape(0)), shape_str(y));
    if (w0.ndim() != 1 || w0.shape(0) != x.shape(1) + 1)
        fail("w", "a 1-D array of length " + std::to_string(x.shape(1) + 1), shape_str(w0));
    Arr<T> w({w0.shape(0)});
    std::copy(w0.data(), w0.data() + w0.shape(0), w.mutable_data());
    std::vector<std::int64_t> errors;
    T* wp = w.mutable_data();
    {
        py::gil_scoped_release nogil;
        fastnn::EngineCall engine_call;  // FTZ/DAZ while the engine runs (cpu.hpp)
        errors = perceptron_fit(wp, x.data(), y.data(), x.shape(0), x.shape(1), eta, epochs, python_interrupted);
    }
    if (PyErr_Occurred()) throw py::error_already_set();
    return py::make_tuple(w, errors);
}

}  // namespace

// op(a) @ op(b) through the engine's float32 product, under the mixed_bfloat16 policy when bf16 (and the CPU has
// bfloat16 products): for tests and benchmarks of the products alone.
Arr<float> engine_gemm(const Arr<float>& a, const Arr<float>& b, bool trans_a, bool trans_b, bool bf16) {
    check_2d(a, "a", -1);
    check_2d(b, "b", -1);
    const int M = int(trans_a ? a.shape(1) : a.shape(0)), K = int(trans_a ? a.shape(0) : a.shape(1));
    const int Kb = int(trans_b ? b.shape(1) : b.shape(0)), N = int(trans_b ? b.shape(0) : b.shape(1));
    if (K != Kb) fail("b", std::to_string(K) + " rows in op(b)", std::to_string(Kb));
    Arr<float> c({py::ssize_t(M), py::ssize_t(N)});
    float* cp = c.mutable_data();
    {
        py::gil_scoped_release nogil;
        Bf16Scope<float> scope(bf16 && fastnn::bf16_isa() != Bf16Isa::None);
        gemm<float>(trans_a, trans_b, M, N, K, 1.0f, a.data(), int(a.shape(1)), b.data(), int(b.shape(1)), 0.0f, cp,
                    N);
    }
    return c;
}

PYBIND11_MODULE(_core, m) {
    m.doc() = "fastnn's C++ engine (private: use the fastnn package)";
    fastnn::init_threads();
    g_main_thread = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();

    m.def("activation_forward", [](const std::string& name, py::object z) -> py::array {
        return is_f32(z) ? act_fwd<float>(name, z) : act_fwd<double>(name, z);
    });
    m.def("activation_backward", [](const std::string& name, py::object z, py::object dout) -> py::array {
        return is_f32(z) ? act_bwd<float>(name, z, dout) : act_bwd<double>(name, z, dout);
    });
    m.def("loss_forward",
          [](const std::string& name, py::object y, py::object p, py::object sw, bool from_logits, py::dict cfg) {
              return is_f32(p) ? loss_eval<float>(name, y, p, sw, from_logits, cfg, false).first
                               : loss_eval<double>(name, y, p, sw, from_logits, cfg, false).first;
          },
          py::arg("name"), py::arg("y_true"), py::arg("y_pred"), py::arg("sample_weight") = py::none(),
          py::arg("from_logits") = false, py::arg("config") = py::dict());
    m.def("loss_backward",
          [](const std::string& name, py::object y, py::object p, py::object sw, bool from_logits, py::dict cfg) {
              return is_f32(p) ? loss_eval<float>(name, y, p, sw, from_logits, cfg, true).second
                               : loss_eval<double>(name, y, p, sw, from_logits, cfg, true).second;
          },
          py::arg("name"), py::arg("y_true"), py::arg("y_pred"), py::arg("sample_weight") = py::none(),
          py::arg("from_logits") = false, py::arg("config") = py::dict());
    m.def("metric_eval",
          [](py::dict spec, py::object y, py::object p, py::object sw, idx batch) -> py::array {
              return is_f32(p) ? metric_eval<float>(spec, y, p, sw, batch) : metric_eval<double>(spec, y, p, sw, batch);
          },
          py::arg("spec"), py::arg("y_true"), py::arg("y_pred"), py::arg("sample_weight") = py::none(),
          py::arg("batch_size") = 32);
    m.def("schedule_values",
          [](py::dict schedule, std::vector<double> steps) {
              const Schedule s = parse_schedule(schedule);
              std::vector<double> out;
              for (double t : steps) out.push_back(s.lr_at(t));
              return out;
          },
          py::arg("schedule"), py::arg("steps"));
    m.def("optimizer_trajectory",
          [](const std::string& name, py::dict cfg, py::object w0, py::object grads) -> py::array {
              return is_f32(w0) ? opt_trajectory<float>(name, cfg, w0, grads) : opt_trajectory<double>(name, cfg, w0, grads);
          },
          py::arg("name"), py::arg("config"), py::arg("w0"), py::arg("grads"));
    m.def("perceptron_fit",
          [](py::object x, py::object y, py::object w0, double eta, int epochs) {
              return perceptron<double>(x, y, w0, eta, epochs);
          },
          py::arg("X"), py::arg("y"), py::arg("w"), py::arg("eta"), py::arg("epochs"));
#ifdef FASTNN_FAULT_INJECT
    // Only in fault-injection builds (tests/test_fault_injection.py): fail the n-th allocation from now, count them.
    m.def("_fault_arm", [](std::int64_t n) { fault::arm(n); }, py::arg("n"));
    m.def("_fault_disarm", []() { return fault::disarm(); });
    m.def("_alloc_count", [](bool reset) {
        const std::int64_t n = fault::count();
        if (reset) fault::reset_count();
        return n;
    }, py::arg("reset") = false);
#endif
#ifdef FASTNN_SANITIZE
    // Only in sanitizer builds: a deliberate heap overflow, so CI can prove AddressSanitizer is live.
    m.def("_sanitizer_probe", []() {
        std::vector<int>* v = new std::vector<int>(4, 1);
        volatile int* p = v->data();
        const int out = p[4];  // one past the end
        delete v;
        return out;
    });
#endif
    m.def("first_non_finite",
          [](py::array a) -> py::object {
              // Flat index of the first NaN or infinity in a float array (any layout), or None: one pass, no copy.
              auto scan = [](auto arr) -> py::object {
                  const idx i = arr.size() ? find_non_finite(arr.data(), idx(arr.size())) : -1;
                  return i < 0 ? py::object(py::none()) : py::object(py::int_(i));
              };
              if (!(a.flags() & py::array::c_style)) fail("array", "a C-contiguous array", "another layout");
              if (a.dtype().is(py::dtype::of<float>())) return scan(py::array_t<float, py::array::c_style>(a));
              if (a.dtype().is(py::dtype::of<double>())) return scan(py::array_t<double, py::array::c_style>(a));
              fail("array", "float32 or float64", std::string(py::str(a.dtype())));
          },
          py::arg("array"));
    // bfloat16 products (mixed_bfloat16 policy): oneDNN is opened from the path Python finds, on first use.
    m.def("load_onednn", &fastnn::load_onednn, py::arg("path"));
    m.def("onednn_loaded", &fastnn::onednn_loaded);
    m.def("bf16_isa", []() { return std::string(bf16_isa_name(fastnn::bf16_isa())); });
    m.def("cpu_features", []() {
        const CpuFeatures f = fastnn::cpu_features();
        py::dict d;
        d["avx512f"] = f.avx512f;
        d["avx512_bf16"] = f.avx512_bf16;
        d["amx_tile"] = f.amx_tile;
        d["amx_bf16"] = f.amx_bf16;
        d["os_avx512"] = f.os_avx512;
        d["os_amx"] = f.os_amx;
        return d;
    });
    m.def("bf16_kernel_name", [](int M, int N, int K) {
        if (fastnn::bf16_isa() == Bf16Isa::None) fail("bf16_kernel_name", "bfloat16 products", "none available");
        return fastnn::bf16_kernel_name(M, N, K);
    });
    m.def("to_bf16", [](Arr<float> x) {
        // x rounded to the nearest bfloat16, returned as float32 (for tests and the reference).
        Arr<float> out(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
        std::vector<std::uint16_t> h(std::size_t(x.size()));
        to_bf16(h.data(), x.data(), h.size());
        from_bf16(out.mutable_data(), h.data(), h.size());
        return out;
    });
    m.def("gemm_bf16",
          [](Arr<float> a, Arr<float> b, bool trans_a, bool trans_b) { return engine_gemm(a, b, trans_a, trans_b, true); },
          py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false,
          "op(a) @ op(b) through the engine's product under the mixed_bfloat16 policy (float32 if unavailable).");
    m.def("gemm_f32",
          [](Arr<float> a, Arr<float> b, bool trans_a, bool trans_b) { return engine_gemm(a, b, trans_a, trans_b, false); },
          py::arg("a"), py::arg("b"), py::arg("trans_a") = false, py::arg("trans_b") = false,
          "op(a) @ op(b) through the engine's float32 product (benchmarks/bf16_products.py compares the two).");
    m.def("mpi_average",
          [](py::dict spec, py::array buf) {
              const MpiAllreduceSpec sp = parse_mpi(spec);
              if (!(buf.flags() & py::array::c_style) || !buf.writeable())
                  fail("buffer", "a writable C-contiguous array", "another array");
              if (py::isinstance<py::array_t<float>>(buf)) {
                  auto a = buf.cast<py::array_t<float>>();
                  py::gil_scoped_release nogil;
                  mpi_average<float>(sp, a.mutable_data(), std::size_t(a.size()));
              } else if (py::isinstance<py::array_t<double>>(buf)) {
                  auto a = buf.cast<py::array_t<double>>();
                  py::gil_scoped_release nogil;
                  mpi_average<double>(sp, a.mutable_data(), std::size_t(a.size()));
              } else {
                  fail("buffer", "a float32 or float64 array", std::string(py::str(buf.dtype())));
              }
          },
          py::arg("spec"), py::arg("buffer"));
    m.def("set_num_threads",
          [](long long n) {
              // The cap of fastnn/_limits.py (max_threads), here too so that a direct call cannot pass it: a team
              // of a million threads crashes the OpenMP runtime at the next parallel region.
              const long long most = 4LL * std::max(1u, std::thread::hardware_concurrency());
              if (n < 1 || n > most)
                  fail("n", "an integer in [1, " + std::to_string(most) + "]", std::to_string(n));
              fastnn::set_num_threads(int(n));
          },
          py::arg("n"));
    m.def("get_num_threads", &fastnn::get_num_threads);
    m.def("have_openmp", &fastnn::have_openmp);
    m.def("set_flush_denormals", &fastnn::set_flush_denormals, py::arg("enabled"));
    m.def("flush_denormals", &fastnn::flush_denormals);
    // Test-only probes: the calling thread's MXCSR, and the size of the team an engine region runs on now.
    m.def("_mxcsr", &fastnn::read_fp_state);
    m.def("_set_mxcsr", &fastnn::write_fp_state, py::arg("value"));
    m.def("_team_size", &fastnn::team_size);
    m.def("_team_mxcsr", &fastnn::team_fp_states);

    m.def("op_kinds", []() {
        std::vector<std::string> out;
        for (const auto& r : op_table<float>()) out.push_back(r.name);
        return out;
    }, "The op kinds add_op takes, in table order.");
    bind_network<float>(m, "Network32");
    bind_network<double>(m, "Network64");
    m.def("Network",
          [](const std::string& dtype, std::uint64_t seed) -> py::object {
              if (dtype == "float32") return py::cast(PyNetwork<float>{std::make_shared<Network<float>>(seed)});
              if (dtype == "float64") return py::cast(PyNetwork<double>{std::make_shared<Network<double>>(seed)});
              fail("dtype", "'float32' or 'float64'", "'" + dtype + "'");
          },
          py::arg("dtype") = "float32", py::arg("seed") = 0);
}
