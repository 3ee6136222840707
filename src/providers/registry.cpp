#include "providers/provider.hpp"

#include <cshelve/errors.hpp>

namespace cshelve::providers {

std::unique_ptr<Provider> make_provider(config::StorageSettings settings, const ProviderRuntime& runtime) {
  if (const auto* local = std::get_if<config::LocalSettings>(&settings)) return make_local_provider(*local);
  if (const auto* memory = std::get_if<config::MemorySettings>(&settings)) return make_memory_provider(*memory);
#if CSHELVE_WITH_AWS_S3
  return make_aws_s3_provider(std::move(std::get<config::S3Settings>(settings)), runtime);
#else
  (void)runtime;
  throw UnknownProviderError("provider 'aws-s3' is not part of this build of cshelve (built with -Daws_s3=disabled)");
#endif
}

}  // namespace cshelve::providers
