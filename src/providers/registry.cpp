#include "config/ini.hpp"
#include "providers/provider.hpp"

#include <cshelve/errors.hpp>

namespace cshelve::providers {
namespace {

// `provider = local` keeps a shelf in a folder, so a local shelf can have compression and
// encryption too. A relative folder is taken from the INI file's own folder, not the process's.
std::unique_ptr<Provider> make_local_from_ini(const ProviderContext& context) {
  const config::Section* defaults = context.ini->find("default");
  const auto it = defaults->find("folder");
  if (it == defaults->end() || it->second.empty()) {
    throw ConfigurationError(context.ini->origin + ": provider local needs 'folder = PATH' in [default]");
  }
  std::string folder = it->second;
  const auto slash = context.ini->origin.rfind('/');
  if (folder.front() != '/' && slash != std::string::npos) folder = context.ini->origin.substr(0, slash + 1) + folder;
  return make_local_provider(folder);
}

}  // namespace

std::unique_ptr<Provider> make_provider(const std::string& name, const ProviderContext& context) {
  if (name == "in-memory") return make_memory_provider(context);
  if (name == "aws-s3") {
#if CSHELVE_WITH_AWS_S3
    return make_aws_s3_provider(context);
#else
    throw UnknownProviderError("provider 'aws-s3' is not part of this build of cshelve (built with -Daws_s3=disabled)");
#endif
  }
  if (name == "local") return make_local_from_ini(context);
  throw UnknownProviderError("unknown provider '" + name + "' (known: aws-s3, in-memory, local)");
}

}  // namespace cshelve::providers
