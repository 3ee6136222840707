// cshelve: a persistent dictionary whose values live in S3-compatible object storage, a local
// folder or memory; byte-compatible with Python cshelve.
//
//   #include <cshelve/cshelve.hpp>
//   auto db = cshelve::open("config.ini");   // or a folder path for a local shelf
//   db.set("user/42", "bytes");
//   std::string value = db.get("user/42");
//   for (const std::string& key : db) { ... }
//   db.close();
#ifndef CSHELVE_CSHELVE_HPP
#define CSHELVE_CSHELVE_HPP

#include <cshelve/errors.hpp>
#include <cshelve/export.hpp>
#include <cshelve/options.hpp>
#include <cshelve/shelf.hpp>
#include <cshelve/value_codec.hpp>

#include <string_view>

namespace cshelve {

// The library's version, "MAJOR.MINOR.PATCH".
CSHELVE_API std::string_view version() noexcept;

}  // namespace cshelve

#endif
