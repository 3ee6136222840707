#include <algorithm>
#include <utility>

#include "s3/http.hpp"

namespace cshelve::s3 {

HttpConnectionPool::HttpConnectionPool(HttpSettings settings, int max_connections)
    : settings_(std::move(settings)), max_connections_(static_cast<std::size_t>(std::max(1, max_connections))) {
  // give_back() must not allocate: it runs in destructors.
  idle_.reserve(max_connections_);
}

HttpConnectionPool::Lease::Lease(HttpConnectionPool& pool, std::unique_ptr<HttpConnection> connection)
    : pool_(pool), connection_(std::move(connection)) {}

HttpConnectionPool::Lease::~Lease() { pool_.give_back(std::move(connection_)); }

HttpConnectionPool::Lease HttpConnectionPool::acquire() {
  std::unique_lock<std::mutex> lock(mutex_);
  returned_.wait(lock, [this] { return !idle_.empty() || created_ < max_connections_; });
  if (!idle_.empty()) {
    std::unique_ptr<HttpConnection> connection = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(connection));
  }
  ++created_;
  lock.unlock();
  try {
    return Lease(*this, std::make_unique<HttpConnection>(settings_));
  } catch (...) {
    lock.lock();
    --created_;
    returned_.notify_one();
    throw;
  }
}

void HttpConnectionPool::give_back(std::unique_ptr<HttpConnection> connection) noexcept {
  if (!connection) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(connection));  // within the capacity reserved up front
  }
  returned_.notify_one();
}

}  // namespace cshelve::s3
