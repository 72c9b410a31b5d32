// strided_view, the view_of customization point (all four resolution steps) and the adapters.
#include <alignkit/adapters/eigen.hpp>
#include <alignkit/adapters/std.hpp>
#include <alignkit/adapters/xtensor.hpp>
#include <alignkit/alignkit.hpp>

#include <array>
#include <span>
#include <vector>

#include <doctest/doctest.h>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include "test_types.hpp"

using alignkit::index_t;
using alignkit::view_of;

TEST_CASE("strided_view: extents, strides, contiguity, element access") {
  std::vector<double> buf{0, 1, 2, 3, 4, 5};
  alignkit::matrix_view<double> m(buf.data(), {2, 3});
  CHECK(m.rank() == 2);
  CHECK(m.extent(0) == 2);
  CHECK(m.stride(0) == 3);
  CHECK(m.stride(1) == 1);
  CHECK(m.is_contiguous());
  CHECK(m(1, 2) == 5);
  CHECK(m.row(1)(0) == 3);
  m(0, 1) = 10;
  CHECK(buf[1] == 10);
  alignkit::vector_view<const double> every_other(buf.data(), {3}, {2});
  CHECK_FALSE(every_other.is_contiguous());
  CHECK(every_other(2) == 4);
  CHECK(every_other.subview(1, 2)(1) == 4);
  alignkit::vector_view<const double> as_const = alignkit::vector_view<double>(buf.data(), 6);
  CHECK(as_const(5) == 5);
  // Extent-1 dimensions do not break contiguity whatever their stride.
  alignkit::matrix_view<double> one_row(buf.data(), {1, 6}, {0, 1});
  CHECK(one_row.is_contiguous());
}

TEST_CASE("view_of: standard contiguous ranges keep constness") {
  std::vector<float> v{1, 2, 3};
  const std::vector<float>& cv = v;
  std::array<double, 2> a{4, 5};
  std::span<const double> s(a);
  static_assert(std::is_same_v<decltype(view_of(v)), alignkit::vector_view<float>>);
  static_assert(std::is_same_v<decltype(view_of(cv)), alignkit::vector_view<const float>>);
  static_assert(std::is_same_v<decltype(view_of(s)), alignkit::vector_view<const double>>);
  CHECK(view_of(v).extent(0) == 3);
  CHECK(view_of(a)(1) == 5);
  CHECK(view_of(s)(0) == 4);
  static_assert(alignkit::vector_like<std::vector<double>>);
  static_assert(!alignkit::tensor_like<int>);
  static_assert(!alignkit::tensor_like<std::vector<std::string>>);
}

TEST_CASE("view_of: traits specialization and ADL function on foreign types") {
  const test_types::traits_tensor t{{1, 2, 3}};
  const test_types::adl_tensor a{{1, -1, 2, -1, 3, -1}};
  CHECK(view_of(t)(2) == 3);
  CHECK(view_of(a).extent(0) == 3);
  CHECK(view_of(a)(1) == 2);
  static_assert(alignkit::vector_like<test_types::traits_tensor>);
  static_assert(alignkit::vector_like<test_types::adl_tensor>);
}

TEST_CASE("as_matrix: row-major view over a vector, size mismatch is an error") {
  std::vector<double> v(6);
  auto m = alignkit::as_matrix(v, 2, 3);
  m(1, 0) = 7;
  CHECK(v[3] == 7);
  CHECK_THROWS_WITH_AS(alignkit::as_matrix(v, 4, 2),
                       "[alignkit.shape_error.105] as_matrix: the range has 6 elements, expected rows*cols = 4*2",
                       alignkit::shape_error);
}

TEST_CASE("Eigen adapter: vectors, matrices of both orders, maps with strides, blocks, Ref") {
  Eigen::VectorXd v = Eigen::VectorXd::LinSpaced(5, 0, 4);
  CHECK(view_of(v).rank() == 1);
  CHECK(view_of(v)(3) == 3);
  Eigen::ArrayXf a = Eigen::ArrayXf::Constant(3, 2.f);
  static_assert(std::is_same_v<alignkit::value_t<Eigen::ArrayXf>, float>);
  CHECK(view_of(a)(2) == 2.f);

  Eigen::Matrix<double, 2, 3, Eigen::ColMajor> cm;
  cm << 1, 2, 3, 4, 5, 6;
  Eigen::Matrix<double, 2, 3, Eigen::RowMajor> rm = cm;
  const auto vc = view_of(cm);
  const auto vr = view_of(rm);
  for (index_t i = 0; i < 2; ++i)
    for (index_t j = 0; j < 3; ++j) {
      CHECK(vc(i, j) == cm(i, j));
      CHECK(vr(i, j) == rm(i, j));
    }
  CHECK(vr.is_contiguous());
  CHECK_FALSE(vc.is_contiguous());

  std::vector<double> raw{0, 1, 2, 3, 4, 5, 6, 7};
  Eigen::Map<const Eigen::VectorXd, 0, Eigen::InnerStride<2>> strided(raw.data(), 4);
  CHECK(view_of(strided).stride(0) == 2);
  CHECK(view_of(strided)(3) == 6);

  Eigen::MatrixXd big = Eigen::MatrixXd::Random(5, 4);
  auto block = big.block(1, 1, 3, 2);
  CHECK(view_of(block)(2, 1) == big(3, 2));
  auto col = big.col(2);
  CHECK(view_of(col)(4) == big(4, 2));
  auto row = big.row(1);  // a row of a column-major matrix has inner stride 5
  CHECK(view_of(row).stride(0) == 5);
  CHECK(view_of(row)(3) == big(1, 3));
  Eigen::Ref<const Eigen::VectorXd> ref(v);
  CHECK(view_of(ref)(4) == 4);
}

TEST_CASE("Eigen adapter: half and bfloat16 storage reads as float") {
  Eigen::Matrix<Eigen::half, Eigen::Dynamic, 1> h(3);
  h << Eigen::half(0.5f), Eigen::half(-2.0f), Eigen::half(3.25f);
  Eigen::Matrix<Eigen::bfloat16, Eigen::Dynamic, 1> b(2);
  b << Eigen::bfloat16(1.5f), Eigen::bfloat16(-0.75f);
  static_assert(std::is_same_v<alignkit::value_t<decltype(h)>, float>);
  CHECK(view_of(h)(1) == -2.0f);
  CHECK(view_of(b)(0) == 1.5f);
}

TEST_CASE("xtensor adapter: xtensor, xarray, adapt; stride 0 on extent 1 is normalized") {
  xt::xtensor<double, 2> m = {{1, 2, 3}, {4, 5, 6}};
  const auto vm = view_of(m);
  CHECK(vm.rank() == 2);
  CHECK(vm(1, 2) == 6);
  xt::xtensor<double, 2> one = {{7, 8, 9}};
  const auto vo = view_of(one);
  CHECK(vo.stride(0) == 3);
  CHECK(vo.is_contiguous());
  xt::xarray<float> x = {1, 2, 3};
  CHECK(view_of(x).rank() == 1);
  CHECK(view_of(x)(2) == 3);
  xt::xarray<float> x2 = {{1, 2}, {3, 4}};
  CHECK(alignkit::view_as<2>(x2)(1, 0) == 3);
  CHECK_THROWS_WITH_AS(view_of(x2), "[alignkit.shape_error.106] view_of(xtensor): the container has rank 2, expected 1",
                       alignkit::shape_error);
  std::vector<double> raw{1, 2, 3, 4};
  auto adapted = xt::adapt(raw, std::array<std::size_t, 1>{4});
  CHECK(view_of(adapted)(3) == 4);
  CHECK(view_of(adapted).data_handle() == raw.data());
}
