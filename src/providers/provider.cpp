#include "providers/provider.hpp"

#include "io/file.hpp"
#include "util/text.hpp"

#include <cshelve/errors.hpp>

namespace cshelve::providers {

std::size_t Provider::count() {
  std::size_t total = 0;
  std::string token;
  do {
    KeyPage page = list(token);
    total += page.keys.size();
    token = std::move(page.next);
  } while (!token.empty());
  return total;
}

void Provider::erase_many(const std::vector<std::string>& keys) {
  for (const auto& key : keys) erase(key);
}

std::vector<std::optional<std::string>> Provider::get_many(const std::vector<std::string>& keys) {
  std::vector<std::optional<std::string>> values;
  values.reserve(keys.size());
  for (const auto& key : keys) values.push_back(get(key));
  return values;
}

void Provider::put_many(const std::vector<std::pair<std::string, Pieces>>& items) {
  for (const auto& [key, body] : items) put(key, body);
}

std::optional<VersionedRecord> Provider::get_versioned(std::string_view) {
  throw StorageError("this storage offers no versioned reads");
}

bool Provider::put_if_absent(std::string_view, const Pieces&) {
  throw StorageError("this storage offers no conditional writes");
}

bool Provider::put_if_version(std::string_view, const Pieces&, const std::string&) {
  throw StorageError("this storage offers no conditional writes");
}

void Provider::clear() {
  // Collect first: deleting while paging could make a listing skip keys.
  std::vector<std::string> keys;
  std::string token;
  do {
    KeyPage page = list(token);
    for (auto& key : page.keys) keys.push_back(std::move(key));
    token = std::move(page.next);
  } while (!token.empty());
  erase_many(keys);
}

void Provider::put_file(std::string_view key, const FileBody& body) {
  std::string data;
  if (body.size > data.max_size()) {
    throw StorageError(util::concat({"cannot read '", body.path, "': its ", std::to_string(body.size),
                                     " bytes do not fit in this process's memory"}));
  }
  data.resize(static_cast<std::size_t>(body.size));
  io::read_exactly_at(body.fd, body.path, 0, data.data(), data.size());
  put(key, Pieces{body.head, data});
}

bool Provider::get_to(std::string_view key, util::ByteSink& sink) {
  std::optional<std::string> record = get(key);
  if (!record) return false;
  sink.restart();
  sink.write(*record);
  return true;
}

}  // namespace cshelve::providers
