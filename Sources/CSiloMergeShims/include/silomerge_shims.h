#ifndef SILOMERGE_SHIMS_H
#define SILOMERGE_SHIMS_H

// The few system calls Swift cannot reach through Glibc/Darwin: Linux's renameat2 with
// RENAME_NOREPLACE (old C libraries do not export it, and Swift cannot call the variadic
// syscall), the FICLONE and FIDEDUPERANGE ioctls (their request numbers are macros Swift
// does not import), copy_file_range and fstatfs (<sys/vfs.h> is not in Swift's Glibc module).
// Every function returns -1 with errno set when it fails, ENOTSUP (or ENOSYS from an old
// kernel) where the platform cannot do it, so callers fall back the same way everywhere.

#include <stddef.h>
#include <stdint.h>

/// The first occurrence of `needle` in `haystack` (memmem: libc's vectorised two-way search,
/// which Swift's Glibc module hides behind _GNU_SOURCE), or NULL.
const void *silomerge_memmem(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len);

/// `value` printed as printf's "%.*f" with `digits` decimals into `buffer` (snprintf: the
/// characters it would have written, as printf counts them). Swift's CVarArg path builds a
/// va_list object per call, which cost a GPS value more than reading its EXIF.
int silomerge_format_fixed(char *buffer, size_t size, int digits, double value);

/// Renames `from` (relative to `fromdir`) to `to` (relative to `todir`), never replacing an
/// existing `to` (EEXIST). File systems and kernels that cannot say EINVAL, ENOSYS or ENOTSUP.
int silomerge_rename_noreplace(int fromdir, const char *from, int todir, const char *to);

/// Makes `dest_fd` share all of `src_fd`'s blocks (FICLONE). EOPNOTSUPP, EXDEV, EINVAL… when
/// the file system cannot; ENOTSUP off Linux.
int silomerge_clone(int src_fd, int dest_fd);

/// Asks the kernel to share `length` bytes of `src_fd` at `src_offset` with `dest_fd` at
/// `dest_offset` when they are identical (FIDEDUPERANGE, one destination). Returns the bytes
/// deduplicated (>= 0; `*differs` is 1 when the ranges hold different bytes, and nothing was
/// shared), or -1 with errno.
int64_t silomerge_dedupe_range(int src_fd, int64_t src_offset, int64_t length, int dest_fd, int64_t dest_offset,
                               int *differs);

/// Copies up to `length` bytes from `in_fd` at `*in_offset` to `out_fd` at `*out_offset` in the
/// kernel (copy_file_range), advancing both offsets. Returns the bytes copied (0 at the end of
/// the input), or -1 with errno (ENOSYS, EXDEV, EINVAL… where it cannot; ENOTSUP off Linux).
int64_t silomerge_copy_file_range(int in_fd, int64_t *in_offset, int out_fd, int64_t *out_offset, int64_t length);

/// The file system type of `fd` (statfs.f_type, a magic number of linux/magic.h). 0, or -1
/// with errno; ENOTSUP off Linux.
int silomerge_fs_type(int fd, int64_t *type);

/// Where on the device the file's first byte lies (FIEMAP: the first extent's physical byte
/// offset), so that reads can follow the disk instead of the names. 0 with `*offset` set; 1
/// for a file with no extent (empty, or held inline); -1 with errno where the file system
/// does not say (EOPNOTSUPP on tmpfs and network file systems; ENOTSUP off Linux).
int silomerge_first_physical(int fd, int64_t *offset);

/// Fixes glibc's mmap threshold at `bytes` (mallopt M_MMAP_THRESHOLD), which otherwise grows
/// each time a large block is freed, so that large blocks keep their own mappings and are given
/// back when freed. 1 when set, 0 where the C library has no such setting.
int silomerge_fix_mmap_threshold(size_t bytes);

/// Sets how much free memory glibc keeps at the top of a heap before giving it back
/// (mallopt M_TRIM_THRESHOLD). 1 when set, 0 where the C library has no such setting.
int silomerge_set_trim_threshold(size_t bytes);

#endif
