// Reading S3's XML replies and writing its request bodies.
#include <doctest/doctest.h>

#include <cshelve/errors.hpp>

#include <pugixml.hpp>

#include <string>
#include <vector>

#include "s3/xml.hpp"

using namespace cshelve;
using namespace cshelve::s3;

namespace {

const std::string kListPage =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>shelf</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
    "<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
    "<Contents><Key>a+b%2Bc</Key><Size>3</Size></Contents>"
    "<Contents><Key>%E2%82%AC/%0D%0A%26</Key><Size>0</Size></Contents>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
    "</ListBucketResult>\n";

// The keys of a Delete request body, as an XML parser reads them back.
std::vector<std::string> keys_in_delete_request(const std::string& body) {
  pugi::xml_document document;
  REQUIRE(document.load_buffer(body.data(), body.size()));
  std::vector<std::string> keys;
  for (pugi::xml_node object : document.child("Delete").children("Object")) {
    keys.emplace_back(object.child("Key").text().get());
  }
  return keys;
}

}  // namespace

TEST_CASE("a ListObjectsV2 page is read, url-encoded keys decoded") {
  ListResult page = parse_list_objects_v2(kListPage);
  CHECK(page.keys == std::vector<std::string>{"a b+c", "\xE2\x82\xAC/\r\n&"});
  CHECK(page.is_truncated);
  CHECK(page.next_continuation_token == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  CHECK(page.key_count == 2);
}

TEST_CASE("keys are taken as they are when the server did not encode them") {
  // A server that ignores encoding-type=url says so by leaving <EncodingType> out.
  ListResult page = parse_list_objects_v2(
      "<ListBucketResult><IsTruncated>false</IsTruncated>"
      "<Contents><Key>a+b%2B &amp; &lt;c&gt;</Key></Contents></ListBucketResult>");
  CHECK(page.keys == std::vector<std::string>{"a+b%2B & <c>"});
  CHECK_FALSE(page.is_truncated);
  CHECK(page.next_continuation_token.empty());
  CHECK(page.key_count == 1);  // no <KeyCount>: the keys counted
}

TEST_CASE("a key or message of whitespace alone is read as it is") {
  // Found by tests/fuzz/xml_fuzz.cpp: pugixml drops whitespace-only text unless asked to keep it.
  ListResult page = parse_list_objects_v2(
      "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key> </Key></Contents>"
      "<Contents><Key>\t \n</Key></Contents></ListBucketResult>");
  CHECK(page.keys == std::vector<std::string>{" ", "\t \n"});
  auto reply = parse_error("<Error><Code>X</Code><Message>  </Message></Error>");
  REQUIRE(reply);
  CHECK(reply->message == "  ");
  // Indentation between elements changes nothing.
  ListResult indented = parse_list_objects_v2(
      "<ListBucketResult>\n  <IsTruncated>false</IsTruncated>\n  <Contents>\n    <Key>k</Key>\n"
      "  </Contents>\n</ListBucketResult>\n");
  CHECK(indented.keys == std::vector<std::string>{"k"});
  CHECK_FALSE(indented.is_truncated);
}

TEST_CASE("elements are matched by local name, whatever the namespace or prefix") {
  ListResult wrong_namespace = parse_list_objects_v2(
      "<ListBucketResult xmlns=\"http://doc.s3.amazonaws.com/2006-03-01/\">"
      "<KeyCount>1</KeyCount><IsTruncated>false</IsTruncated>"
      "<Contents><Key>k/00001</Key></Contents></ListBucketResult>");
  CHECK(wrong_namespace.keys == std::vector<std::string>{"k/00001"});

  ListResult prefixed = parse_list_objects_v2(
      "<s3:ListBucketResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<s3:IsTruncated>true</s3:IsTruncated><s3:NextContinuationToken>t</s3:NextContinuationToken>"
      "<s3:Contents><s3:Key>x</s3:Key></s3:Contents></s3:ListBucketResult>");
  CHECK(prefixed.keys == std::vector<std::string>{"x"});
  CHECK(prefixed.is_truncated);
  CHECK(prefixed.next_continuation_token == "t");
}

TEST_CASE("a key split into text and CDATA is read whole") {
  ListResult page = parse_list_objects_v2(
      "<ListBucketResult><IsTruncated>false</IsTruncated>"
      "<Contents><Key>ab<![CDATA[<c>]]>d</Key></Contents></ListBucketResult>");
  CHECK(page.keys == std::vector<std::string>{"ab<c>d"});
}

TEST_CASE("listings missing what the caller needs are malformed") {
  const char* broken[] = {
      // no IsTruncated
      "<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>",
      // truncated without a token: the caller could not go on
      "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
      "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken/></ListBucketResult>",
      "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
      "<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>-1</KeyCount></ListBucketResult>",
      "<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>1x</KeyCount></ListBucketResult>",
      "<ListBucketResult><IsTruncated>false</IsTruncated>"
      "<KeyCount>99999999999999999999999</KeyCount></ListBucketResult>",
      "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Size>1</Size></Contents>"
      "</ListBucketResult>",
      // a broken escape in an encoded key
      "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
      "<Contents><Key>a%2</Key></Contents></ListBucketResult>",
      "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
      "<Contents><Key>a%zz</Key></Contents></ListBucketResult>",
      // another document altogether
      "<Error><Code>InternalError</Code></Error>",
      "<html><body>Bad gateway</body></html>",
      "Bad gateway",
      "",
  };
  for (const char* body : broken) {
    CAPTURE(body);
    CHECK_THROWS_AS(parse_list_objects_v2(body), MalformedResponseError);
  }
}

TEST_CASE("every truncation of a listing is malformed, never a crash") {
  const std::size_t end_of_root = kListPage.rfind('>') + 1;
  for (std::size_t length = 0; length < end_of_root; ++length) {
    CAPTURE(length);
    CHECK_THROWS_AS(parse_list_objects_v2(std::string_view(kListPage).substr(0, length)), MalformedResponseError);
  }
  CHECK_NOTHROW(parse_list_objects_v2(std::string_view(kListPage).substr(0, end_of_root)));
}

TEST_CASE("hostile replies neither crash, expand entities nor read files") {
  SUBCASE("entity expansion") {
    std::string body = "<?xml version=\"1.0\"?><!DOCTYPE ListBucketResult [<!ENTITY a \"aaaaaaaaaa\">";
    for (int level = 1; level < 10; ++level) {
      std::string previous = "&e" + std::to_string(level - 1) + ";";
      if (level == 1) previous = "&a;";
      body += "<!ENTITY e" + std::to_string(level) + " \"";
      for (int i = 0; i < 10; ++i) body += previous;
      body += "\">";
    }
    body +=
        "]><ListBucketResult><IsTruncated>false</IsTruncated>"
        "<Contents><Key>&e9;</Key></Contents></ListBucketResult>";
    try {
      ListResult page = parse_list_objects_v2(body);
      REQUIRE(page.keys.size() == 1);
      CHECK(page.keys[0].size() < 100);  // left as written, not a gigabyte of 'a'
    } catch (const MalformedResponseError&) {
      // refusing the document is as good
    }
  }
  SUBCASE("external entity") {
    const std::string body =
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
        "<ListBucketResult><IsTruncated>false</IsTruncated>"
        "<Contents><Key>&x;</Key></Contents></ListBucketResult>";
    try {
      ListResult page = parse_list_objects_v2(body);
      REQUIRE(page.keys.size() == 1);
      CHECK(page.keys[0].find("root:") == std::string::npos);
    } catch (const MalformedResponseError&) {
    }
  }
  SUBCASE("deep nesting") {
    std::string body = "<ListBucketResult><IsTruncated>false</IsTruncated>";
    for (int i = 0; i < 200000; ++i) body += "<Contents>";
    for (int i = 0; i < 200000; ++i) body += "</Contents>";
    body += "</ListBucketResult>";
    // The outermost <Contents> has no <Key>.
    CHECK_THROWS_AS(parse_list_objects_v2(body), MalformedResponseError);
  }
  SUBCASE("a NUL byte inside the document") {
    std::string body = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a";
    body += std::string(1, '\0') + "b</Key></Contents></ListBucketResult>";
    CHECK_THROWS_AS(parse_list_objects_v2(body), MalformedResponseError);
  }
}

TEST_CASE("a DeleteObjects reply gives the keys that were not deleted") {
  std::vector<DeleteFailure> failures = parse_delete_result(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
      "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Deleted><Key>gone</Key></Deleted>"
      "<Error><Key>a &amp; b</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
      "<Error><Key>c</Key><Code>InternalError</Code><Message>Try again</Message></Error>"
      "</DeleteResult>");
  REQUIRE(failures.size() == 2);
  CHECK(failures[0].key == "a & b");
  CHECK(failures[0].code == "AccessDenied");
  CHECK(failures[0].message == "Access Denied");
  CHECK(failures[1].key == "c");
  CHECK(failures[1].code == "InternalError");

  CHECK(parse_delete_result("<DeleteResult/>").empty());
  CHECK_THROWS_AS(parse_delete_result("<DeleteResult><Error><Code>X</Code></Error></DeleteResult>"),
                  MalformedResponseError);
  CHECK_THROWS_AS(parse_delete_result("<ListBucketResult/>"), MalformedResponseError);
  CHECK_THROWS_AS(parse_delete_result("<DeleteResult><Error><Key>a</Key>"), MalformedResponseError);
}

TEST_CASE("an S3 Error document is read; anything else is not one") {
  auto reply = parse_error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
      "<Message>The specified key does not exist.</Message><Key>a/b</Key>"
      "<RequestId>4442587FB7D0A2F9</RequestId><Resource>/shelf/a/b</Resource></Error>");
  REQUIRE(reply);
  CHECK(reply->code == "NoSuchKey");
  CHECK(reply->message == "The specified key does not exist.");
  CHECK(reply->request_id == "4442587FB7D0A2F9");
  CHECK(reply->resource == "/shelf/a/b");

  auto namespaced = parse_error("<x:Error xmlns:x=\"urn:wrong\"><x:Code>SlowDown</x:Code></x:Error>");
  REQUIRE(namespaced);
  CHECK(namespaced->code == "SlowDown");
  CHECK(namespaced->message.empty());

  CHECK_FALSE(parse_error(""));
  CHECK_FALSE(parse_error("<html>502 Bad Gateway</html>"));
  CHECK_FALSE(parse_error("<Error><Code>Internal"));
  CHECK_FALSE(parse_error("Service Unavailable"));
}

TEST_CASE("XML escaping of keys") {
  CHECK(xml_escape("plain/key.txt") == "plain/key.txt");
  CHECK(xml_escape("a&b<c>d\"e'f") == "a&amp;b&lt;c&gt;d&quot;e&apos;f");
  CHECK(xml_escape("\r\n\t") == "&#xD;&#xA;&#x9;");
  CHECK(xml_escape(std::string("\x01\x1F", 2)) == "&#x1;&#x1F;");
  CHECK(xml_escape("\xE2\x82\xAC \x7F") == "\xE2\x82\xAC \x7F");
}

TEST_CASE("a Delete request body carries any key intact") {
  std::vector<std::string> keys = {"a b",   "+=&%~!'\"*()",      "a/./b", "a/../b",          "\xC3\xA9t\xC3\xA9",
                                   "<Key>", "line\r\nbreak\rcr", "\ttab", " lead and trail "};
  std::string every_byte;
  for (int c = 1; c < 128; ++c) every_byte += static_cast<char>(c);
  keys.push_back(every_byte);

  const std::string body = delete_request(keys, 0, keys.size(), true);
  CHECK(body.find("<Quiet>true</Quiet>") != std::string::npos);
  CHECK(keys_in_delete_request(body) == keys);
}

TEST_CASE("a Delete request body takes the requested range of keys") {
  std::vector<std::string> keys = {"k0", "k1", "k2", "k3", "k4"};
  CHECK(keys_in_delete_request(delete_request(keys, 1, 3, true)) == std::vector<std::string>{"k1", "k2", "k3"});
  CHECK(keys_in_delete_request(delete_request(keys, 3, 10, false)) == std::vector<std::string>{"k3", "k4"});
  CHECK(delete_request(keys, 0, 1, false).find("Quiet") == std::string::npos);
}

TEST_CASE("CreateBucketConfiguration names the region, except us-east-1") {
  CHECK(create_bucket_configuration("us-east-1").empty());
  CHECK(create_bucket_configuration("").empty());
  const std::string body = create_bucket_configuration("eu-west-3");
  pugi::xml_document document;
  REQUIRE(document.load_string(body.c_str()));
  CHECK(std::string(document.child("CreateBucketConfiguration").child("LocationConstraint").text().get()) ==
        "eu-west-3");
}

TEST_CASE("form url decoding") {
  CHECK(url_decode_form("a+b%20c%2B%2b") == "a b c++");
  CHECK(url_decode_form("%E2%82%AC%00x") == std::string("\xE2\x82\xAC\0x", 5));
  CHECK(url_decode_form("") == "");
  CHECK_THROWS_AS(url_decode_form("%"), MalformedResponseError);
  CHECK_THROWS_AS(url_decode_form("%4"), MalformedResponseError);
  CHECK_THROWS_AS(url_decode_form("%G0"), MalformedResponseError);
}
