// cshelve: which names the library exports. The library is built with hidden visibility, so only
// what is marked CSHELVE_API here is visible from outside a shared build: the public API, and the
// type information of the classes it throws (so that exceptions are caught by type across the
// library boundary). Everything else stays internal, which lets the linker inline or drop it.
#ifndef CSHELVE_EXPORT_HPP
#define CSHELVE_EXPORT_HPP

#if defined(__GNUC__) || defined(__clang__)
#define CSHELVE_API __attribute__((visibility("default")))
#else
#define CSHELVE_API
#endif

#endif
