// The README quickstart: one include, one fused call over std::vector.
#include <alignkit/alignkit.hpp>

#include <cstdio>
#include <vector>

int main() {
  std::vector<float> chosen{1.2f, 0.3f, 2.0f}, rejected{0.4f, 0.9f, -1.0f}, d_chosen(3), d_rejected(3);
  namespace bt = alignkit::bradley_terry;
  bt::result r = bt::loss(chosen, rejected, {},   // one fused pass: loss, metrics and gradients
                          bt::outputs<float>{.grad_chosen = alignkit::view_of(d_chosen),
                                             .grad_rejected = alignkit::view_of(d_rejected)});
  std::printf("loss %.4f accuracy %.3f margin %.3f d_chosen[0] %.4f\n", r.loss, r.accuracy, r.margin, d_chosen[0]);
  return r.accuracy > 0.5 ? 0 : 1;
}
