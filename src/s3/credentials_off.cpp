// A build with -Dcredentials=false: auth_type access_key only. The client still names the provider
// type, so its two calls exist here; no provider is ever made, so they are never reached.
#include "s3/credentials.hpp"

namespace cshelve::s3 {

std::shared_ptr<const Credentials> CredentialsProvider::current() {
  throw AuthTypeError("this build of cshelve has no credential sources (-Dcredentials=false)");
}

void CredentialsProvider::expired(const std::shared_ptr<const Credentials>&) {}

bool is_credentials_auth_type(const std::string&) { return false; }

CredentialsSetup make_credentials(const CredentialsSettings&) {
  throw AuthTypeError("this build of cshelve has no credential sources (-Dcredentials=false)");
}

}  // namespace cshelve::s3
