// The local provider's folder tree below the shelf's own folder: temporary file names, and the
// tidying of what killed writers left behind.
#ifndef CSHELVE_PROVIDERS_LOCAL_TREE_HPP
#define CSHELVE_PROVIDERS_LOCAL_TREE_HPP

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace cshelve::providers::local_tree {

// A record is written to a file named this prefix and 16 random hexadecimal digits, then renamed.
constexpr std::string_view kTemporaryPrefix = ".tmp-";
// Ends the name of every piece folder (a character the key encoding never produces).
constexpr char kFolderMark = '+';
// A temporary file untouched for this long has no writer left: a live writer writes its file
// from start to end without pausing, so its time of last change stays recent.
constexpr std::chrono::seconds kStaleTemporaryAge = std::chrono::hours(1);

// Whether `name` is exactly one of the provider's temporary file names.
bool is_temporary_name(std::string_view name);

// Removes the provider's temporary files last changed more than `age` ago from the shelf's folder
// `root` and its piece folders (a writer killed before its rename leaves one behind), then the
// piece folders this leaves empty. Only regular files whose names are exactly temporary names go;
// no symbolic link is followed. Best effort: what cannot be read or removed stays. Returns how
// many files were removed.
std::size_t remove_stale_temporaries(const std::string& root, std::chrono::seconds age);

}  // namespace cshelve::providers::local_tree

#endif
