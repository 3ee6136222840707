// A shelf on a scripted S3 server (tests/s3/scripted_server.hpp): the INI file that points the
// aws-s3 provider at it, and the listing that tells the provider its bucket exists.
#ifndef CSHELVE_TESTS_SUPPORT_S3_SHELF_HPP
#define CSHELVE_TESTS_SUPPORT_S3_SHELF_HPP

#include <string>

#include "test_support.hpp"

namespace cshelve_test {

// The reply to the provider's first request, on the bucket "shelf": it exists and is empty.
inline const std::string kEmptyListing =
    "<ListBucketResult><Name>shelf</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>";

// An INI file in `folder` for the bucket "shelf" at `endpoint_url`, with test keys; `params` are
// more lines of [provider_params].
inline std::string scripted_shelf_ini(const TempDir& folder, const std::string& endpoint_url,
                                      const std::string& params) {
  const std::string path = folder / "s3.ini";
  write_text(path,
             "[default]\nprovider = aws-s3\nbucket_name = shelf\nauth_type = access_key\nkey_id = AKID\n"
             "key_secret = secret\n[provider_params]\nendpoint_url = " +
                 endpoint_url + "\n" + params);
  return path;
}

}  // namespace cshelve_test

#endif
