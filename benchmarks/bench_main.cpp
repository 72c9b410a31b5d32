// Entry point of the benchmark binary: Google benchmark's own flags, plus the build facts every
// result file must carry (compiler, flags, SIMD target) in the JSON context.
#include <benchmark/benchmark.h>

#include <xsimd/xsimd.hpp>

#include <alignkit/core/config.hpp>

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("compiler", __VERSION__);
  benchmark::AddCustomContext("cxx_flags", ALIGNKIT_BENCH_CXX_FLAGS);
  benchmark::AddCustomContext("simd", xsimd::default_arch::name());
  benchmark::AddCustomContext("alignkit_version", std::to_string(ALIGNKIT_VERSION_MAJOR) + "." +
                                                      std::to_string(ALIGNKIT_VERSION_MINOR) + "." +
                                                      std::to_string(ALIGNKIT_VERSION_PATCH));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
