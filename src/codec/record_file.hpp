// Records of values too large to hold in memory, put together from a file and taken apart into
// one, a part at a time.
#ifndef CSHELVE_CODEC_RECORD_FILE_HPP
#define CSHELVE_CODEC_RECORD_FILE_HPP

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "codec/record.hpp"
#include "io/temporary_file.hpp"
#include "util/stream.hpp"

namespace cshelve::codec {

// The record of a value that lies in a file, ready to be read from where it lies: `head()`, then
// the first `size()` bytes of the open file `fd()`. A plain record is its header and the user's
// file itself. A processed one is put together in a spool file beside the user's file (its header
// is known only at the end), and `head()` is empty.
class FileRecord {
 public:
  // Encodes the first `size` bytes of the open file `fd`, named `path` in messages.
  FileRecord(const Processing& processing, int fd, const std::string& path, std::uint64_t size);

  std::string_view head() const { return head_; }
  int fd() const { return spool_ ? spool_->fd() : fd_; }
  const std::string& path() const { return spool_ ? spool_->path() : path_; }
  std::uint64_t size() const { return spool_ ? spool_->size() : size_; }

 private:
  std::string head_;
  std::optional<io::SpoolFile> spool_;
  int fd_;
  std::string path_;
  std::uint64_t size_;
};

// Decodes a record that arrives a part at a time, as the sink of a provider's transfer, handing
// the payload to `out`. `on_restart` runs when the transfer starts over, so the receiver can drop
// what it got. A record both compressed and encrypted is kept in a spool file in `spool_folder`
// and authenticated whole before any of it is inflated, as decode_record does. What `out`
// received must be discarded when write() or finish() throws.
class FileRecordDecoder final : public util::ByteSink {
 public:
  FileRecordDecoder(const Processing& processing, std::function<void(std::string_view)> out,
                    std::function<void()> on_restart, const std::string& spool_folder);
  ~FileRecordDecoder() override;
  FileRecordDecoder(const FileRecordDecoder&) = delete;
  FileRecordDecoder& operator=(const FileRecordDecoder&) = delete;

  void restart() override;
  void write(std::string_view bytes) override;
  // The record is complete: checks it and hands on what is left.
  void finish();

 private:
  const Processing& processing_;
  std::function<void()> on_restart_;
  RecordReader decoder_;
  std::optional<io::SpoolFile> spool_;  // set when the record is authenticated before it is decoded
};

}  // namespace cshelve::codec

#endif
