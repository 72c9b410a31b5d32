/// @file view.hpp
/// @brief `strided_view`: a non-owning pointer + extents + strides (in elements) of rank 1–3.
///
/// The member names follow `std::mdspan` (`data_handle`, `extent`, `stride`, `size`, `rank`,
/// `operator()`), so that moving to it later is mechanical. The accessor decides how an element
/// is read: `default_accessor<T>` reads `T&`; `converting_accessor<S, V>` reads storage `S`
/// (e.g. `Eigen::half`, `Eigen::bfloat16`) and returns `V` (float), so half-precision buffers
/// enter every kernel with float arithmetic and wide accumulation.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>

#include "config.hpp"

ALIGNKIT_BEGIN_NAMESPACE

/// Reads and writes elements of type T in place.
template <class T>
struct default_accessor {
  using element_type = T;                          ///< what the pointer points to
  using value_type = std::remove_cv_t<T>;          ///< what a kernel computes with
  using reference = T&;
  constexpr reference access(T* p, index_t i) const noexcept { return p[i]; }
};

/// Reads storage elements of type Storage converted to Value (read-only).
template <class Storage, class Value = float>
struct converting_accessor {
  using element_type = Storage;
  using value_type = Value;
  using reference = Value;
  constexpr reference access(Storage* p, index_t i) const noexcept {
    return static_cast<Value>(p[i]);
  }
};

/// A strided, non-owning view of rank 1, 2 or 3. `T` may be const.
template <class T, std::size_t Rank, class Accessor = default_accessor<T>>
class strided_view {
  static_assert(Rank >= 1 && Rank <= 3, "alignkit: strided_view supports rank 1, 2 and 3");

 public:
  using element_type = T;
  using value_type = typename Accessor::value_type;
  using reference = typename Accessor::reference;
  using accessor_type = Accessor;
  using data_handle_type = T*;
  using extents_type = std::array<index_t, Rank>;

  constexpr strided_view() noexcept = default;

  /// View of `extents` with explicit strides (in elements).
  constexpr strided_view(T* data, extents_type extents, extents_type strides,
                         Accessor acc = {}) noexcept
      : data_(data), extents_(extents), strides_(strides), acc_(acc) {}

  /// Row-major contiguous view of `extents`.
  constexpr strided_view(T* data, extents_type extents) noexcept
      : data_(data), extents_(extents), strides_(row_major_strides(extents)) {}

  /// Contiguous rank-1 view of `n` elements.
  constexpr strided_view(T* data, index_t n) noexcept
    requires(Rank == 1)
      : data_(data), extents_{n}, strides_{1} {}

  /// A view of non-const T converts to a view of const T.
  template <class U, class A>
    requires(std::is_same_v<const U, T> && !std::is_same_v<U, T> &&
             std::is_same_v<A, default_accessor<U>> &&
             std::is_same_v<Accessor, default_accessor<T>>)
  constexpr strided_view(const strided_view<U, Rank, A>& other) noexcept
      : data_(other.data_handle()), extents_(other.extents()), strides_(other.strides()) {}

  static constexpr std::size_t rank() noexcept { return Rank; }
  constexpr T* data_handle() const noexcept { return data_; }
  constexpr index_t extent(std::size_t r) const noexcept { return extents_[r]; }
  constexpr index_t stride(std::size_t r) const noexcept { return strides_[r]; }
  constexpr const extents_type& extents() const noexcept { return extents_; }
  constexpr const extents_type& strides() const noexcept { return strides_; }
  constexpr const Accessor& accessor() const noexcept { return acc_; }

  /// Number of elements (product of extents).
  constexpr index_t size() const noexcept {
    index_t n = 1;
    for (index_t e : extents_) n *= e;
    return n;
  }
  constexpr bool empty() const noexcept { return size() == 0; }

  /// True when the elements are laid out row-major without gaps (extent-1 strides ignored).
  constexpr bool is_contiguous() const noexcept {
    index_t expected = 1;
    for (std::size_t r = Rank; r-- > 0;) {
      if (extents_[r] != 1 && strides_[r] != expected) return false;
      expected *= extents_[r];
    }
    return true;
  }

  constexpr reference operator()(index_t i) const noexcept
    requires(Rank == 1)
  {
    return acc_.access(data_, i * strides_[0]);
  }
  constexpr reference operator()(index_t i, index_t j) const noexcept
    requires(Rank == 2)
  {
    return acc_.access(data_, i * strides_[0] + j * strides_[1]);
  }
  constexpr reference operator()(index_t i, index_t j, index_t k) const noexcept
    requires(Rank == 3)
  {
    return acc_.access(data_, i * strides_[0] + j * strides_[1] + k * strides_[2]);
  }

  /// Row `i` of a rank-2 view as a rank-1 view.
  constexpr strided_view<T, 1, Accessor> row(index_t i) const noexcept
    requires(Rank == 2)
  {
    return {data_ + i * strides_[0], {extents_[1]}, {strides_[1]}, acc_};
  }

  /// Elements [begin, begin + n) of a rank-1 view.
  constexpr strided_view subview(index_t begin, index_t n) const noexcept
    requires(Rank == 1)
  {
    return {data_ + begin * strides_[0], {n}, {strides_[0]}, acc_};
  }

  /// The same elements as a rank-1 view in row-major order; requires is_contiguous().
  constexpr strided_view<T, 1, Accessor> flat() const noexcept {
    ALIGNKIT_ASSERT(is_contiguous());
    return {data_, {size()}, {1}, acc_};
  }

 private:
  static constexpr extents_type row_major_strides(const extents_type& e) noexcept {
    extents_type s{};
    index_t acc = 1;
    for (std::size_t r = Rank; r-- > 0;) {
      s[r] = acc;
      acc *= e[r];
    }
    return s;
  }

  T* data_ = nullptr;
  extents_type extents_{};
  extents_type strides_{};
  [[no_unique_address]] Accessor acc_{};
};

template <class T, class A = default_accessor<T>>
using vector_view = strided_view<T, 1, A>;
template <class T, class A = default_accessor<T>>
using matrix_view = strided_view<T, 2, A>;

template <class T>
inline constexpr bool is_strided_view_v = false;
template <class T, std::size_t R, class A>
inline constexpr bool is_strided_view_v<strided_view<T, R, A>> = true;

ALIGNKIT_END_NAMESPACE
