// Many writers on one key: the conditional writes (store if absent, compare-and-swap) and update(),
// the read-apply-write loop built on them. All go to the storage at once, even with writeback.
#include "shelf/shelf_impl.hpp"
#include "util/text.hpp"

#include <cshelve/errors.hpp>

#include <algorithm>
#include <random>
#include <thread>

namespace cshelve {
namespace {

// Full jitter: a random wait below a bound that doubles each round, up to the cap. Drawn from a
// generator seeded afresh for each update(), so forked processes do not wait in step.
std::chrono::milliseconds backoff(const UpdatePolicy& policy, int round, std::mt19937_64& random) {
  const int doublings = std::min(round - 1, 30);
  const long long base = std::max<long long>(0, policy.base_delay.count());
  const long long cap = std::max<long long>(0, policy.max_delay.count());
  const long long bound = base > (cap >> doublings) ? cap : base << doublings;
  std::uniform_int_distribution<long long> pick(0, bound);
  return std::chrono::milliseconds(pick(random));
}

}  // namespace

bool Shelf::set_if_absent(std::string_view key, std::string_view value) {
  Impl& impl = live();
  impl.require_writable();
  const codec::EncodedRecord record = codec::encode_record(value, impl.processing);
  const bool stored = impl.provider->put_if_absent(key, record.pieces());
  if (stored && impl.cache) impl.cache->forget(key);
  return stored;
}

std::optional<VersionedValue> Shelf::find_versioned(std::string_view key) const {
  Impl& impl = live();
  std::optional<providers::VersionedRecord> versioned = impl.provider->get_versioned(key);
  if (!versioned) return std::nullopt;
  return VersionedValue{codec::decode_record(std::move(versioned->record), impl.processing),
                        std::move(versioned->version)};
}

bool Shelf::set_if_version(std::string_view key, std::string_view value, const std::string& version) {
  Impl& impl = live();
  impl.require_writable();
  const codec::EncodedRecord record = codec::encode_record(value, impl.processing);
  const bool stored = impl.provider->put_if_version(key, record.pieces(), version);
  if (stored && impl.cache) impl.cache->forget(key);
  return stored;
}

std::string Shelf::update(std::string_view key,
                          const std::function<std::string(const std::optional<std::string>&)>& change,
                          const UpdatePolicy& policy) {
  Impl& impl = live();
  impl.require_writable();
  const int rounds = std::max(1, policy.max_attempts);
  std::random_device seed;
  std::mt19937_64 random((static_cast<std::uint64_t>(seed()) << 32) ^ seed());
  for (int round = 1;; ++round) {
    std::optional<providers::VersionedRecord> current = impl.provider->get_versioned(key);
    std::optional<std::string> value;
    if (current) value = codec::decode_record(std::move(current->record), impl.processing);
    std::string next = change(value);
    const codec::EncodedRecord record = codec::encode_record(next, impl.processing);
    const bool stored = current ? impl.provider->put_if_version(key, record.pieces(), current->version)
                                : impl.provider->put_if_absent(key, record.pieces());
    if (stored) {
      if (impl.cache) impl.cache->forget(key);
      return next;
    }
    if (round >= rounds) break;
    impl.log(LogLevel::debug,
             util::concat({"update of key '", key, "' in shelf '", impl.name, "': another writer changed it, round ",
                           std::to_string(round), " of ", std::to_string(rounds)}));
    std::this_thread::sleep_for(backoff(policy, round, random));
  }
  throw ConflictError(
      util::concat({"update of key '", key, "' in shelf '", impl.name, "' gave up after ", std::to_string(rounds),
                    (rounds == 1 ? " attempt" : " attempts"), ": other writers changed the key each time"}),
      {std::string(key)});
}

}  // namespace cshelve
