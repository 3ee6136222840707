#include "codec/record_file.hpp"

#include "io/file.hpp"

namespace cshelve::codec {
namespace {

// Runs a record kept in a spool file through a reader.
void read_spool(const io::SpoolFile& spool, RecordReader& reader) {
  io::read_in_parts(spool.fd(), spool.path(), spool.size(), [&reader](std::string_view part) { reader.feed(part); });
  reader.finish();
}

}  // namespace

FileRecord::FileRecord(const Processing& processing, int fd, const std::string& path, std::uint64_t size)
    : fd_(fd), path_(path), size_(size) {
  if (writes_plain(processing)) {
    head_ = plain_record_header(size);
    return;
  }
  io::SpoolFile& spool = spool_.emplace(io::folder_of(path));
  RecordWriter writer(processing);
  std::string record;
  io::read_in_parts(fd, path, size, [&](std::string_view part) {
    record.clear();
    writer.update(part, record);
    spool.append(record);
  });
  record.clear();
  const std::string prefix = writer.finish(record);
  spool.append(record);
  spool.write_at(0, prefix);
}

FileRecordDecoder::FileRecordDecoder(const Processing& processing, std::function<void(std::string_view)> out,
                                     std::function<void()> on_restart, const std::string& spool_folder)
    : processing_(processing), on_restart_(std::move(on_restart)), decoder_(processing, std::move(out)) {
  if (processing.zlib_level && !processing.encryption_key.empty()) spool_.emplace(spool_folder);
}

FileRecordDecoder::~FileRecordDecoder() = default;

void FileRecordDecoder::restart() {
  if (spool_) {
    spool_->truncate();
    return;
  }
  on_restart_();
  decoder_.restart();
}

void FileRecordDecoder::write(std::string_view bytes) {
  if (spool_) {
    spool_->append(bytes);
  } else {
    decoder_.feed(bytes);
  }
}

void FileRecordDecoder::finish() {
  if (!spool_) {
    decoder_.finish();
    return;
  }
  RecordReader authenticator(processing_, {}, RecordReader::Pass::authenticate);
  read_spool(*spool_, authenticator);
  read_spool(*spool_, decoder_);
}

}  // namespace cshelve::codec
