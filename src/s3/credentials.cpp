#include "s3/credentials.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

#include "s3/credential_profiles.hpp"
#include "s3/credential_sources.hpp"
#include "util/text.hpp"

extern char** environ;

namespace cshelve::s3 {

// --- The provider -------------------------------------------------------------------------

CredentialsProvider::CredentialsProvider(std::unique_ptr<CredentialSource> source, std::chrono::seconds refresh_ahead,
                                         Logger logger, LogLevel log_level)
    : source_(std::move(source)), refresh_ahead_(refresh_ahead), logger_(std::move(logger)), log_level_(log_level) {}

std::string CredentialsProvider::source_name() const { return source_->name(); }

bool CredentialsProvider::usable(std::time_t now, std::chrono::seconds margin) const {
  if (!credentials_ || stale_) return false;
  return !expiration_ || now + static_cast<std::time_t>(margin.count()) < *expiration_;
}

std::shared_ptr<const Credentials> CredentialsProvider::current() {
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (usable(std::time(nullptr), refresh_ahead_)) return credentials_;
  }
  // Due for a refresh. When another thread is fetching and ours are still valid, sign with them.
  std::unique_lock<std::mutex> fetching(fetch_mutex_, std::try_to_lock);
  if (!fetching.owns_lock()) {
    {
      std::lock_guard<std::mutex> lock(state_mutex_);
      if (usable(std::time(nullptr), std::chrono::seconds(0))) return credentials_;
    }
    fetching.lock();
  }
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (usable(std::time(nullptr), refresh_ahead_)) return credentials_;  // fetched meanwhile
  }
  TemporaryCredentials fresh;
  try {
    fresh = source_->fetch();
  } catch (const Error& error) {
    std::lock_guard<std::mutex> lock(state_mutex_);
    // A failed early refresh is not fatal while the old credentials last.
    if (usable(std::time(nullptr), std::chrono::seconds(0))) {
      if (logger_ && LogLevel::warning >= log_level_) {
        logger_(LogLevel::warning,
                util::concat(
                    {"refreshing credentials failed; the current ones are used until they expire: ", error.what()}));
      }
      return credentials_;
    }
    throw;
  }
  auto credentials = std::make_shared<const Credentials>(std::move(fresh.credentials));
  if (logger_ && LogLevel::debug >= log_level_) {
    logger_(LogLevel::debug,
            util::concat({"credentials from ", source_->name(), fresh.expiration ? ", valid until " : ", not expiring",
                          fresh.expiration ? amz_date(*fresh.expiration) : std::string()}));
  }
  std::lock_guard<std::mutex> lock(state_mutex_);
  credentials_ = credentials;
  expiration_ = fresh.expiration;
  stale_ = false;
  return credentials;
}

void CredentialsProvider::expired(const std::shared_ptr<const Credentials>& used) {
  std::lock_guard<std::mutex> lock(state_mutex_);
  if (used == credentials_) stale_ = true;
}

namespace sources {

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

std::string read_token_file(const std::string& path, const std::string& what) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw AuthArgumentError(util::concat({what, ": cannot read token file '", path, "'"}));
  std::string text(16 * 1024 + 1, '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(file.gcount()));
  if (text.size() > 16 * 1024) {
    throw AuthArgumentError(util::concat({what, ": token file '", path, "' is larger than 16 KiB"}));
  }
  const auto end = text.find_first_of("\r\n");
  if (end != std::string::npos) text.resize(end);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.pop_back();
  if (text.empty()) throw AuthArgumentError(util::concat({what, ": token file '", path, "' is empty"}));
  return text;
}

HttpOutcome send_once(const HttpRequest& request, const HttpSettings& settings) {
  // Credential replies are small: a 2xx body past 64 KiB ends the transfer rather than filling
  // memory with whatever an endpoint sends.
  struct BoundedBody final : util::ByteSink {
    explicit BoundedBody(const std::string& url) : url_(url) {}
    void restart() override { text.clear(); }
    void write(std::string_view bytes) override {
      if (text.size() + bytes.size() > kMaxJsonSize) {
        const std::string rest = url_.substr(url_.find("://") + 3);
        throw CredentialsError(util::concat(
            {rest.substr(0, rest.find('/')), " sent a reply of more than ", std::to_string(kMaxJsonSize), " bytes"}));
      }
      text.append(bytes);
    }
    std::string text;

   private:
    const std::string& url_;
  } body(request.url);
  HttpRequest bounded = request;
  bounded.sink = &body;
  HttpConnection connection(settings);
  HttpOutcome outcome = connection.perform(bounded);
  if (!outcome.failure && outcome.response.status >= 200 && outcome.response.status < 300) {
    outcome.response.body = std::move(body.text);
  }
  return outcome;
}

std::string describe_outcome(const HttpOutcome& outcome) {
  if (outcome.failure) {
    return (outcome.failure->timed_out ? "timed out: " : "network error: ") + outcome.failure->message;
  }
  return "HTTP " + std::to_string(outcome.response.status);
}

}  // namespace sources

// --- Small readers ------------------------------------------------------------------------

namespace detail {

std::optional<std::time_t> parse_iso8601(const std::string& text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  int used = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second, &used) !=
          6 ||
      used != 19) {
    return std::nullopt;
  }
  std::string rest = text.substr(19);
  if (!rest.empty() && rest.front() == '.') {
    std::size_t digits = 1;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    if (digits == 1) return std::nullopt;
    rest = rest.substr(digits);
  }
  if (rest != "Z" && rest != "+00:00") return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  // Days from the civil date (Howard Hinnant's algorithm): no timegm, no time zone.
  const int y = year - (month <= 2 ? 1 : 0);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const long long days = static_cast<long long>(era) * 146097 + doe - 719468;
  const long long seconds = days * 86400 + hour * 3600 + minute * 60 + second;
  // A 32-bit time_t ends in 2038: later expirations are as good as never for now.
  if (seconds > static_cast<long long>(std::numeric_limits<std::time_t>::max())) {
    return std::numeric_limits<std::time_t>::max();
  }
  return static_cast<std::time_t>(seconds);
}

util::JsonValue parse_reply_json(std::string_view text) {
  util::JsonLimits limits;
  limits.max_size = kMaxJsonSize;
  limits.max_depth = 32;
  limits.object_only = true;
  return util::parse_json(text, limits);
}

TemporaryCredentials credentials_from_json(const std::string& json, const std::string& what, const char* token_member) {
  util::JsonValue object;
  try {
    object = parse_reply_json(json);
  } catch (const util::JsonError& error) {
    throw CredentialsError(util::concat({what, " gave ", error.what()}));
  }
  const auto text = [&](const char* name, bool required) -> std::string {
    const util::JsonValue* member = object.find(name);
    if (member == nullptr || member->is_null()) {
      if (required) throw CredentialsError(util::concat({what, " gave JSON without '", name, "'"}));
      return {};
    }
    if (!member->is(util::JsonValue::Kind::string)) {
      throw CredentialsError(util::concat({what, " gave JSON whose '", name, "' is not a string"}));
    }
    if (required && member->as_string().empty()) {
      throw CredentialsError(util::concat({what, " gave JSON whose '", name, "' is empty"}));
    }
    return member->as_string();
  };
  TemporaryCredentials result;
  result.credentials.access_key_id = text("AccessKeyId", true);
  result.credentials.secret_access_key = text("SecretAccessKey", true);
  result.credentials.session_token = text(token_member, false);
  const std::string expiration = text("Expiration", false);
  if (!expiration.empty()) {
    result.expiration = parse_iso8601(expiration);
    if (!result.expiration) {
      throw CredentialsError(what + " gave an Expiration that is not an ISO 8601 UTC time");
    }
  }
  return result;
}

}  // namespace detail

namespace {

using sources::env;
using sources::get;
using sources::profile_name;
using sources::profile_source;
using sources::SharedFiles;

// An auth_type that needs two variables and lacks one or both of them.
[[noreturn]] void missing_variables(const char* auth_type, const char* first, bool has_first, const char* second,
                                    bool has_second) {
  const bool both = !has_first && !has_second;
  const char* const unset = both ? "both are" : !has_first ? first : second;
  throw AuthArgumentError(util::concat({"auth_type ", auth_type, " needs ", first, " and ", second, " (", unset,
                                        both ? "" : " is", " unset or empty)"}));
}

// --- environment ----------------------------------------------------------------------------

class EnvironmentSource final : public CredentialSource {
 public:
  std::string name() const override { return "environment"; }
  TemporaryCredentials fetch() override {
    const auto id = env("AWS_ACCESS_KEY_ID");
    const auto secret = env("AWS_SECRET_ACCESS_KEY");
    if (!id || !secret) {
      missing_variables("environment", "AWS_ACCESS_KEY_ID", id.has_value(), "AWS_SECRET_ACCESS_KEY",
                        secret.has_value());
    }
    TemporaryCredentials result;
    result.credentials = {*id, *secret, env("AWS_SESSION_TOKEN").value_or("")};
    return result;
  }
};

class StaticSource final : public CredentialSource {
 public:
  StaticSource(Credentials credentials, std::string name)
      : credentials_(std::move(credentials)), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  TemporaryCredentials fetch() override { return TemporaryCredentials{credentials_, std::nullopt}; }

 private:
  Credentials credentials_;
  std::string name_;
};

// --- credential_process -----------------------------------------------------------------------

constexpr int kProcessTimeoutMs = 60000;

class ProcessSource final : public CredentialSource {
 public:
  ProcessSource(std::string command, std::string name) : command_(std::move(command)), name_(std::move(name)) {}
  std::string name() const override { return name_; }

  TemporaryCredentials fetch() override {
    const std::string what = "credential_process of " + name_;
    const std::string output = run(what);
    const auto object = [&] {
      try {
        return detail::parse_reply_json(output);
      } catch (const util::JsonError& error) {
        throw CredentialsError(util::concat({what, " printed ", error.what()}));
      }
    }();
    const util::JsonValue* version = object.find("Version");
    if (version == nullptr || !version->is(util::JsonValue::Kind::number) || version->number_text() != "1") {
      throw CredentialsError(what + " printed JSON without \"Version\": 1");
    }
    return detail::credentials_from_json(output, what, "SessionToken");
  }

 private:
  // Runs the command with /bin/sh, as the AWS CLI's documentation writes it, and returns what it
  // printed; stderr goes where ours goes. Bounded in time and size.
  std::string run(const std::string& what) const {
    int pipe_ends[2];
    if (::pipe(pipe_ends) != 0) throw CredentialsError(what + ": cannot create a pipe");
    const pid_t child = ::fork();
    if (child < 0) {
      ::close(pipe_ends[0]);
      ::close(pipe_ends[1]);
      throw CredentialsError(what + ": cannot start a process");
    }
    if (child == 0) {
      ::dup2(pipe_ends[1], 1);
      ::close(pipe_ends[0]);
      ::close(pipe_ends[1]);
      const char* argv[] = {"/bin/sh", "-c", command_.c_str(), nullptr};
      ::execve("/bin/sh", const_cast<char* const*>(argv), environ);
      ::_exit(127);
    }
    ::close(pipe_ends[1]);
    std::string output;
    bool too_long = false;
    bool timed_out = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kProcessTimeoutMs);
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      pollfd wanted{pipe_ends[0], POLLIN, 0};
      const int ready = ::poll(&wanted, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;
      char buffer[4096];
      const ssize_t got = ::read(pipe_ends[0], buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) break;
      output.append(buffer, static_cast<std::size_t>(got));
      if (output.size() > kMaxJsonSize) {
        too_long = true;
        break;
      }
    }
    ::close(pipe_ends[0]);
    if (timed_out || too_long) ::kill(child, SIGKILL);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) {
      throw CredentialsError(
          util::concat({what, " did not finish within ", std::to_string(kProcessTimeoutMs / 1000), " s"}));
    }
    if (too_long) {
      throw CredentialsError(util::concat({what, " printed more than ", std::to_string(kMaxJsonSize), " bytes"}));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      const bool exited = WIFEXITED(status);
      throw CredentialsError(util::concat({what, exited ? " exited with status " : " was killed by a signal",
                                           exited ? std::to_string(WEXITSTATUS(status)) : std::string()}));
    }
    return output;
  }

  std::string command_;
  std::string name_;
};

// --- web_identity from the environment ------------------------------------------------------

std::unique_ptr<CredentialSource> environment_web_identity(const CredentialsSettings& settings) {
  const auto role_arn = env("AWS_ROLE_ARN");
  const auto token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
  if (!role_arn || !token_file) {
    missing_variables("web_identity", "AWS_ROLE_ARN", role_arn.has_value(), "AWS_WEB_IDENTITY_TOKEN_FILE",
                      token_file.has_value());
  }
  sources::RoleRequest role{*role_arn, env("AWS_ROLE_SESSION_NAME").value_or(""), "", ""};
  return sources::web_identity(std::move(role), *token_file, sources::sts_settings(settings), "web identity");
}

// --- default: the chain ---------------------------------------------------------------------

class ChainSource final : public CredentialSource {
 public:
  explicit ChainSource(CredentialsSettings settings) : settings_(std::move(settings)) {}
  std::string name() const override { return chosen_ ? chosen_->name() : "the default chain"; }

  TemporaryCredentials fetch() override {
    // The first source that gives credentials serves the refreshes too.
    if (chosen_) return chosen_->fetch();
    std::string reasons;
    for (const char* which : {"environment", "web identity", "shared profile", "container", "instance metadata"}) {
      try {
        std::unique_ptr<CredentialSource> source = make(which);
        TemporaryCredentials credentials = source->fetch();
        if (settings_.logger && LogLevel::debug >= settings_.log_level) {
          settings_.logger(LogLevel::debug,
                           util::concat({"default credential chain: using ", which, " (", source->name(), ")"}));
        }
        chosen_ = std::move(source);
        return credentials;
      } catch (const Error& error) {
        reasons += util::concat({"; ", which, ": ", error.what()});
      }
    }
    throw AuthArgumentError("auth_type default found no credentials" + reasons);
  }

 private:
  std::unique_ptr<CredentialSource> make(const std::string& which) const {
    if (which == "environment") return std::make_unique<EnvironmentSource>();
    if (which == "web identity") return environment_web_identity(settings_);
    if (which == "shared profile") {
      SharedFiles files;
      std::set<std::string> visited;
      return profile_source(files, profile_name(settings_), settings_, visited);
    }
    if (which == "container") return sources::container(settings_);
    return sources::instance(settings_);
  }

  CredentialsSettings settings_;
  std::unique_ptr<CredentialSource> chosen_;
};

}  // namespace

namespace sources {

std::unique_ptr<CredentialSource> environment() { return std::make_unique<EnvironmentSource>(); }
std::unique_ptr<CredentialSource> fixed(Credentials credentials, std::string name) {
  return std::make_unique<StaticSource>(std::move(credentials), std::move(name));
}
std::unique_ptr<CredentialSource> process(std::string command, std::string name) {
  return std::make_unique<ProcessSource>(std::move(command), std::move(name));
}

StsSettings sts_settings(const CredentialsSettings& settings) {
  StsSettings sts;
  sts.region = settings.region.empty() ? "us-east-1" : settings.region;
  if (!settings.sts_endpoint.empty()) {
    sts.endpoint = settings.sts_endpoint;
  } else if (auto from_env = env("AWS_ENDPOINT_URL_STS")) {
    sts.endpoint = *from_env;
  } else {
    const bool china = sts.region.rfind("cn-", 0) == 0;
    sts.endpoint = util::concat({"https://sts.", sts.region, china ? ".amazonaws.com.cn" : ".amazonaws.com"});
  }
  sts.verify_tls = settings.verify_tls;
  sts.ca_bundle = settings.ca_bundle;
  return sts;
}

}  // namespace sources

bool is_credentials_auth_type(const std::string& auth_type) {
  return auth_type == "environment" || auth_type == "profile" || auth_type == "web_identity" ||
         auth_type == "container" || auth_type == "instance" || auth_type == "default";
}

CredentialsSetup make_credentials(const CredentialsSettings& settings) {
  CredentialsSetup setup;
  std::unique_ptr<CredentialSource> source;
  const std::string& type = settings.auth_type;
  if (type == "environment") {
    source = std::make_unique<EnvironmentSource>();
  } else if (type == "profile") {
    SharedFiles files;
    const std::string name = profile_name(settings);
    if (!files.credentials_exists && !files.config_exists) {
      throw AuthArgumentError(util::concat({"auth_type profile: neither ", files.where(), " exists"}));
    }
    std::set<std::string> visited;
    source = profile_source(files, name, settings, visited);
    if (settings.region.empty()) {
      if (const auto section = files.profile(name)) setup.region = get(*section, "region");
    }
  } else if (type == "web_identity") {
    source = environment_web_identity(settings);
  } else if (type == "container") {
    source = sources::container(settings);
  } else if (type == "instance") {
    source = sources::instance(settings);
  } else if (type == "default") {
    if (settings.region.empty()) {
      SharedFiles files;
      if (const auto section = files.profile(profile_name(settings))) setup.region = get(*section, "region");
    }
    source = std::make_unique<ChainSource>(settings);
  } else {
    throw AuthTypeError(
        util::concat({settings.origin, ": auth_type '", type,
                      "' is not one of access_key, environment, profile, web_identity, container, instance, default"}));
  }
  setup.provider =
      std::make_shared<CredentialsProvider>(std::move(source), kRefreshAhead, settings.logger, settings.log_level);
  return setup;
}

}  // namespace cshelve::s3