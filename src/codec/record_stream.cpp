#include "codec/record.hpp"

#include <cshelve/errors.hpp>

#include <cstring>
#include <utility>

#include "codec/envelope.hpp"
#include "codec/zlib_stream.hpp"

namespace cshelve::codec {

using namespace detail;

struct RecordWriter::State {
  State(const Processing& processing, std::string_view nonce_given)
      : signature(signature_of(processing)), nonce(nonce_given) {
    if (!processing.encryption_key.empty()) {
      check_key_size(processing.encryption_key.size());
      check_nonce_size(nonce);
      if (nonce.empty()) nonce = fresh_nonce();
      cipher = std::make_unique<eax::Stream>(processing.encryption_key, nonce, std::string_view(),
                                             eax::Stream::Direction::encrypt);
    }
    if (processing.zlib_level) compressor = std::make_unique<ZlibCompressor>(*processing.zlib_level);
  }

  std::size_t encryption_prefix() const { return cipher ? kEncryptionHeaderSize + eax::kTagSize + nonce.size() : 0; }

  // Encrypts, when configured, and appends data bytes.
  void emit(std::string_view data, std::string& out) {
    const std::size_t at = out.size();
    out.append(data);
    if (cipher) cipher->update(bytes(out, at), data.size(), bytes(out, at));
    data_size += data.size();
  }

  void start(std::string& out) {
    if (started) return;
    started = true;
    out.append(kEnvelopeHeaderSize + signature.size() + encryption_prefix(), '\0');
    data_size = encryption_prefix();
  }

  std::string signature;
  std::string nonce;
  std::unique_ptr<eax::Stream> cipher;
  std::unique_ptr<ZlibCompressor> compressor;
  std::string compressed;  // a part's compressed bytes, before encryption
  std::uint64_t data_size = 0;
  bool started = false;
};

RecordWriter::RecordWriter(const Processing& processing, std::string_view nonce)
    : state_(std::make_unique<State>(processing, nonce)) {}

RecordWriter::~RecordWriter() = default;

std::size_t RecordWriter::prefix_size() const {
  return kEnvelopeHeaderSize + state_->signature.size() + state_->encryption_prefix();
}

void RecordWriter::update(std::string_view payload, std::string& out) {
  State& state = *state_;
  state.start(out);
  if (state.compressor) {
    state.compressed.clear();
    state.compressor->update(payload, state.compressed);
    state.emit(state.compressed, out);
  } else {
    state.emit(payload, out);
  }
}

std::string RecordWriter::finish(std::string& out) {
  State& state = *state_;
  state.start(out);
  if (state.compressor) {
    state.compressed.clear();
    state.compressor->finish(state.compressed);
    state.emit(state.compressed, out);
  }
  std::string prefix = envelope_header(state.signature, state.data_size);
  if (state.cipher) {
    const std::size_t at = prefix.size();
    prefix.resize(at + state.encryption_prefix());
    put_encryption_header(bytes(prefix, at), state.cipher->finish(), state.nonce);
  }
  return prefix;
}

// The reader's state. The record's steps run as its data arrives; their errors are held until
// finish(), where they come out in decode_record's order: the envelope's length, strictness,
// then each step's in turn (decryption's header, its tag; decompression), then missing steps.
struct RecordReader::State {
  enum class Mode { undecided, legacy, envelope };
  Mode mode = Mode::undecided;
  std::string head;  // the envelope header, then the signature
  std::size_t signature_size = 0;
  std::uint64_t data_size = 0;
  std::uint64_t data_seen = 0;  // data bytes fed (past data_size too)
  Plan plan;
  bool strict_refuses = false;
  bool decrypts = false;
  bool inflates = false;

  // Decryption: its header as it arrives, then the stream.
  std::string encryption_header;
  std::size_t encryption_header_size = kEncryptionHeaderSize;  // known once its first bytes are
  std::unique_ptr<eax::Stream> cipher;
  eax::Tag tag{};
  std::exception_ptr decryption_error;

  std::unique_ptr<ZlibDecompressor> decompressor;
  std::exception_ptr decompression_error;
  std::string plaintext;  // a part's decrypted bytes

  bool signature_complete() const { return head.size() == kEnvelopeHeaderSize + signature_size; }

  // Runs data bytes through the record's steps to `out`. An error in decryption's header stops
  // everything; one in decompression stops decompression only, since the tag over all of the
  // ciphertext still decides which error comes first.
  void take(std::string_view data, const Processing& processing, const std::function<void(std::string_view)>& out,
            Pass pass) {
    if (decryption_error) return;
    if (decrypts) {
      while (!cipher) {
        const std::size_t taken = std::min(data.size(), encryption_header_size - encryption_header.size());
        encryption_header.append(data.substr(0, taken));
        data.remove_prefix(taken);
        if (encryption_header.size() < encryption_header_size) return;
        try {
          const auto* header = reinterpret_cast<const unsigned char*>(encryption_header.data());
          if (encryption_header_size == kEncryptionHeaderSize) {
            // The lengths of tag and nonce are known now: read on to the end of both.
            encryption_header_size = check_encryption_header(header, data_size);
            continue;
          }
          std::memcpy(tag.data(), header + kEncryptionHeaderSize, tag.size());
          const std::string_view nonce = std::string_view(encryption_header).substr(kEncryptionHeaderSize + tag.size());
          cipher = std::make_unique<eax::Stream>(processing.encryption_key, nonce, std::string_view(),
                                                 eax::Stream::Direction::decrypt);
        } catch (...) {
          decryption_error = std::current_exception();
          return;
        }
      }
      if (data.empty()) return;
      plaintext.resize(data.size());
      cipher->update(reinterpret_cast<const unsigned char*>(data.data()), data.size(), bytes(plaintext, 0));
      data = plaintext;
    }
    if (pass == Pass::authenticate) return;
    if (inflates) {
      if (decompression_error) return;
      try {
        decompressor->update(data, out);
      } catch (const DataCorruptionError&) {
        decompression_error = std::current_exception();
      }
      return;
    }
    out(data);
  }
};

RecordReader::RecordReader(const Processing& processing, std::function<void(std::string_view)> out, Pass pass)
    : processing_(processing), out_(std::move(out)), pass_(pass), state_(std::make_unique<State>()) {}

RecordReader::~RecordReader() = default;

void RecordReader::restart() { state_ = std::make_unique<State>(); }

void RecordReader::feed(std::string_view bytes_in) {
  State& state = *state_;
  if (state.mode == State::Mode::undecided) {
    if (state.head.empty() && !bytes_in.empty() && static_cast<unsigned char>(bytes_in[0]) > kRecordVersion) {
      check_legacy_allowed(processing_);
      state.mode = State::Mode::legacy;
    } else {
      const std::size_t taken = std::min(bytes_in.size(), kEnvelopeHeaderSize - state.head.size());
      state.head.append(bytes_in.substr(0, taken));
      bytes_in.remove_prefix(taken);
      if (state.head.size() < kEnvelopeHeaderSize) return;
      state.mode = State::Mode::envelope;
      state.signature_size = static_cast<unsigned char>(state.head[1]);
      state.data_size = read_u64_le(state.head, 2);
    }
  }
  if (state.mode == State::Mode::legacy) {
    if (pass_ == Pass::decode) out_(bytes_in);
    return;
  }
  if (!state.signature_complete()) {
    const std::size_t taken = std::min(bytes_in.size(), kEnvelopeHeaderSize + state.signature_size - state.head.size());
    state.head.append(bytes_in.substr(0, taken));
    bytes_in.remove_prefix(taken);
    if (!state.signature_complete()) return;
    const std::string_view signature = std::string_view(state.head).substr(kEnvelopeHeaderSize);
    state.strict_refuses = processing_.require_encryption && signature.find(kEncryptionStep) == std::string_view::npos;
    state.plan = plan_for(processing_, signature);
    state.decrypts = !state.plan.steps.empty() && state.plan.steps.front() == kEncryptionStep;
    state.inflates = state.plan.steps.find(kCompressionStep) != std::string::npos;
    if (state.decrypts) {
      try {
        check_key_size(processing_.encryption_key.size());
        check_encrypted_size(state.data_size);
      } catch (...) {
        state.decryption_error = std::current_exception();
      }
    }
    if (state.inflates) state.decompressor = std::make_unique<ZlibDecompressor>();
  }
  // Bytes past the announced length only count: finish() refuses the record for them.
  const std::uint64_t room = state.data_size - std::min(state.data_seen, state.data_size);
  const std::string_view data =
      bytes_in.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(bytes_in.size(), room)));
  state.data_seen += bytes_in.size();
  // Under strict an unencrypted record is refused before any step runs; a record with steps this
  // reader lacks still has the others run, since their errors come first, but gives no payload.
  static const std::function<void(std::string_view)> discard = [](std::string_view) {};
  if (!data.empty() && !state.strict_refuses) {
    state.take(data, processing_, state.plan.left.empty() ? out_ : discard, pass_);
  }
}

void RecordReader::finish() {
  State& state = *state_;
  switch (state.mode) {
    case State::Mode::undecided:
      decode_record(std::move(state.head), processing_);  // too short: throws as for the whole record
      break;
    case State::Mode::legacy: break;
    case State::Mode::envelope: {
      const std::uint64_t after_header = state.head.size() - kEnvelopeHeaderSize + state.data_seen;
      check_envelope(state.signature_size, state.data_size, after_header);
      const std::string_view signature = std::string_view(state.head).substr(kEnvelopeHeaderSize);
      check_strict(processing_, signature);
      if (state.decrypts) {
        if (state.decryption_error) std::rethrow_exception(state.decryption_error);
        if (!state.cipher || !state.cipher->verify(state.tag)) throw_tag_mismatch();
      }
      if (pass_ == Pass::authenticate) break;
      if (state.inflates) {
        if (state.decompression_error) std::rethrow_exception(state.decompression_error);
        state.decompressor->finish();
      }
      if (!state.plan.left.empty()) throw_missing_steps(state.plan.left, signature);
      break;
    }
  }
  restart();
}
}  // namespace cshelve::codec
