#include "s3/sha256.hpp"

#include <cshelve/errors.hpp>

#include <algorithm>
#include <cstring>

#include "util/hex.hpp"

namespace cshelve::s3 {
namespace detail {
namespace {

constexpr std::string_view kEmptySha256Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Fetching an algorithm searches OpenSSL's provider store; doing it once per process instead of
// once per hash keeps signing cheap.
const EVP_MD* sha256_algorithm() {
  static const EvpMd algorithm(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  if (!algorithm) throw Error("SigV4: OpenSSL provides no SHA-256");
  return algorithm.get();
}

[[noreturn]] void throw_sha256_failed() { throw Error("SigV4: SHA-256 failed in OpenSSL"); }

// A context per thread, reused by each small hash: making and freeing one costs more than hashing
// a short text.
EVP_MD_CTX* reusable_digest_context() {
  thread_local const EvpMdCtx context(EVP_MD_CTX_new());
  if (!context) throw_sha256_failed();
  return context.get();
}

// Leaves the hash in `ctx` (OpenSSL does not clear a context when it finishes): secret input
// goes through a context that is wiped after.
void sha256_with(EVP_MD_CTX* ctx, const std::string_view* pieces, std::size_t count, Digest& out) {
  if (EVP_DigestInit_ex(ctx, sha256_algorithm(), nullptr) != 1) throw_sha256_failed();
  for (std::size_t i = 0; i < count; ++i) {
    if (EVP_DigestUpdate(ctx, pieces[i].data(), pieces[i].size()) != 1) throw_sha256_failed();
  }
  unsigned int written = 0;
  if (EVP_DigestFinal_ex(ctx, out.data(), &written) != 1 || written != out.size()) throw_sha256_failed();
}

}  // namespace

void sha256(const std::string_view* pieces, std::size_t count, Digest& out) {
  sha256_with(reusable_digest_context(), pieces, count, out);
}

HmacSha256::HmacSha256(std::string_view key) {
  if (!inner_ || !outer_ || !scratch_) throw_sha256_failed();
  std::array<unsigned char, kBlockSize> block{};
  const ScopedCleanse wipe_block(block.data(), block.size());
  if (key.size() > kBlockSize) {
    Digest hashed;
    const ScopedCleanse wipe_hashed(hashed.data(), hashed.size());
    sha256_with(scratch_.get(), &key, 1, hashed);
    std::memcpy(block.data(), hashed.data(), hashed.size());
  } else {
    std::memcpy(block.data(), key.data(), key.size());
  }
  absorb_padded(inner_.get(), block, 0x36);
  absorb_padded(outer_.get(), block, 0x5c);
}

void HmacSha256::mac(std::string_view message, Digest& out) {
  Digest inner_hash;
  const ScopedCleanse wipe_inner_hash(inner_hash.data(), inner_hash.size());
  unsigned int written = 0;
  EVP_MD_CTX* ctx = scratch_.get();
  if (EVP_MD_CTX_copy_ex(ctx, inner_.get()) != 1 || EVP_DigestUpdate(ctx, message.data(), message.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, inner_hash.data(), &written) != 1 || written != inner_hash.size() ||
      EVP_MD_CTX_copy_ex(ctx, outer_.get()) != 1 || EVP_DigestUpdate(ctx, inner_hash.data(), inner_hash.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, out.data(), &written) != 1 || written != out.size()) {
    throw Error("SigV4: HMAC-SHA256 failed in OpenSSL");
  }
}

void HmacSha256::absorb_padded(EVP_MD_CTX* ctx, std::array<unsigned char, kBlockSize>& block, unsigned char pad) {
  for (unsigned char& byte : block) byte ^= pad;
  const bool hashed = EVP_DigestInit_ex(ctx, sha256_algorithm(), nullptr) == 1 &&
                      EVP_DigestUpdate(ctx, block.data(), block.size()) == 1;
  for (unsigned char& byte : block) byte ^= pad;
  if (!hashed) throw_sha256_failed();
}

}  // namespace detail

std::string sha256_hex(const std::vector<std::string_view>& pieces) {
  // The payload hash of every GET and DELETE.
  if (std::all_of(pieces.begin(), pieces.end(), [](std::string_view piece) { return piece.empty(); })) {
    return std::string(detail::kEmptySha256Hex);
  }
  detail::Digest digest;
  detail::sha256(pieces.data(), pieces.size(), digest);
  std::string out;
  out.reserve(2 * digest.size());
  util::append_hex(out, digest.data(), digest.size());
  return out;
}

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (!context_ || EVP_DigestInit_ex(context_.get(), detail::sha256_algorithm(), nullptr) != 1) {
    detail::throw_sha256_failed();
  }
}

void Sha256::update(std::string_view data) {
  if (EVP_DigestUpdate(context_.get(), data.data(), data.size()) != 1) detail::throw_sha256_failed();
}

std::string Sha256::hex_digest() {
  detail::Digest digest;
  unsigned int written = 0;
  if (EVP_DigestFinal_ex(context_.get(), digest.data(), &written) != 1 || written != digest.size()) {
    detail::throw_sha256_failed();
  }
  std::string out;
  out.reserve(2 * digest.size());
  util::append_hex(out, digest.data(), digest.size());
  return out;
}

}  // namespace cshelve::s3
