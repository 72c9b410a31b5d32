// Tensor types alignkit has never heard of, made tensor_like in the two documented ways.
#pragma once

#include <alignkit/core/tensor.hpp>

#include <vector>

namespace test_types {

/// Made tensor_like by a tensor_traits specialization.
struct traits_tensor {
  std::vector<double> storage;
};

/// Made tensor_like by an ADL function: a view of every other element.
struct adl_tensor {
  std::vector<double> storage;
};
inline alignkit::vector_view<const double> alignkit_view(const adl_tensor& t) {
  return {t.storage.data(), {static_cast<alignkit::index_t>(t.storage.size() / 2)}, {2}};
}

}  // namespace test_types

template <>
struct alignkit::tensor_traits<test_types::traits_tensor> {
  static alignkit::vector_view<const double> view(const test_types::traits_tensor& t) {
    return {t.storage.data(), static_cast<alignkit::index_t>(t.storage.size())};
  }
  static alignkit::vector_view<double> view(test_types::traits_tensor& t) {
    return {t.storage.data(), static_cast<alignkit::index_t>(t.storage.size())};
  }
};
