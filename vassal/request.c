/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "request.h"

/* What request_drain_body() reads and throws away before it gives up and closes instead. */
#define DRAIN_MAX (1024 * 1024)

void request_reset(Request *r, int fd, SocketProto proto, ConnBuffer *in, int timeout_ms) {
        char *headers = r->headers, *out = r->out;
        size_t headers_size = r->headers_size;

        memset(r, 0, sizeof(*r));
        r->fd = fd;
        r->proto = proto;
        r->in = in;
        r->timeout_ms = timeout_ms;
        r->keep_alive = proto == SOCKET_HTTP;
        r->url_scheme = "http";
        r->body_fd = -1;
        r->content_length = -1;
        r->headers = headers;
        r->headers_size = headers_size;
        r->out = out;
}

void request_done(Request *r) {
        request_body_free(r);
}

int request_add_var(Request *r, const char *key, size_t key_len, const char *value,
                    size_t value_len) {
        if (r->n_vars >= REQUEST_MAX_VARS)
                return -E2BIG;
        r->vars[r->n_vars++] = (RequestVar) { key, key_len, value, value_len };
        return 0;
}

const char *request_get_var(const Request *r, const char *key, size_t *ret_len) {
        size_t kl = strlen(key);
        for (size_t i = 0; i < r->n_vars; i++)
                if (r->vars[i].key_len == kl && memcmp(r->vars[i].key, key, kl) == 0) {
                        if (ret_len)
                                *ret_len = r->vars[i].value_len;
                        return r->vars[i].value;
                }
        return NULL;
}

static RequestVar *find_var(Request *r, const char *key, size_t key_len) {
        for (size_t i = 0; i < r->n_vars; i++)
                if (r->vars[i].key_len == key_len && memcmp(r->vars[i].key, key, key_len) == 0)
                        return &r->vars[i];
        return NULL;
}

#define ADD_VAR(r, k, v, vl) request_add_var((r), (k), sizeof(k) - 1, (v), (vl))

/* ---- building requests from the two protocols ---- */

int request_from_http(Request *r, const HttpRequest *h, const ConnInfo *ci, char *scratch,
                      size_t scratch_size) {
        char *s = scratch, *end = scratch + scratch_size;
        int k = 0;

        r->method = h->method;
        r->method_len = h->method_len;
        r->uri = h->target;
        r->uri_len = h->target_len;
        r->http10 = h->version_minor == 0;
        r->keep_alive = h->keep_alive;
        r->head = h->method_len == 4 && memcmp(h->method, "HEAD", 4) == 0;
        r->expect_continue = h->expect_continue && !r->http10;

        k |= ADD_VAR(r, "REQUEST_METHOD", h->method, h->method_len);
        k |= ADD_VAR(r, "REQUEST_URI", h->target, h->target_len);
        k |= ADD_VAR(r, "QUERY_STRING", h->query, h->query_len);
        k |= ADD_VAR(r, "SERVER_PROTOCOL", r->http10 ? "HTTP/1.0" : "HTTP/1.1", 8);

        /* PATH_INFO is the decoded path (PEP 3333 leaves encoding to the server; every server
         * decodes). An absolute-form target ("http://host/path") is cut to its path. */
        const char *path = h->path;
        size_t path_len = h->path_len;
        if (path_len > 0 && path[0] != '/') {
                const char *p = memmem(path, path_len, "://", 3);
                if (p) {
                        const char *slash = memchr(p + 3, '/', path + path_len - (p + 3));
                        path_len = slash ? (size_t) (path + path_len - slash) : 0;
                        path = slash ? slash : "";
                }
        }
        if ((size_t) (end - s) < path_len + 1)
                return -431;
        size_t dl = http_percent_decode(s, path, path_len);
        k |= ADD_VAR(r, "PATH_INFO", s, dl);
        s += dl;
        k |= ADD_VAR(r, "SCRIPT_NAME", "", 0);

        const char *server_name = ci->server_addr;
        size_t server_name_len = strlen(ci->server_addr);
        bool have_ct = false, have_cl = false;

        for (size_t i = 0; i < h->n_headers; i++) {
                const HttpHeader *hd = &h->headers[i];

                if (hd->name_len == 12 && strncasecmp(hd->name, "Content-Type", 12) == 0) {
                        k |= ADD_VAR(r, "CONTENT_TYPE", hd->value, hd->value_len);
                        have_ct = true;
                        continue;
                }
                if (hd->name_len == 14 && strncasecmp(hd->name, "Content-Length", 14) == 0) {
                        k |= ADD_VAR(r, "CONTENT_LENGTH", hd->value, hd->value_len);
                        have_cl = true;
                        continue;
                }
                if (hd->name_len == 4 && strncasecmp(hd->name, "Host", 4) == 0) {
                        /* SERVER_NAME is the Host without its port ("[::1]:80" keeps the
                         * brackets). */
                        const char *colon = memrchr(hd->value, ':', hd->value_len);
                        const char *bracket = memrchr(hd->value, ']', hd->value_len);
                        server_name = hd->value;
                        server_name_len = colon && (!bracket || colon > bracket)
                                                  ? (size_t) (colon - hd->value)
                                                  : hd->value_len;
                }

                /* "X_Forwarded_For" would land on the same HTTP_X_FORWARDED_FOR key as the
                 * proxy's "X-Forwarded-For" and could spoof it: such headers are dropped, as
                 * nginx and gunicorn do. */
                if (memchr(hd->name, '_', hd->name_len))
                        continue;
                if ((size_t) (end - s) < hd->name_len + 5)
                        return -431;
                memcpy(s, "HTTP_", 5);
                for (size_t j = 0; j < hd->name_len; j++) {
                        char c = hd->name[j];
                        s[5 + j] = c == '-' ? '_' : (char) toupper((unsigned char) c);
                }
                RequestVar *dup = find_var(r, s, hd->name_len + 5);
                if (dup) {
                        /* A repeated header is one variable, its values joined (RFC 3875
                         * 4.1.18, RFC 9110 5.3); cookies with "; " as HTTP/2 proxies split. */
                        bool cookie = hd->name_len == 6 && strncasecmp(hd->name, "Cookie", 6) == 0;
                        size_t need = dup->value_len + 2 + hd->value_len;
                        if ((size_t) (end - s) < need)
                                return -431;
                        memcpy(s, dup->value, dup->value_len);
                        memcpy(s + dup->value_len, cookie ? "; " : ", ", 2);
                        memcpy(s + dup->value_len + 2, hd->value, hd->value_len);
                        dup->value = s;
                        dup->value_len = need;
                        s += need;
                        continue;
                }
                k |= request_add_var(r, s, hd->name_len + 5, hd->value, hd->value_len);
                s += hd->name_len + 5;
        }
        if (!have_ct)
                k |= ADD_VAR(r, "CONTENT_TYPE", "", 0);
        if (!have_cl)
                k |= ADD_VAR(r, "CONTENT_LENGTH", "", 0);
        k |= ADD_VAR(r, "SERVER_NAME", server_name, server_name_len);
        k |= ADD_VAR(r, "SERVER_PORT", ci->server_port, strlen(ci->server_port));
        k |= ADD_VAR(r, "REMOTE_ADDR", ci->remote_addr, strlen(ci->remote_addr));
        k |= ADD_VAR(r, "REMOTE_PORT", ci->remote_port, strlen(ci->remote_port));
        if (k < 0)
                return -431;

        if (h->chunked)
                r->body_mode = BODY_CHUNKED;
        else if (h->content_length > 0) {
                r->body_mode = BODY_LENGTH;
                r->body_left = h->content_length;
                if (r->limit_post > 0 && (uint64_t) h->content_length > r->limit_post)
                        return -413;
        } else
                r->body_done = true;
        return 0;
}

int request_from_uwsgi(Request *r, const UwsgiPacket *p, const ConnInfo *ci) {
        bool have_remote = false;
        (void) ci;

        r->keep_alive = false; /* one request per uwsgi connection, as nginx expects */
        for (size_t i = 0; i < p->n_vars; i++) {
                const UwsgiVar *v = &p->vars[i];
                /* nginx sends the body's headers twice; PEP 3333 wants them only as
                 * CONTENT_TYPE and CONTENT_LENGTH. */
                if ((v->key_len == 19 && memcmp(v->key, "HTTP_CONTENT_LENGTH", 19) == 0) ||
                    (v->key_len == 17 && memcmp(v->key, "HTTP_CONTENT_TYPE", 17) == 0))
                        continue;
                if (request_add_var(r, v->key, v->key_len, v->value, v->value_len) < 0)
                        return -431;
                if (v->key_len == 11 && memcmp(v->key, "REMOTE_ADDR", 11) == 0)
                        have_remote = true;
        }
        if (!have_remote &&
            ADD_VAR(r, "REMOTE_ADDR", ci->remote_addr, strlen(ci->remote_addr)) < 0)
                return -431;

        size_t len;
        const char *v = request_get_var(r, "REQUEST_METHOD", &len);
        if (!v) {
                v = "GET";
                len = 3;
                if (ADD_VAR(r, "REQUEST_METHOD", v, len) < 0)
                        return -431;
        }
        r->method = v;
        r->method_len = len;
        r->head = len == 4 && memcmp(v, "HEAD", 4) == 0;
        r->uri = request_get_var(r, "REQUEST_URI", &r->uri_len);
        if (!r->uri)
                r->uri = request_get_var(r, "PATH_INFO", &r->uri_len);
        if (!r->uri) {
                r->uri = "";
                r->uri_len = 0;
        }
        const char *sp = request_get_var(r, "SERVER_PROTOCOL", &len);
        r->http10 = sp && len == 8 && memcmp(sp, "HTTP/1.0", 8) == 0;
        const char *scheme = request_get_var(r, "UWSGI_SCHEME", &len);
        if (!scheme)
                scheme = request_get_var(r, "REQUEST_SCHEME", &len);
        if (scheme && len == 5 && memcmp(scheme, "https", 5) == 0)
                r->url_scheme = "https";

        const char *cl = request_get_var(r, "CONTENT_LENGTH", &len);
        uint64_t n = 0;
        for (size_t i = 0; cl && i < len; i++) {
                if (cl[i] < '0' || cl[i] > '9' || n > (UINT64_C(1) << 60))
                        return -400;
                n = n * 10 + (cl[i] - '0');
        }
        if (n > 0) {
                r->body_mode = BODY_LENGTH;
                r->body_left = n;
                if (r->limit_post > 0 && n > r->limit_post)
                        return -413;
        } else
                r->body_done = true;
        return 0;
}

/* ---- socket I/O with a timeout ---- */

static RequestWaitFunc wait_hook;

void request_set_wait(RequestWaitFunc fn) {
        wait_hook = fn;
}

static int wait_fd(int fd, short events, int timeout_ms) {
        struct pollfd p = { .fd = fd, .events = events };

        if (wait_hook)
                return wait_hook(fd, events, timeout_ms);
        for (;;) {
                int n = poll(&p, 1, timeout_ms);
                if (n > 0)
                        return 0;
                if (n == 0)
                        return -ETIMEDOUT;
                if (errno != EINTR)
                        return -errno;
        }
}

int request_wait_client(Request *r, short events, int timeout_ms) {
        if (r->on_wait)
                r->on_wait(r->on_wait_userdata, true);
        int k = wait_fd(r->fd, events, timeout_ms);
        if (r->on_wait)
                r->on_wait(r->on_wait_userdata, false);
        return k;
}

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How long the next wait for body bytes may be: socket-timeout, cut short by the body's
 * deadline (body-timeout plus a second per body-min-rate bytes so far), or -ETIMEDOUT once the
 * deadline passed. A client trickling its body keeps a thread (or, with post-buffering, the
 * connection) only that long, however steadily it sends. */
static int body_wait_ms(Request *r) {
        if (r->body_timeout_ms <= 0)
                return r->timeout_ms;
        int64_t now = mono_ms();
        if (r->body_started == 0)
                r->body_started = now;
        int64_t allowed = r->body_timeout_ms;
        if (r->body_min_rate > 0)
                allowed += (int64_t) (r->body_read * 1000 / r->body_min_rate);
        else
                allowed = INT64_MAX / 2;
        int64_t left = r->body_started + allowed - now;
        if (left <= 0)
                return -ETIMEDOUT;
        return (int) MIN(left, (int64_t) r->timeout_ms);
}

/* Receives at least one body byte. The client closing mid-body is -ECONNRESET. */
static ssize_t sock_recv(Request *r, char *buf, size_t size) {
        for (;;) {
                ssize_t n = recv(r->fd, buf, size, 0);
                if (n > 0)
                        return n;
                if (n == 0)
                        return -ECONNRESET;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return -errno;
                int ms = body_wait_ms(r);
                if (ms < 0)
                        return ms;
                int k = request_wait_client(r, POLLIN, ms);
                if (k < 0)
                        return k;
        }
}

int request_send_all(Request *r, struct iovec *iov, int n) {
        while (n > 0) {
                struct msghdr mh = { .msg_iov = iov, .msg_iovlen = MIN(n, IOV_MAX) };
                ssize_t k = sendmsg(r->fd, &mh, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN) {
                                r->failed = true;
                                return -errno;
                        }
                        int q = request_wait_client(r, POLLOUT, r->timeout_ms);
                        if (q < 0) {
                                r->failed = true;
                                return q;
                        }
                        continue;
                }
                while (n > 0 && (size_t) k >= iov->iov_len) {
                        k -= iov->iov_len;
                        iov++;
                        n--;
                }
                if (n > 0) {
                        iov->iov_base = (char *) iov->iov_base + k;
                        iov->iov_len -= k;
                }
        }
        return 0;
}

static int send_continue(Request *r) {
        static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (!r->expect_continue || r->continue_sent || r->head_sent)
                return 0;
        r->continue_sent = true;
        struct iovec iov = { (void *) msg, sizeof(msg) - 1 };
        return request_send_all(r, &iov, 1);
}

/* ---- the request body ---- */

static size_t in_avail(const Request *r) {
        return r->in->end - r->in->start;
}

/* Keeps bytes that followed the body (a pipelined request) for the connection. */
static void in_keep(Request *r, const char *data, size_t len) {
        ConnBuffer *in = r->in;
        in->start = in->end = 0;
        if (len > in->size) {
                len = in->size; /* cannot be a valid head anyway: the next parse fails */
                r->keep_alive = false;
        }
        memmove(in->data, data, len);
        in->end = len;
}

static ssize_t read_chunked(Request *r, char *buf, size_t size) {
        for (;;) {
                size_t used = 0, out = 0;
                int rc;

                if (in_avail(r) > 0) {
                        rc = http_chunked_decode(&r->chunked, r->in->data + r->in->start,
                                                 in_avail(r), &used, buf, size, &out);
                        r->in->start += used;
                } else {
                        int k = send_continue(r);
                        if (k < 0)
                                return k;
                        ssize_t n = sock_recv(r, buf, size);
                        if (n < 0)
                                return n;
                        rc = http_chunked_decode(&r->chunked, buf, n, &used, buf, size, &out);
                        if (rc == 1 && used < (size_t) n)
                                in_keep(r, buf + used, n - used);
                }
                if (rc < 0)
                        return -EBADMSG;
                if (rc == 1)
                        r->body_done = true;
                if (out > 0)
                        return out;
                if (r->body_done)
                        return 0;
        }
}

ssize_t request_read_body(Request *r, char *buf, size_t size) {
        ssize_t n;

        /* An error sticks, even when the read that failed also reached the end of the body. */
        if (r->body_errno)
                return -r->body_errno;
        if (size == 0 || r->body_done)
                return 0;

        switch (r->body_mode) {
        case BODY_NONE:
                return 0;

        case BODY_MEMORY:
                n = MIN(size, r->body_left);
                memcpy(buf, r->body_mem + r->body_mem_off, n);
                r->body_mem_off += n;
                break;

        case BODY_FILE:
                n = read(r->body_fd, buf, MIN(size, r->body_left));
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                break;

        case BODY_LENGTH: {
                size_t want = MIN(size, r->body_left);
                if (in_avail(r) > 0) {
                        n = MIN(want, in_avail(r));
                        memcpy(buf, r->in->data + r->in->start, n);
                        r->in->start += n;
                } else {
                        int k = send_continue(r);
                        if (k < 0)
                                return k;
                        n = sock_recv(r, buf, want);
                        if (n < 0) {
                                r->body_errno = (int) -n;
                                return n;
                        }
                }
                break;
        }

        case BODY_CHUNKED:
                n = read_chunked(r, buf, size);
                if (n < 0) {
                        r->body_errno = (int) -n;
                        return n;
                }
                r->body_read += n;
                if (r->limit_post > 0 && r->body_read > r->limit_post) {
                        r->body_errno = EFBIG;
                        return -EFBIG;
                }
                return n;

        default:
                return -EINVAL;
        }

        r->body_left -= n;
        r->body_read += n;
        if (r->body_left == 0)
                r->body_done = true;
        return n;
}

static int open_temp(void) {
        const char *dir = getenv("TMPDIR") ?: "/tmp";
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0)
                return fd;
        char path[PATH_MAX];
        (void) snprintf(path, sizeof(path), "%s/vassal-body-XXXXXX", dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        (void) unlink(path);
        return fd;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= k;
        }
        return 0;
}

int request_buffer_body(Request *r, uint64_t memory_max) {
        if (r->body_done || (r->body_mode != BODY_LENGTH && r->body_mode != BODY_CHUNKED))
                return 0;

        _cleanup_free_ char *mem = NULL;
        _cleanup_close_ int fd = -1;
        size_t used = 0, allocated = 0;
        uint64_t total = 0;
        char chunk[65536];
        int k;

        for (;;) {
                ssize_t n = request_read_body(r, chunk, sizeof(chunk));
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        break;
                total += n;
                if (fd < 0 && total > memory_max) {
                        fd = open_temp();
                        if (fd < 0)
                                return fd;
                        k = write_all(fd, mem, used);
                        if (k < 0)
                                return k;
                        mem = mfree(mem);
                        used = allocated = 0;
                }
                if (fd >= 0) {
                        k = write_all(fd, chunk, n);
                        if (k < 0)
                                return k;
                        continue;
                }
                if (used + n > allocated) {
                        size_t want = MAX(allocated * 2, used + n);
                        char *m = realloc(mem, want);
                        if (!m)
                                return -ENOMEM;
                        mem = m;
                        allocated = want;
                }
                memcpy(mem + used, chunk, n);
                used += n;
        }

        r->body_done = false;
        r->body_left = total;
        r->body_read = 0;
        if (fd >= 0) {
                if (lseek(fd, 0, SEEK_SET) < 0)
                        return -errno;
                r->body_mode = BODY_FILE;
                r->body_fd = TAKE_FD(fd);
        } else {
                r->body_mode = BODY_MEMORY;
                r->body_mem = TAKE_PTR(mem);
                r->body_mem_off = 0;
        }
        if (total == 0)
                r->body_done = true;
        return 0;
}

void request_set_body(Request *r, char *body, size_t len) {
        request_body_free(r);
        r->body_mode = BODY_MEMORY;
        r->body_mem = body;
        r->body_mem_off = 0;
        r->body_left = len;
        r->body_read = 0;
        r->body_done = len == 0;
}

int request_drain_body(Request *r) {
        char buf[16384];
        uint64_t drained = 0;

        if (r->body_done || r->body_mode == BODY_NONE || r->body_mode == BODY_MEMORY ||
            r->body_mode == BODY_FILE)
                return 0;
        if (r->body_errno)
                return -r->body_errno;
        /* The client waits for "100 Continue" before it sends the body: it will not come. */
        if (r->expect_continue && !r->continue_sent)
                return -EPIPE;
        if (r->body_mode == BODY_LENGTH && r->body_left > DRAIN_MAX)
                return -EFBIG;

        uint64_t limit = r->limit_post;
        r->limit_post = 0;
        while (!r->body_done) {
                ssize_t n = request_read_body(r, buf, sizeof(buf));
                if (n < 0)
                        return (int) n;
                drained += n;
                if (drained > DRAIN_MAX)
                        return -EFBIG;
        }
        r->limit_post = limit;
        return 0;
}

void request_body_free(Request *r) {
        r->body_mem = mfree(r->body_mem);
        r->body_fd = safe_close(r->body_fd);
}
