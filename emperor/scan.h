/* SPDX-License-Identifier: MIT */
#pragma once

/* One pass over the conf dir: every `NAME.ini` (dot-files, editor droppings and other names
 * skipped), followed through symlinks, with what identifies its current version. The scan is
 * the truth (s6-svscan): inotify only says when to look again. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

typedef struct ScanKey {
        uint64_t hash;   /* of the content */
        int64_t mtime_ns;
        int64_t ctime_ns;
        uint64_t size;
        uint64_t ino;
        uint64_t dev;
} ScanKey;

typedef struct ScanEntry {
        char *name; /* file name without .ini */
        char *path; /* CONF_DIR/NAME.ini, as found (a symlink stays a symlink) */
        ScanKey key;
        uid_t uid;  /* owner of the file it resolves to (tyrant mode) */
        gid_t gid;
} ScanEntry;

/* Lists dir. Returns 0 with a malloc'd array, or -errno when the directory cannot be read. */
int scan_dir(const char *dir, ScanEntry **ret, size_t *ret_n);
void scan_free(ScanEntry *e, size_t n);

/* A file that looks like an ini (NAME.ini, not a dot-file) but is not taken: a name the
 * control protocol cannot carry (spaces, control characters, over 128 bytes), too large, not
 * a regular file, unreadable. The manager says so once, and `emperorctl status` lists them. */
typedef struct ScanIgnored {
        char *file;   /* the file name, escaped: printable ASCII, others as \xHH, cut at 160 */
        char *reason;
} ScanIgnored;

/* The version of NAME the caller knows from an earlier scan, or NULL: a file whose inode,
 * size, mtime and ctime are the same is not read again (any write changes its ctime), so the
 * periodic rescan of a large fleet costs a stat per ini, not a read. */
typedef const ScanKey *(*ScanKnownFunc)(void *userdata, const char *name);

/* scan_dir(), and what it ignored (both arrays malloc'd; ret_ignored may be NULL). */
int scan_dir_full(const char *dir, ScanKnownFunc known, void *userdata, ScanEntry **ret,
                  size_t *ret_n, ScanIgnored **ret_ignored, size_t *ret_n_ignored);
void scan_ignored_free(ScanIgnored *e, size_t n);

/* Whether a file name is a vassal ini by its name alone (for tests). */
bool scan_name_is_ini(const char *file, char *ret_name, size_t size);

static inline bool scan_key_equal(const ScanKey *a, const ScanKey *b) {
        return a->hash == b->hash && a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns &&
               a->size == b->size && a->ino == b->ino && a->dev == b->dev;
}
