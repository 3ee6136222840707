// The XML of S3: reading its replies (ListBucketResult, DeleteResult, Error) and writing the
// request bodies (CreateBucketConfiguration, Delete).
//
// Elements are matched by their local name, whatever namespace or prefix a server puts on them,
// since S3-compatible servers do not agree on the namespace. Any reply that is not well-formed or
// lacks a field the operation needs throws MalformedResponseError.
#ifndef CSHELVE_S3_XML_HPP
#define CSHELVE_S3_XML_HPP

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "s3/types.hpp"

namespace cshelve::s3 {

// The fields of an S3 <Error> reply.
struct ErrorReply {
  std::string code;
  std::string message;
  std::string request_id;
  std::string resource;
};

// A ListObjectsV2 reply. Keys are decoded when the server says it url-encoded them
// (<EncodingType>url</EncodingType>), and taken as they are otherwise.
ListResult parse_list_objects_v2(std::string_view body);

// A DeleteObjects reply: the keys that could not be deleted (<Deleted> entries are ignored).
std::vector<DeleteFailure> parse_delete_result(std::string_view body);

// An <Error> document; nullopt when `body` is not one (empty, not XML, another root element).
std::optional<ErrorReply> parse_error(std::string_view body);

// The body of CreateBucket for a region; empty for us-east-1, which takes no LocationConstraint.
std::string create_bucket_configuration(std::string_view region);

// The body of DeleteObjects for keys[first, first + count).
std::string delete_request(const std::vector<std::string>& keys, std::size_t first, std::size_t count, bool quiet);

// Text for XML element content. Besides & < > " ', the characters XML would alter or refuse as
// they are (CR, LF, TAB and the other C0 controls) become character references, as S3 asks for
// object keys in XML requests.
std::string xml_escape(std::string_view text);

// Decodes %XX escapes, and '+' as a space (S3's encoding-type=url uses form encoding).
// Throws MalformedResponseError on a broken escape.
std::string url_decode_form(std::string_view encoded);

}  // namespace cshelve::s3

#endif
