#define _GNU_SOURCE
#include "silomerge_shims.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const void *silomerge_memmem(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len) {
    return memmem(haystack, haystack_len, needle, needle_len);
}

int silomerge_format_fixed(char *buffer, size_t size, int digits, double value) {
    return snprintf(buffer, size, "%.*f", digits, value);
}

#if defined(__linux__)
#include <fcntl.h>
#include <malloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

int silomerge_rename_noreplace(int fromdir, const char *from, int todir, const char *to) {
#ifdef SYS_renameat2
    return (int)syscall(SYS_renameat2, fromdir, from, todir, to, RENAME_NOREPLACE);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int silomerge_clone(int src_fd, int dest_fd) {
#ifdef FICLONE
    return ioctl(dest_fd, FICLONE, src_fd);
#else
    errno = ENOTSUP;
    return -1;
#endif
}

int64_t silomerge_dedupe_range(int src_fd, int64_t src_offset, int64_t length, int dest_fd, int64_t dest_offset,
                               int *differs) {
#ifdef FIDEDUPERANGE
    struct file_dedupe_range *range = calloc(1, sizeof(struct file_dedupe_range) + sizeof(struct file_dedupe_range_info));
    if (range == NULL) { errno = ENOMEM; return -1; }
    range->src_offset = (uint64_t)src_offset;
    range->src_length = (uint64_t)length;
    range->dest_count = 1;
    range->info[0].dest_fd = dest_fd;
    range->info[0].dest_offset = (uint64_t)dest_offset;
    int64_t result = -1;
    if (ioctl(src_fd, FIDEDUPERANGE, range) == 0) {
        if (range->info[0].status < 0) {
            errno = -range->info[0].status;
        } else {
            if (differs) *differs = range->info[0].status == FILE_DEDUPE_RANGE_DIFFERS;
            result = (int64_t)range->info[0].bytes_deduped;
        }
    }
    int saved = errno;
    free(range);
    errno = saved;
    return result;
#else
    errno = ENOTSUP;
    return -1;
#endif
}

int64_t silomerge_copy_file_range(int in_fd, int64_t *in_offset, int out_fd, int64_t *out_offset, int64_t length) {
#ifdef SYS_copy_file_range
    loff_t in = (loff_t)*in_offset, out = (loff_t)*out_offset;
    long n = syscall(SYS_copy_file_range, in_fd, &in, out_fd, &out, (size_t)length, 0u);
    if (n >= 0) { *in_offset = (int64_t)in; *out_offset = (int64_t)out; }
    return (int64_t)n;
#else
    errno = ENOSYS;
    return -1;
#endif
}

int silomerge_fs_type(int fd, int64_t *type) {
    struct statfs buffer;
    if (fstatfs(fd, &buffer) != 0) return -1;
    *type = (int64_t)buffer.f_type;
    return 0;
}

int silomerge_fix_mmap_threshold(size_t bytes) {
#ifdef M_MMAP_THRESHOLD
    return mallopt(M_MMAP_THRESHOLD, (int)bytes);
#else
    (void)bytes;
    return 0;
#endif
}

int silomerge_set_trim_threshold(size_t bytes) {
#ifdef M_TRIM_THRESHOLD
    return mallopt(M_TRIM_THRESHOLD, (int)bytes);
#else
    (void)bytes;
    return 0;
#endif
}

int silomerge_first_physical(int fd, int64_t *offset) {
    // One extent is enough: only where the file starts is wanted.
    union {
        struct fiemap map;
        char bytes[sizeof(struct fiemap) + sizeof(struct fiemap_extent)];
    } request;
    memset(&request, 0, sizeof request);
    request.map.fm_start = 0;
    request.map.fm_length = FIEMAP_MAX_OFFSET;
    request.map.fm_extent_count = 1;
    if (ioctl(fd, FS_IOC_FIEMAP, &request.map) != 0) return -1;
    if (request.map.fm_mapped_extents == 0) return 1;
    const struct fiemap_extent *extent = &request.map.fm_extents[0];
    if (extent->fe_flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DATA_INLINE)) return 1;
    *offset = (int64_t)extent->fe_physical;
    return 0;
}

#elif defined(__APPLE__)
#include <stdio.h>

int silomerge_rename_noreplace(int fromdir, const char *from, int todir, const char *to) {
    return renameatx_np(fromdir, from, todir, to, RENAME_EXCL);
}

int silomerge_clone(int src_fd, int dest_fd) { (void)src_fd; (void)dest_fd; errno = ENOTSUP; return -1; }

int64_t silomerge_dedupe_range(int src_fd, int64_t src_offset, int64_t length, int dest_fd, int64_t dest_offset,
                               int *differs) {
    (void)src_fd; (void)src_offset; (void)length; (void)dest_fd; (void)dest_offset; (void)differs;
    errno = ENOTSUP;
    return -1;
}

int64_t silomerge_copy_file_range(int in_fd, int64_t *in_offset, int out_fd, int64_t *out_offset, int64_t length) {
    (void)in_fd; (void)in_offset; (void)out_fd; (void)out_offset; (void)length;
    errno = ENOTSUP;
    return -1;
}

int silomerge_fs_type(int fd, int64_t *type) { (void)fd; (void)type; errno = ENOTSUP; return -1; }
int silomerge_first_physical(int fd, int64_t *offset) { (void)fd; (void)offset; errno = ENOTSUP; return -1; }
int silomerge_fix_mmap_threshold(size_t bytes) { (void)bytes; return 0; }

#else

int silomerge_rename_noreplace(int fromdir, const char *from, int todir, const char *to) {
    (void)fromdir; (void)from; (void)todir; (void)to; errno = ENOTSUP; return -1;
}
int silomerge_clone(int src_fd, int dest_fd) { (void)src_fd; (void)dest_fd; errno = ENOTSUP; return -1; }
int64_t silomerge_dedupe_range(int src_fd, int64_t src_offset, int64_t length, int dest_fd, int64_t dest_offset,
                               int *differs) {
    (void)src_fd; (void)src_offset; (void)length; (void)dest_fd; (void)dest_offset; (void)differs;
    errno = ENOTSUP; return -1;
}
int64_t silomerge_copy_file_range(int in_fd, int64_t *in_offset, int out_fd, int64_t *out_offset, int64_t length) {
    (void)in_fd; (void)in_offset; (void)out_fd; (void)out_offset; (void)length; errno = ENOTSUP; return -1;
}
int silomerge_fs_type(int fd, int64_t *type) { (void)fd; (void)type; errno = ENOTSUP; return -1; }
int silomerge_first_physical(int fd, int64_t *offset) { (void)fd; (void)offset; errno = ENOTSUP; return -1; }
int silomerge_fix_mmap_threshold(size_t bytes) { (void)bytes; return 0; }

#endif
