// One GRU layer, one direction or both, through oneDNN's fused RNN primitives (lbr_gru: reset-after, gru: not).
//
// Tensors arrive already in oneDNN's gate order (u, r, o = torch's z, r, n) and layouts, prepared by
// differentiable torch ops in Python, so autograd maps gradients back to torch.nn's layout by itself.
// One direction (D = 1) or both (D = 2: oneDNN's bidirectional_concat, the second reading time backwards):
//   x (B, T, I) and y (B, T, D*H): batch-first, oneDNN's "ntc" (no transposes);
//   h0, hT (B, H) or (D, B, H): "ldnc" with L = 1;
//   w_layer ([D,] G*H, I) and w_iter ([D,] G*H, H): "ldgoi", torch's (gates*H, in) layout with G = 3;
//   bias ([D,] Gb, H) float32: "ldgo", Gb = 4 for lbr_gru (the recurrent candidate's bias is separate), else 3.
#include <omp.h>
#include <torch/extension.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cstring>
#include <list>
#include <mutex>
#include <vector>

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;
constexpr dt f32 = dt::f32;

namespace {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dt data_type(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat: return dt::f32;
    case at::kBFloat16: return dt::bf16;
    default: TORCH_CHECK(false, "seqkit_onednn: float32 or bfloat16 tensors only, got ", t.scalar_type());
  }
}

// The descriptors of one layer's problem; "any" lets the primitive choose its weights' layout.
struct Problem {
  memory::dim T, B, I, H, D;
  bool lbr;
  dt type;
  Problem(memory::dim B, memory::dim T, memory::dim I, memory::dim H, memory::dim D, bool lbr, dt type)
      : T(T), B(B), I(I), H(H), D(D), lbr(lbr), type(type) {}
  Problem(const at::Tensor& x, const at::Tensor& w_iter, bool lbr)
      : Problem(x.size(0), x.size(1), x.size(2), w_iter.size(-1), w_iter.dim() == 3 ? w_iter.size(0) : 1, lbr,
                data_type(x)) {}
  dnnl::rnn_direction direction() const {
    return D == 2 ? dnnl::rnn_direction::bidirectional_concat : dnnl::rnn_direction::unidirectional_left2right;
  }
  memory::desc src_layer(dt t) const { return {{T, B, I}, t, tag::ntc}; }
  memory::desc dst_layer(dt t) const { return {{T, B, D * H}, t, tag::ntc}; }
  memory::desc iter(dt t) const { return {{1, D, B, H}, t, tag::ldnc}; }
  memory::desc src_layer() const { return src_layer(type); }
  memory::desc dst_layer() const { return dst_layer(type); }
  memory::desc iter() const { return iter(type); }
  memory::desc user_w_layer(dt t) const { return {{1, D, I, 3, H}, t, tag::ldgoi}; }
  memory::desc user_w_iter(dt t) const { return {{1, D, H, 3, H}, t, tag::ldgoi}; }
  memory::desc any_w_layer(dt t) const { return {{1, D, I, 3, H}, t, tag::any}; }
  memory::desc any_w_iter(dt t) const { return {{1, D, H, 3, H}, t, tag::any}; }
  memory::desc bias() const { return {{1, D, lbr ? 4 : 3, H}, dt::f32, tag::ldgo}; }
};

// Scratch memory is ours to give (not allocated by oneDNN at every call): fresh pages are slow to fault in.
const dnnl::primitive_attr& user_scratchpad() {
  static dnnl::primitive_attr attr = [] {
    dnnl::primitive_attr a;
    a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return a;
  }();
  return attr;
}

// Scratch is dead once a primitive returns, so one buffer per thread serves every call; it only grows.
memory scratchpad(const memory::desc& md) {
  thread_local at::Tensor buffer;
  auto bytes = static_cast<int64_t>(md.get_size());
  if (!buffer.defined() || buffer.numel() < bytes) buffer = at::empty({std::max<int64_t>(bytes, 1)}, at::kByte);
  return memory(md, cpu_engine(), buffer.data_ptr());
}

template <typename Fwd>
typename Fwd::primitive_desc forward_pd(const Problem& p, dnnl::prop_kind kind) {
  return typename Fwd::primitive_desc(cpu_engine(), kind, p.direction(),
                                      p.src_layer(), p.iter(), p.any_w_layer(p.type), p.any_w_iter(p.type),
                                      p.bias(), p.dst_layer(), p.iter(), user_scratchpad());
}

memory wrap(const memory::desc& md, const at::Tensor& t) {
  return memory(md, cpu_engine(), const_cast<void*>(t.data_ptr()));
}

// Weights in a primitive's layout, reused while the same unchanged tensor comes back (a split layer's segments).
// An entry holds its tensor, so none other can take its memory; an in-place change bumps the version: a miss.
struct Reordered { at::Tensor source; int64_t version; memory::desc wanted; memory out; };
constexpr size_t kReorderedKept = 4;  // a direction's two matrices, forward and backward
std::mutex reordered_mutex;
std::list<Reordered> reordered_cache;

memory reorder_to(const at::Tensor& t, const memory::desc& user, const memory::desc& wanted, dnnl::stream& s) {
  memory out(wanted, cpu_engine()), in = wrap(user, t);
  dnnl::reorder(in, out).execute(s, in, out);
  s.wait();
  return out;
}

memory weights_as(const at::Tensor& t, const memory::desc& user, const memory::desc& wanted, dnnl::stream& s) {
  if (user == wanted) return wrap(user, t);
  // inference tensors (torch.inference_mode) have no version counter to tell a change by: never reused
  if (t.is_inference()) return reorder_to(t, user, wanted, s);
  {
    std::lock_guard<std::mutex> lock(reordered_mutex);
    for (auto it = reordered_cache.begin(); it != reordered_cache.end(); ++it) {
      if (it->source.is_same(t) && it->version == t._version() && it->wanted == wanted) {
        reordered_cache.splice(reordered_cache.begin(), reordered_cache, it);
        return reordered_cache.front().out;
      }
    }
  }
  auto out = reorder_to(t, user, wanted, s);
  std::lock_guard<std::mutex> lock(reordered_mutex);
  reordered_cache.push_front({t, static_cast<int64_t>(t._version()), wanted, out});
  if (reordered_cache.size() > kReorderedKept) reordered_cache.pop_back();
  return out;
}

// oneDNN runs its OpenMP regions with the calling thread's setting; follow torch's.
void follow_torch_threads() { omp_set_num_threads(at::get_num_threads()); }

template <typename Fwd>
std::vector<at::Tensor> forward_impl(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_layer,
                                     const at::Tensor& w_iter, const at::Tensor& bias, const at::Tensor& ws,
                                     bool lbr, bool training) {
  follow_torch_threads();
  Problem p(x, w_iter, lbr);
  auto kind = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  auto pd = forward_pd<Fwd>(p, kind);
  dnnl::stream s(cpu_engine());
  auto y = at::empty({p.B, p.T, p.D * p.H}, x.options());
  auto hT = at::empty(h0.sizes(), x.options());
  if (training) {
    TORCH_CHECK(ws.numel() >= static_cast<int64_t>(pd.workspace_desc().get_size()),
                "seqkit_onednn: the workspace is too small");
  }
  auto wl = weights_as(w_layer, p.user_w_layer(p.type), pd.weights_layer_desc(), s);
  auto wi = weights_as(w_iter, p.user_w_iter(p.type), pd.weights_iter_desc(), s);
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC_LAYER, wrap(p.src_layer(), x)}, {DNNL_ARG_SRC_ITER, wrap(p.iter(), h0)},
      {DNNL_ARG_WEIGHTS_LAYER, wl},                 {DNNL_ARG_WEIGHTS_ITER, wi},
      {DNNL_ARG_BIAS, wrap(p.bias(), bias)},        {DNNL_ARG_DST_LAYER, wrap(p.dst_layer(), y)},
      {DNNL_ARG_DST_ITER, wrap(p.iter(), hT)},         {DNNL_ARG_SCRATCHPAD, scratchpad(pd.scratchpad_desc())}};
  if (training) args.insert({DNNL_ARG_WORKSPACE, wrap(pd.workspace_desc(), ws)});
  typename Fwd::primitive(pd).execute(s, args);
  s.wait();
  return {y, hT};
}

template <typename Fwd, typename Bwd>
std::vector<at::Tensor> backward_impl(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_layer,
                                      const at::Tensor& w_iter, const at::Tensor& bias, const at::Tensor& y,
                                      const at::Tensor& hT, const at::Tensor& ws, const at::Tensor& dy,
                                      const at::Tensor& dhT, bool lbr) {
  follow_torch_threads();
  Problem p(x, w_iter, lbr);
  auto fwd = forward_pd<Fwd>(p, dnnl::prop_kind::forward_training);
  typename Bwd::primitive_desc pd(cpu_engine(), dnnl::prop_kind::backward, p.direction(),
                                  p.src_layer(), p.iter(), p.any_w_layer(p.type), p.any_w_iter(p.type), p.bias(),
                                  p.dst_layer(), p.iter(), p.src_layer(f32), p.iter(f32), p.any_w_layer(f32),
                                  p.any_w_iter(f32), p.bias(), p.dst_layer(f32), p.iter(f32), fwd,
                                  user_scratchpad());
  TORCH_CHECK(static_cast<int64_t>(pd.workspace_desc().get_size()) <= ws.numel(),
              "seqkit_onednn: the workspace does not match the backward primitive");
  dnnl::stream s(cpu_engine());
  // oneDNN computes every gradient in float32, bfloat16 layers included
  auto f = x.options().dtype(at::kFloat);
  auto dy32 = dy.to(at::kFloat).contiguous();
  auto dhT32 = dhT.to(at::kFloat).contiguous();
  auto dx = at::empty(x.sizes(), f);
  auto dh0 = at::empty(h0.sizes(), f);
  auto dw_layer = at::empty(w_layer.sizes(), f);
  auto dw_iter = at::empty(w_iter.sizes(), f);
  auto dbias = at::zeros_like(bias);
  auto wl = weights_as(w_layer, p.user_w_layer(p.type), pd.weights_layer_desc(), s);
  auto wi = weights_as(w_iter, p.user_w_iter(p.type), pd.weights_iter_desc(), s);
  // oneDNN accumulates weight gradients into what it is given: start from zero
  memory dwl(pd.diff_weights_layer_desc(), cpu_engine());
  memory dwi(pd.diff_weights_iter_desc(), cpu_engine());
  std::memset(dwl.get_data_handle(), 0, pd.diff_weights_layer_desc().get_size());
  std::memset(dwi.get_data_handle(), 0, pd.diff_weights_iter_desc().get_size());
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC_LAYER, wrap(p.src_layer(), x)},          {DNNL_ARG_SRC_ITER, wrap(p.iter(), h0)},
      {DNNL_ARG_WEIGHTS_LAYER, wl},                          {DNNL_ARG_WEIGHTS_ITER, wi},
      {DNNL_ARG_BIAS, wrap(p.bias(), bias)},                 {DNNL_ARG_DST_LAYER, wrap(p.dst_layer(), y)},
      {DNNL_ARG_DST_ITER, wrap(p.iter(), hT)},               {DNNL_ARG_WORKSPACE, wrap(pd.workspace_desc(), ws)},
      {DNNL_ARG_DIFF_DST_LAYER, wrap(p.dst_layer(f32), dy32)}, {DNNL_ARG_DIFF_DST_ITER, wrap(p.iter(f32), dhT32)},
      {DNNL_ARG_DIFF_SRC_LAYER, wrap(p.src_layer(f32), dx)}, {DNNL_ARG_DIFF_SRC_ITER, wrap(p.iter(f32), dh0)},
      {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl},                    {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi},
      {DNNL_ARG_DIFF_BIAS, wrap(p.bias(), dbias)},           {DNNL_ARG_SCRATCHPAD, scratchpad(pd.scratchpad_desc())}};
  typename Bwd::primitive(pd).execute(s, args);
  auto user_dwl = wrap(p.user_w_layer(f32), dw_layer);
  auto user_dwi = wrap(p.user_w_iter(f32), dw_iter);
  dnnl::reorder(dwl, user_dwl).execute(s, dwl, user_dwl);
  dnnl::reorder(dwi, user_dwi).execute(s, dwi, user_dwi);
  s.wait();
  auto type = x.scalar_type();  // gradients in each input's own type
  return {dx.to(type), dh0.to(type), dw_layer.to(type), dw_iter.to(type), dbias};
}

void check(const std::vector<at::Tensor>& ts) {
  for (const auto& t : ts) {
    TORCH_CHECK(t.device().is_cpu() && t.is_contiguous(), "seqkit_onednn: contiguous CPU tensors only");
  }
}

// oneDNN reads raw memory by the descriptors: shapes and types must be exactly what they describe.
// With D = 2 every per-direction tensor has a leading dimension of 2.
std::vector<int64_t> per_direction(int64_t D, std::vector<int64_t> shape) {
  if (D == 2) shape.insert(shape.begin(), 2);
  return shape;
}

void check_problem(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_layer, const at::Tensor& w_iter,
                   const at::Tensor& bias, bool reset_after) {
  TORCH_CHECK(x.dim() == 3 && (w_iter.dim() == 2 || (w_iter.dim() == 3 && w_iter.size(0) == 2)),
              "seqkit_onednn: x must be (B, T, I), w_iter (3H, H) or (2, 3H, H)");
  auto B = x.size(0), I = x.size(2), H = w_iter.size(-1), D = w_iter.dim() == 3 ? int64_t{2} : int64_t{1};
  TORCH_CHECK(h0.sizes() == at::IntArrayRef(per_direction(D, {B, H})), "seqkit_onednn: h0 must be ([2,] B, H)");
  TORCH_CHECK(w_layer.sizes() == at::IntArrayRef(per_direction(D, {3 * H, I})),
              "seqkit_onednn: w_layer must be ([2,] 3H, I)");
  TORCH_CHECK(w_iter.sizes() == at::IntArrayRef(per_direction(D, {3 * H, H})),
              "seqkit_onednn: w_iter must be ([2,] 3H, H)");
  TORCH_CHECK(bias.sizes() == at::IntArrayRef(per_direction(D, {reset_after ? 4 : 3, H})) &&
                  bias.scalar_type() == at::kFloat,
              "seqkit_onednn: bias must be float32 ([2,] 4, H) for reset_after, ([2,] 3, H) otherwise");
  for (const auto* t : {&h0, &w_layer, &w_iter}) {
    TORCH_CHECK(t->scalar_type() == x.scalar_type(), "seqkit_onednn: x, h0 and weights must share a dtype");
  }
}

}  // namespace

std::vector<at::Tensor> gru_forward(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_layer,
                                    const at::Tensor& w_iter, const at::Tensor& bias, const at::Tensor& ws,
                                    bool reset_after, bool training) {
  check({x, h0, w_layer, w_iter, bias, ws});
  check_problem(x, h0, w_layer, w_iter, bias, reset_after);
  try {
    if (reset_after) return forward_impl<dnnl::lbr_gru_forward>(x, h0, w_layer, w_iter, bias, ws, true, training);
    return forward_impl<dnnl::gru_forward>(x, h0, w_layer, w_iter, bias, ws, false, training);
  } catch (const dnnl::error& e) {
    TORCH_CHECK(false, "oneDNN: ", e.what());
  }
}

std::vector<at::Tensor> gru_backward(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_layer,
                                     const at::Tensor& w_iter, const at::Tensor& bias, const at::Tensor& y,
                                     const at::Tensor& hT, const at::Tensor& ws, const at::Tensor& dy,
                                     const at::Tensor& dhT, bool reset_after) {
  check({x, h0, w_layer, w_iter, bias, y, hT, ws, dy, dhT});
  check_problem(x, h0, w_layer, w_iter, bias, reset_after);
  TORCH_CHECK(dy.sizes() == y.sizes() && dhT.sizes() == hT.sizes(), "seqkit_onednn: gradients' shapes differ");
  try {
    if (reset_after)
      return backward_impl<dnnl::lbr_gru_forward, dnnl::lbr_gru_backward>(x, h0, w_layer, w_iter, bias, y, hT, ws,
                                                                          dy, dhT, true);
    return backward_impl<dnnl::gru_forward, dnnl::gru_backward>(x, h0, w_layer, w_iter, bias, y, hT, ws, dy, dhT,
                                                                false);
  } catch (const dnnl::error& e) {
    TORCH_CHECK(false, "oneDNN: ", e.what());
  }
}

// Bytes of workspace a training forward of this shape needs (kept from forward to backward).
int64_t workspace_bytes(int64_t B, int64_t T, int64_t I, int64_t H, int64_t D, bool reset_after, bool bf16) {
  TORCH_CHECK(D == 1 || D == 2, "seqkit_onednn: one direction or two");
  Problem p(B, T, I, H, D, reset_after, bf16 ? dt::bf16 : dt::f32);
  try {
    if (reset_after)
      return forward_pd<dnnl::lbr_gru_forward>(p, dnnl::prop_kind::forward_training).workspace_desc().get_size();
    return forward_pd<dnnl::gru_forward>(p, dnnl::prop_kind::forward_training).workspace_desc().get_size();
  } catch (const dnnl::error& e) {
    TORCH_CHECK(false, "oneDNN: ", e.what());
  }
}

std::string version() {
  auto v = dnnl::version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("gru_forward", &gru_forward, "one GRU layer, one direction or both, forward into the given workspace: (y, hT)");
  m.def("workspace_bytes", &workspace_bytes,
        "workspace size of a training forward: (B, T, I, H, directions, reset_after, bf16)");
  m.def("gru_backward", &gru_backward, "its backward: (dx, dh0, dw_layer, dw_iter, dbias)");
  m.def("version", &version, "the oneDNN version linked");
}
