#include "providers/provider.hpp"

#include <cshelve/errors.hpp>

namespace cshelve::providers {

std::unique_ptr<Provider> make_aws_s3_provider(const ProviderContext&) {
  throw UnknownProviderError("provider 'aws-s3' is not available in this build");
}

}  // namespace cshelve::providers
