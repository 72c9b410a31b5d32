// A data-parallel all-reduce between threads, for tests of kernels whose statistics are global
// through a reducer: each thread plays one shard and passes `group.member(rank)` as the reducer.
#pragma once

#include <barrier>
#include <functional>
#include <span>
#include <thread>
#include <vector>

namespace alignkit_test {

class shard_group {
 public:
  explicit shard_group(int shards) : parts_(static_cast<std::size_t>(shards)), sync_(shards) {}

  /// The reducer of shard `rank`: sums every shard's values in rank order.
  struct reducer {
    shard_group* group;
    int rank;
    void all_reduce_sum(std::span<double> values) const { group->reduce(rank, values); }
  };
  reducer member(int rank) { return {this, rank}; }

  /// Runs f(rank) on one thread per shard and joins them.
  void run(const std::function<void(int)>& f) {
    std::vector<std::thread> threads;
    for (int r = 0; r < static_cast<int>(parts_.size()); ++r) threads.emplace_back(f, r);
    for (auto& t : threads) t.join();
  }

 private:
  void reduce(int rank, std::span<double> values) {
    parts_[static_cast<std::size_t>(rank)].assign(values.begin(), values.end());
    sync_.arrive_and_wait();
    for (std::size_t k = 0; k < values.size(); ++k) {
      double s = 0;
      for (const auto& p : parts_) s += p[k];
      values[k] = s;
    }
    sync_.arrive_and_wait();
  }

  std::vector<std::vector<double>> parts_;
  std::barrier<> sync_;
};

}  // namespace alignkit_test
