// A type that is neither a view, nor specialized, nor ADL-viewable, nor a contiguous range must
// be rejected with the documented message that names the fix.
// expected-error: this type is not tensor_like; specialize alignkit::tensor_traits<T>
#include <alignkit/alignkit.hpp>

struct not_a_tensor {
  double value;
};

int main() {
  const not_a_tensor a{1.0}, b{0.0};
  return static_cast<int>(alignkit::bradley_terry::loss(a, b).loss);
}
