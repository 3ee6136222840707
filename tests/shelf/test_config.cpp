#include "config/ini.hpp"
#include "config/settings.hpp"
#include "config/values.hpp"

#include <cshelve/errors.hpp>

#include <doctest/doctest.h>

#include "../support/test_support.hpp"

using cshelve::ConfigurationError;
using cshelve::config::parse_ini;
using cshelve_test::ScopedEnv;

namespace {

std::string message_of(const std::string& text) {
  try {
    parse_ini(text, "conf.ini");
  } catch (const ConfigurationError& error) {
    return error.what();
  }
  FAIL("no ConfigurationError");
  return {};
}

}  // namespace

TEST_CASE("ini: sections, options, comments and whitespace") {
  const auto ini = parse_ini(
      "# a comment\n"
      "; another\n"
      "[default]\n"
      "  provider   =   aws-s3  \n"
      "Bucket_Name: my-bucket\n"
      "\n"
      "[provider_params]\n"
      "endpoint_url = \"http://localhost:9000\"\n"
      "single = 'quoted value'\n"
      "mismatched = \"left only\n"
      "empty =\n",
      "conf.ini");
  const auto* defaults = ini.find("default");
  REQUIRE(defaults != nullptr);
  CHECK(defaults->at("provider") == "aws-s3");
  CHECK(defaults->at("bucket_name") == "my-bucket");  // option names are lower-cased
  const auto* params = ini.find("provider_params");
  REQUIRE(params != nullptr);
  CHECK(params->at("endpoint_url") == "http://localhost:9000");
  CHECK(params->at("single") == "quoted value");
  CHECK(params->at("mismatched") == "\"left only");
  CHECK(params->at("empty").empty());
  CHECK(ini.find("compression") == nullptr);
}

TEST_CASE("ini: section names are case-sensitive, as in Python") {
  const auto ini = parse_ini("[Compression]\nalgorithm = zlib\n", "conf.ini");
  CHECK(ini.find("compression") == nullptr);
  CHECK(ini.find("Compression") != nullptr);
}

TEST_CASE("ini: CRLF line ends, a byte-order mark and continuation lines") {
  const auto ini = parse_ini("\xEF\xBB\xBF[default]\r\nprovider = in-memory\r\nnote = first\r\n  second\r\n", "c.ini");
  CHECK(ini.find("default")->at("provider") == "in-memory");
  CHECK(ini.find("default")->at("note") == "first\nsecond");
}

TEST_CASE("ini: percent interpolation follows configparser") {
  const auto ini = parse_ini("[s]\nbase = /data\npath = %(base)s/shelf\nratio = 100%%\n", "c.ini");
  CHECK(ini.find("s")->at("path") == "/data/shelf");
  CHECK(ini.find("s")->at("ratio") == "100%");
  CHECK(message_of("[s]\nratio = 100%\n").find("conf.ini:2") != std::string::npos);
  CHECK(message_of("[s]\na = %(missing)s\n").find("missing") != std::string::npos);
  CHECK(message_of("[s]\na = %(a)s\n").find("itself") != std::string::npos);
}

TEST_CASE("ini: %(...)s references that fan out are expanded once, and bounded") {
  // Found by tests/fuzz/ini_fuzz.cpp: each option referring eight times to the one before took
  // time and memory exponential in the depth (8^10 copies), from a file of a few hundred bytes.
  std::string fan_out = "[s]\nx0 =\n";
  for (int i = 1; i <= 10; ++i) {
    fan_out += "x" + std::to_string(i) + " = ";
    for (int j = 0; j < 40; ++j) fan_out += "%(x" + std::to_string(i - 1) + ")s";
    fan_out += "\n";
  }
  CHECK(parse_ini(fan_out, "c.ini").find("s")->at("x10").empty());

  std::string growing = "[s]\nx0 = ten bytes!\n";
  for (int i = 1; i <= 10; ++i) {
    growing += "x" + std::to_string(i) + " = ";
    for (int j = 0; j < 8; ++j) growing += "%(x" + std::to_string(i - 1) + ")s";
    growing += "\n";
  }
  const std::string message = message_of(growing);
  CHECK(message.find("conf.ini:8") != std::string::npos);  // x6, the first option past 1 MiB
  CHECK(message.find("longer than 1 MiB") != std::string::npos);
}

TEST_CASE("ini: $VAR values come from the environment") {
  ScopedEnv id("CSHELVE_TEST_KEY_ID", "AKIDEXAMPLE");
  ScopedEnv empty("CSHELVE_TEST_EMPTY", "");
  const auto ini = parse_ini(
      "[default]\nprovider = $NOT_EXPANDED\nkey_id = $CSHELVE_TEST_KEY_ID\n"
      "quoted = \"$CSHELVE_TEST_KEY_ID\"\nblank = $CSHELVE_TEST_EMPTY\nmiddle = a$CSHELVE_TEST_KEY_ID\n",
      "c.ini");
  const auto& defaults = *ini.find("default");
  CHECK(defaults.at("provider") == "$NOT_EXPANDED");  // read as written, as Python does
  CHECK(defaults.at("key_id") == "AKIDEXAMPLE");
  CHECK(defaults.at("quoted") == "AKIDEXAMPLE");
  CHECK(defaults.at("blank").empty());
  CHECK(defaults.at("middle") == "a$CSHELVE_TEST_KEY_ID");  // only a leading $ substitutes
}

TEST_CASE("ini: a missing variable is an error naming the variable, file and line") {
  ::unsetenv("CSHELVE_TEST_SURELY_UNSET");
  const std::string message = message_of("[default]\nprovider = aws-s3\nkey_secret = $CSHELVE_TEST_SURELY_UNSET\n");
  CHECK(message.find("CSHELVE_TEST_SURELY_UNSET") != std::string::npos);
  CHECK(message.find("conf.ini:3") != std::string::npos);
  CHECK(message.find("key_secret") != std::string::npos);
}

TEST_CASE("ini: malformed input names the file and line, never the line's text") {
  CHECK(message_of("[default]\nprovider = x\nthis line has no delimiter s3cr3t\n").find("conf.ini:3") !=
        std::string::npos);
  CHECK(message_of("[default]\nthis line has no delimiter s3cr3t\n").find("s3cr3t") == std::string::npos);
  CHECK(message_of("provider = x\n").find("conf.ini:1") != std::string::npos);
  CHECK(message_of("[default\n").find("conf.ini:1") != std::string::npos);
  CHECK(message_of("[]\n").find("conf.ini:1") != std::string::npos);
  CHECK(message_of("[a]\nx = 1\nX = 2\n").find("conf.ini:3") != std::string::npos);
  CHECK(message_of("[a]\n[a]\n").find("conf.ini:2") != std::string::npos);
  CHECK(message_of("[a]\n= value\n").find("conf.ini:2") != std::string::npos);
}

TEST_CASE("ini: a missing file is a ConfigurationError naming it") {
  try {
    cshelve::config::read_ini("/nonexistent/folder/config.ini");
    FAIL("no error");
  } catch (const ConfigurationError& error) {
    CHECK(std::string(error.what()).find("/nonexistent/folder/config.ini") != std::string::npos);
  }
}

TEST_CASE("ini: provider_params from the INI win over those from code") {
  const auto ini = parse_ini("[provider_params]\nendpoint_url = http://ini\nregion_name = eu-west-3\n", "c.ini");
  cshelve::ProviderParams from_code{{"endpoint_url", "http://code"}, {"max_attempts", "5"}};
  const auto merged = cshelve::config::merge_provider_params(from_code, ini.find("provider_params"));
  CHECK(merged.at("endpoint_url") == "http://ini");
  CHECK(merged.at("region_name") == "eu-west-3");
  CHECK(merged.at("max_attempts") == "5");
  CHECK(cshelve::config::merge_provider_params(from_code, nullptr) == from_code);
}

TEST_CASE("ini: booleans") {
  using cshelve::config::parse_bool;
  CHECK(parse_bool("true", "x"));
  CHECK(parse_bool(" YES ", "x"));
  CHECK(parse_bool("1", "x"));
  CHECK_FALSE(parse_bool("off", "x"));
  CHECK_FALSE(parse_bool("False", "x"));
  CHECK_THROWS_AS(parse_bool("maybe", "x"), ConfigurationError);
}
