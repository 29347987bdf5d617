/* SPDX-License-Identifier: MIT */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "auth.h"
#include "macro.h"

#define AUTH_MAX_USERS 256
#define AUTH_ID_LEN 64 /* hex of 32 random bytes */

typedef struct AuthUser {
        char *name;
        char *hash;
} AuthUser;

typedef struct Session {
        char id[AUTH_ID_LEN + 1];
        char csrf[AUTH_ID_LEN + 1];
        const char *user; /* AuthUser.name */
        uint64_t last;    /* CLOCK_MONOTONIC µs of its last use */
} Session;

struct Auth {
        AuthUser users[AUTH_MAX_USERS];
        size_t n_users;
        Session sessions[AUTH_MAX_SESSIONS]; /* id[0] == 0: free */
        char dummy[CRYPT_OUTPUT_SIZE];       /* a hash to check unknown users against */
};

static void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int random_hex(char *out, size_t n_bytes) {
        unsigned char rnd[64];
        if (n_bytes > sizeof(rnd) || getrandom(rnd, n_bytes, 0) != (ssize_t) n_bytes)
                return -EIO;
        for (size_t i = 0; i < n_bytes; i++)
                snprintf(out + 2 * i, 3, "%02x", rnd[i]);
        return 0;
}

int auth_new(const char *path, Auth **ret, char *error, size_t error_size) {
        _cleanup_(fclosep) FILE *f = NULL;
        char line[1024];
        unsigned lineno = 0;

        f = fopen(path, "re");
        if (!f) {
                int r = -errno;
                snprintf(error, error_size, "%s: %s", path, strerror(errno));
                return r;
        }
        Auth *a = calloc(1, sizeof(Auth));
        if (!a) {
                snprintf(error, error_size, "out of memory");
                return -ENOMEM;
        }
        while (fgets(line, sizeof(line), f)) {
                lineno++;
                line[strcspn(line, "\r\n")] = 0;
                if (line[0] == 0 || line[0] == '#')
                        continue;
                char *colon = strchr(line, ':');
                if (!colon || colon == line || !colon[1] ||
                    crypt_checksalt(colon + 1) != CRYPT_SALT_OK || a->n_users == AUTH_MAX_USERS) {
                        snprintf(error, error_size,
                                 "%s:%u: expected user:hash with a hash crypt(3) knows (mkpasswd "
                                 "-m yescrypt)", path, lineno);
                        auth_free(a);
                        return -EINVAL;
                }
                *colon = 0;
                AuthUser *u = &a->users[a->n_users];
                u->name = strdup(line);
                u->hash = strdup(colon + 1);
                if (!u->name || !u->hash) {
                        free(u->name);
                        free(u->hash);
                        auth_free(a);
                        snprintf(error, error_size, "out of memory");
                        return -ENOMEM;
                }
                a->n_users++;
        }
        if (a->n_users == 0) {
                snprintf(error, error_size, "%s: no users", path);
                auth_free(a);
                return -EINVAL;
        }
        /* Unknown users cost a hash as known ones do, so timing does not tell them apart. */
        snprintf(a->dummy, sizeof(a->dummy), "%s", a->users[0].hash);
        *ret = a;
        return 0;
}

Auth *auth_free(Auth *a) {
        if (!a)
                return NULL;
        for (size_t i = 0; i < a->n_users; i++) {
                free(a->users[i].name);
                explicit_bzero(a->users[i].hash, strlen(a->users[i].hash));
                free(a->users[i].hash);
        }
        explicit_bzero(a, sizeof(*a));
        free(a);
        return NULL;
}

/* Whether password matches user's hash; the user's entry or NULL. */
static const AuthUser *auth_verify(Auth *a, const char *user, const char *password) {
        const AuthUser *found = NULL;
        struct crypt_data *cd = calloc(1, sizeof(struct crypt_data));

        if (!cd)
                return NULL;
        for (size_t i = 0; i < a->n_users; i++)
                if (streq(a->users[i].name, user))
                        found = &a->users[i];
        const char *h = crypt_r(password, found ? found->hash : a->dummy, cd);
        bool ok = found && h && h[0] != '*' && streq(h, found->hash);
        explicit_bzero(cd, sizeof(*cd));
        free(cd);
        return ok ? found : NULL;
}

static const char *cookie_value(const HttpRequest *req, char *buf, size_t size) {
        const HttpHeader *h = http_request_header(req, "Cookie");
        if (!h || h->value_len >= size)
                return NULL;
        memcpy(buf, h->value, h->value_len);
        buf[h->value_len] = 0;
        for (char *p = buf; p && *p;) {
                while (*p == ' ' || *p == ';')
                        p++;
                if (strncmp(p, "emperor_session=", 16) == 0) {
                        char *v = p + 16;
                        v[strcspn(v, "; ")] = 0;
                        return v;
                }
                p = strchr(p, ';');
        }
        return NULL;
}

static Session *session_find(Auth *a, const HttpRequest *req) {
        char buf[4096];
        const char *id = cookie_value(req, buf, sizeof(buf));
        uint64_t now = now_usec();

        if (!id || strlen(id) != AUTH_ID_LEN)
                return NULL;
        for (size_t i = 0; i < AUTH_MAX_SESSIONS; i++) {
                Session *s = &a->sessions[i];
                if (!s->id[0])
                        continue;
                if (now - s->last > AUTH_SESSION_USEC) {
                        *s = (Session) {};
                        continue;
                }
                unsigned char d = 0;
                for (size_t k = 0; k < AUTH_ID_LEN; k++)
                        d |= (unsigned char) (s->id[k] ^ id[k]);
                if (d == 0) {
                        s->last = now;
                        return s;
                }
        }
        return NULL;
}

/* "Authorization: Basic base64(user:password)", decoded into buf. */
static bool basic_credentials(const HttpRequest *req, char *buf, size_t size, char **ret_user,
                              char **ret_password) {
        static const char b64[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const HttpHeader *h = http_request_header(req, "Authorization");
        if (!h || h->value_len < 7 || strncasecmp(h->value, "Basic ", 6) != 0)
                return false;
        size_t n = 0;
        unsigned bits = 0, acc = 0;
        for (size_t i = 6; i < h->value_len && h->value[i] != '='; i++) {
                const char *p = memchr(b64, h->value[i], 64);
                if (!p || n + 1 >= size)
                        return false;
                acc = (acc << 6) | (unsigned) (p - b64);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        buf[n++] = (char) ((acc >> bits) & 0xff);
                }
        }
        buf[n] = 0;
        char *colon = strchr(buf, ':');
        if (!colon || strlen(buf) != n)
                return false;
        *colon = 0;
        *ret_user = buf;
        *ret_password = colon + 1;
        return true;
}

const char *auth_check(Auth *a, const HttpRequest *req, const char **ret_csrf) {
        Session *s = session_find(a, req);
        char buf[1024], *user, *password;

        *ret_csrf = NULL;
        if (s) {
                *ret_csrf = s->csrf;
                return s->user;
        }
        if (basic_credentials(req, buf, sizeof(buf), &user, &password)) {
                const AuthUser *u = auth_verify(a, user, password);
                explicit_bzero(buf, sizeof(buf));
                return u ? u->name : NULL;
        }
        return NULL;
}

int auth_login(Auth *a, const char *user, const char *password, char **ret_cookie) {
        const AuthUser *u = auth_verify(a, user, password);
        Session *slot = NULL;
        uint64_t now = now_usec();

        if (!u)
                return -EACCES;
        /* A free slot, else the one idle longest. */
        for (size_t i = 0; i < AUTH_MAX_SESSIONS; i++) {
                Session *s = &a->sessions[i];
                if (!s->id[0] || now - s->last > AUTH_SESSION_USEC) {
                        slot = s;
                        break;
                }
                if (!slot || s->last < slot->last)
                        slot = s;
        }
        *slot = (Session) { .user = u->name, .last = now };
        if (random_hex(slot->id, AUTH_ID_LEN / 2) < 0 ||
            random_hex(slot->csrf, AUTH_ID_LEN / 2) < 0) {
                *slot = (Session) {};
                return -EIO;
        }
        if (asprintf(ret_cookie, "emperor_session=%s; Path=/; HttpOnly; SameSite=Strict",
                     slot->id) < 0)
                return -ENOMEM;
        return 0;
}

void auth_logout(Auth *a, const HttpRequest *req) {
        Session *s = session_find(a, req);
        if (s)
                *s = (Session) {};
}

const char *auth_clear_cookie(void) {
        return "emperor_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";
}
