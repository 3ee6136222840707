// Listing a shelf's keys, a page at a time. With writeback, the listing is the storage's seen
// through the cache: pending deletes are left out and pending writes of keys the storage does not
// list yet come at the end, so size() and iteration see pending changes without writing them.
#include "shelf/shelf_impl.hpp"

#include <cshelve/errors.hpp>

#include <set>

namespace cshelve {

struct Shelf::KeyIterator::Cursor {
  std::weak_ptr<providers::Provider> provider;
  providers::KeyPage page;
  std::size_t index = 0;
  // The cache's pending changes when the iteration began.
  std::set<std::string, std::less<>> pending_deletes;
  std::set<std::string, std::less<>> unlisted_writes;  // pending writes the storage has not listed yet
  bool storage_done = false;

  // Moves to the next key to show, fetching pages as needed; false at the end.
  bool settle() {
    for (;;) {
      if (!storage_done) {
        while (index < page.keys.size()) {
          const std::string& key = page.keys[index];
          if (pending_deletes.count(key) != 0) {
            ++index;
            continue;
          }
          if (const auto it = unlisted_writes.find(key); it != unlisted_writes.end()) unlisted_writes.erase(it);
          return true;
        }
        if (!page.next.empty()) {
          const std::shared_ptr<providers::Provider> live = provider.lock();
          if (!live) throw ClosedShelfError("the shelf was closed while its keys were being iterated");
          page = live->list(page.next);
          index = 0;
          continue;
        }
        // The storage is done: the pending writes it did not list follow, as one last page.
        storage_done = true;
        page.keys.clear();
        page.next.clear();
        // A loop rather than assign(begin, end): that would instantiate a range copy for the set's
        // iterators, about a kilobyte of the size-optimized library.
        for (const std::string& key : unlisted_writes) page.keys.push_back(key);
        index = 0;
        unlisted_writes.clear();
      }
      return index < page.keys.size();
    }
  }
};

Shelf::KeyIterator Shelf::begin() const {
  Impl& impl = live();
  auto cursor = std::make_shared<KeyIterator::Cursor>();
  cursor->provider = impl.provider;
  if (impl.cache) {
    for (const auto& [key, entry] : impl.cache->entries()) {
      if (!entry.dirty) continue;
      (entry.value ? cursor->unlisted_writes : cursor->pending_deletes).insert(key);
    }
  }
  cursor->page = impl.provider->list({});
  if (!cursor->settle()) return end();
  return KeyIterator(std::move(cursor));
}

Shelf::KeyIterator Shelf::end() const { return KeyIterator(); }

const std::string& Shelf::KeyIterator::operator*() const { return cursor_->page.keys[cursor_->index]; }

Shelf::KeyIterator& Shelf::KeyIterator::operator++() {
  ++cursor_->index;
  if (!cursor_->settle()) cursor_.reset();
  return *this;
}

std::size_t Shelf::size() const {
  Impl& impl = live();
  if (!impl.cache || impl.cache->pending() == 0) return impl.provider->count();
  std::size_t count = 0;
  for (auto it = begin(); it != end(); ++it) ++count;
  return count;
}

}  // namespace cshelve
