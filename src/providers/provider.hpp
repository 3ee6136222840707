// The one interface every storage backend implements. A provider stores opaque records under
// UTF-8 keys; it knows nothing of flags, caching or the record format.
#ifndef CSHELVE_PROVIDERS_PROVIDER_HPP
#define CSHELVE_PROVIDERS_PROVIDER_HPP

#include <cshelve/options.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/settings.hpp"
#include "util/stream.hpp"

namespace cshelve::providers {

// One page of a key listing. An empty `next` means the listing is complete.
struct KeyPage {
  std::vector<std::string> keys;
  std::string next;
};

// What a delete learnt about the key.
enum class Erased { existed, absent, unknown };

// A record body as pieces stored one after the other, so a large value is never concatenated.
using Pieces = std::vector<std::string_view>;

// A record whose data lies in a file, for a value too large to hold in memory: `head` (the
// record's header), then the first `size` bytes of the open file `fd` (named `path` in messages).
// It is read with pread, so it can be read more than once (to hash it, to send it again).
struct FileBody {
  std::string_view head;
  int fd = -1;
  std::string path;
  std::uint64_t size = 0;
};

// A record with its version: an opaque string that changes whenever the record is replaced (the
// ETag on S3, a digest of the record on a local folder, a counter in memory).
struct VersionedRecord {
  std::string record;
  std::string version;
};

class Provider {
 public:
  virtual ~Provider() = default;

  // Whether the storage (folder, bucket, in-memory store) exists.
  virtual bool exists() = 0;
  // Creates the storage; succeeds when it already exists. Throws CanNotCreateDBError.
  virtual void create() = 0;
  // Called once the storage exists and the shelf is open for writing (flags w, c and n): a
  // provider may tidy what writers that were killed left behind. Never throws.
  virtual void prepare_for_writes() noexcept {}

  virtual std::optional<std::string> get(std::string_view key) = 0;
  virtual void put(std::string_view key, const Pieces& body) = 0;
  virtual Erased erase(std::string_view key) = 0;
  virtual bool contains(std::string_view key) = 0;

  // A page of keys, in no particular order; `token` is empty for the first page and the previous
  // page's `next` after that.
  virtual KeyPage list(const std::string& token) = 0;

  // Conditional writes, the ground of compare-and-swap. Each returns whether it stored. The
  // defaults refuse: a provider offers them only where it can keep their promise.
  virtual std::optional<VersionedRecord> get_versioned(std::string_view key);
  // Stores only when the key has no record; of several racing writers exactly one stores.
  virtual bool put_if_absent(std::string_view key, const Pieces& body);
  // Stores only when the key's record still has `version` (as get_versioned gave it).
  virtual bool put_if_version(std::string_view key, const Pieces& body, const std::string& version);

  // Batches: the defaults loop; a provider that can do better (concurrency, bulk requests) does.
  virtual std::size_t count();
  virtual void erase_many(const std::vector<std::string>& keys);
  virtual std::vector<std::optional<std::string>> get_many(const std::vector<std::string>& keys);
  virtual void put_many(const std::vector<std::pair<std::string, Pieces>>& items);
  // Removes every key.
  virtual void clear();

  // Large records, moved a part at a time. The defaults hold the whole record in memory, as the
  // in-memory store does anyway; the local and aws-s3 providers never do.
  virtual void put_file(std::string_view key, const FileBody& body);
  // false when the key is absent.
  virtual bool get_to(std::string_view key, util::ByteSink& sink);

  // Whether erase() can tell a missing key (S3 cannot: it answers a delete the same either way).
  virtual bool reports_absence() const { return true; }

  // Where the storage is, for messages ("bucket 'name'"); empty when the path says it already.
  virtual std::string where() const { return {}; }

  // Releases connections or files; further calls are not made.
  virtual void close() {}
};

// What a provider is given besides its settings.
struct ProviderRuntime {
  Logger log;                           // empty when nobody listens
  LogLevel log_level = LogLevel::info;  // lines below it are dropped: not worth building
  TransferProgress progress;            // single-value transfers; may be empty
};

// Builds the provider the settings name.
std::unique_ptr<Provider> make_provider(config::StorageSettings settings, const ProviderRuntime& runtime);

std::unique_ptr<Provider> make_local_provider(const config::LocalSettings& settings);
std::unique_ptr<Provider> make_memory_provider(const config::MemorySettings& settings);
std::unique_ptr<Provider> make_aws_s3_provider(config::S3Settings settings, const ProviderRuntime& runtime);

}  // namespace cshelve::providers

#endif
