/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>

#include "http.h"
#include "macro.h"
#include "response.h"

/* Sends iov, or keeps it in r->out while deferring and it fits (see response_flush()). */
static int response_send(Request *r, struct iovec *iov, int n) {
        if (r->out_defer) {
                size_t total = 0;
                for (int i = 0; i < n; i++)
                        total += iov[i].iov_len;
                if (!r->out)
                        r->out = malloc(RESPONSE_OUT_SIZE);
                if (r->out && r->out_len + total <= RESPONSE_OUT_SIZE) {
                        for (int i = 0; i < n; i++) {
                                if (iov[i].iov_len == 0)
                                        continue; /* may be NULL (no app headers) */
                                memcpy(r->out + r->out_len, iov[i].iov_base, iov[i].iov_len);
                                r->out_len += iov[i].iov_len;
                        }
                        return 0;
                }
                /* Too big to keep: what was kept goes first, in order, then the rest as is. */
                int k = response_flush(r);
                if (k < 0)
                        return k;
        }
        return request_send_all(r, iov, n);
}

int response_flush(Request *r) {
        r->out_defer = false;
        if (r->out_len == 0)
                return 0;
        struct iovec iov = { r->out, r->out_len };
        r->out_len = 0;
        return request_send_all(r, &iov, 1);
}

static bool is_tchar(unsigned char c) {
        return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int response_start(Request *r, const char *status_text, size_t len) {
        if (len < 3 || len > sizeof(r->status_line) - 16)
                return -EINVAL;
        for (size_t i = 0; i < 3; i++)
                if (!isdigit((unsigned char) status_text[i]))
                        return -EINVAL;
        if (len > 3 && status_text[3] != ' ')
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (status_text[i] == '\r' || status_text[i] == '\n' || status_text[i] == 0)
                        return -EINVAL;

        r->status = (status_text[0] - '0') * 100 + (status_text[1] - '0') * 10 +
                    (status_text[2] - '0');
        if (r->status < 100)
                return -EINVAL;
        memcpy(r->status_line, "HTTP/1.1 ", 9);
        memcpy(r->status_line + 9, status_text, len);
        memcpy(r->status_line + 9 + len, "\r\n", 2);
        r->status_line_len = 9 + len + 2;
        r->headers_len = 0;
        r->content_length = -1;
        r->started = true;
        return 0;
}

void response_restart(Request *r) {
        r->started = false;
        r->headers_len = 0;
        r->content_length = -1;
}

static int headers_append(Request *r, const char *p, size_t n) {
        if (r->headers_len + n > r->headers_size) {
                size_t want = MAX(r->headers_size * 2, r->headers_len + n + 256);
                char *h = realloc(r->headers, want);
                if (!h)
                        return -ENOMEM;
                r->headers = h;
                r->headers_size = want;
        }
        memcpy(r->headers + r->headers_len, p, n);
        r->headers_len += n;
        return 0;
}

int response_add_header(Request *r, const char *name, size_t name_len, const char *value,
                        size_t value_len) {
        if (name_len == 0)
                return -EINVAL;
        for (size_t i = 0; i < name_len; i++)
                if (!is_tchar((unsigned char) name[i]))
                        return -EINVAL;
        for (size_t i = 0; i < value_len; i++) {
                unsigned char c = value[i];
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return -EINVAL;
        }

        if (name_len == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
                uint64_t n = 0;
                if (value_len == 0 || value_len > 18)
                        return -EINVAL;
                for (size_t i = 0; i < value_len; i++) {
                        if (!isdigit((unsigned char) value[i]))
                                return -EINVAL;
                        n = n * 10 + (value[i] - '0');
                }
                if (r->content_length >= 0)
                        return (uint64_t) r->content_length == n ? 0 : -EINVAL;
                r->content_length = n;
        } else if (name_len == 10 && strncasecmp(name, "Connection", 10) == 0) {
                /* Hop-by-hop: framing is ours. An app asking to close gets it (connection
                 * options are case-insensitive tokens). */
                for (size_t i = 0; i + 5 <= value_len; i++)
                        if (strncasecmp(value + i, "close", 5) == 0)
                                r->keep_alive = false;
                return 0;
        } else if ((name_len == 10 && strncasecmp(name, "Keep-Alive", 10) == 0) ||
                   (name_len == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0))
                return 0;

        int k = headers_append(r, name, name_len);
        if (k >= 0)
                k = headers_append(r, ": ", 2);
        if (k >= 0)
                k = headers_append(r, value, value_len);
        if (k >= 0)
                k = headers_append(r, "\r\n", 2);
        return k;
}

int response_set_length(Request *r, uint64_t len) {
        char v[24];
        if (r->content_length >= 0 || r->head_sent)
                return 0;
        int n = snprintf(v, sizeof(v), "%" PRIu64, len);
        return response_add_header(r, "Content-Length", 14, v, n);
}

static bool response_bodyless(const Request *r) {
        return r->head || r->status < 200 || r->status == 204 || r->status == 304;
}

/* Decides the framing and fills iov[0..3) with the head. */
static int head_iov(Request *r, struct iovec *iov, char *framing, size_t framing_size) {
        size_t f = 0;

        if (!r->started)
                (void) response_start(r, "200 OK", 6);
        if (r->proto == SOCKET_HTTP) {
                if (r->content_length < 0 && !response_bodyless(r)) {
                        if (r->http10)
                                r->keep_alive = false;
                        else
                                r->chunked_out = true;
                }
                if (r->chunked_out)
                        f += snprintf(framing + f, framing_size - f,
                                      "Transfer-Encoding: chunked\r\n");
                if (!r->keep_alive)
                        f += snprintf(framing + f, framing_size - f, "Connection: close\r\n");
                else if (r->http10)
                        f += snprintf(framing + f, framing_size - f, "Connection: keep-alive\r\n");
        }
        f += snprintf(framing + f, framing_size - f, "\r\n");
        iov[0] = (struct iovec) { r->status_line, r->status_line_len };
        iov[1] = (struct iovec) { r->headers, r->headers_len };
        iov[2] = (struct iovec) { framing, f };
        r->head_sent = true;
        return 3;
}

#define WRITE_BATCH 64

int response_write(Request *r, const struct iovec *body, int n) {
        struct iovec iov[WRITE_BATCH + 6] = {}; /* all set before use; gcc's analyzer loses count */
        char framing[96], chunk_head[24];
        int k = 0;

        if (r->failed)
                return -EPIPE;

        do {
                int batch = MIN(n, WRITE_BATCH), m = 0;
                uint64_t total = 0;

                if (!r->head_sent)
                        m = head_iov(r, iov, framing, sizeof(framing));
                int chunk_at = m;
                if (r->chunked_out)
                        iov[m++] = (struct iovec) { NULL, 0 }; /* the chunk head, below */
                if (!response_bodyless(r))
                        for (int i = 0; i < batch; i++) {
                                size_t len = body[i].iov_len;
                                if (r->content_length >= 0) {
                                        uint64_t room = r->content_length - r->bytes_sent - total;
                                        len = MIN(len, room);
                                }
                                if (len == 0)
                                        continue;
                                iov[m++] = (struct iovec) { body[i].iov_base, len };
                                total += len;
                        }
                if (r->chunked_out) {
                        if (total > 0) {
                                int hl = snprintf(chunk_head, sizeof(chunk_head),
                                                  "%" PRIx64 "\r\n", total);
                                iov[chunk_at] = (struct iovec) { chunk_head, hl };
                                iov[m++] = (struct iovec) { (void *) "\r\n", 2 };
                        } else {
                                /* Nothing to frame: drop the chunk-head slot. */
                                memmove(iov + chunk_at, iov + chunk_at + 1,
                                        (m - chunk_at - 1) * sizeof(*iov));
                                m--;
                        }
                }
                if (m > 0) {
                        k = response_send(r, iov, m);
                        if (k < 0)
                                return k;
                }
                r->bytes_sent += total;
                body += batch;
                n -= batch;
        } while (n > 0);
        return 0;
}

int response_sendfile(Request *r, int fd, off_t offset, uint64_t count) {
        char chunk_head[24];
        int k;

        if (r->failed)
                return -EPIPE;
        if (r->content_length >= 0)
                count = MIN(count, (uint64_t) r->content_length - r->bytes_sent);
        if (response_bodyless(r))
                count = 0;
        k = response_write(r, NULL, 0); /* the head */
        if (k < 0)
                return k;
        if (count == 0)
                return 0;
        k = response_flush(r); /* the file goes out as it is read */
        if (k < 0)
                return k;
        if (r->chunked_out) {
                struct iovec iov = { chunk_head, 0 };
                iov.iov_len = snprintf(chunk_head, sizeof(chunk_head), "%" PRIx64 "\r\n", count);
                k = response_send(r, &iov, 1);
                if (k < 0)
                        return k;
        }
        uint64_t left = count;
        while (left > 0) {
                ssize_t n = sendfile(r->fd, fd, &offset, MIN(left, (uint64_t) 1 << 30));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                k = request_wait_client(r, POLLOUT, r->timeout_ms);
                                if (k < 0) {
                                        r->failed = true;
                                        return k;
                                }
                                continue;
                        }
                        r->failed = true;
                        return -errno;
                }
                if (n == 0)
                        break; /* the file is shorter than it said */
                left -= n;
                r->bytes_sent += n;
        }
        if (left > 0) {
                /* Framing promised more than the file had: the response cannot be completed. */
                r->failed = true;
                r->keep_alive = false;
                return -EIO;
        }
        if (r->chunked_out) {
                struct iovec iov = { (void *) "\r\n", 2 };
                return response_send(r, &iov, 1);
        }
        return 0;
}

int response_finish(Request *r) {
        int k;

        if (r->failed)
                return -EPIPE;
        if (!r->head_sent) {
                if (!r->started)
                        (void) response_start(r, "200 OK", 6);
                if (r->content_length < 0 && !response_bodyless(r)) {
                        k = response_set_length(r, 0);
                        if (k < 0)
                                return k;
                }
                k = response_write(r, NULL, 0);
                if (k < 0)
                        return k;
        }
        if (r->chunked_out) {
                struct iovec iov = { (void *) "0\r\n\r\n", 5 };
                k = response_send(r, &iov, 1);
                if (k < 0)
                        return k;
        }
        if (r->content_length >= 0 && r->bytes_sent < (uint64_t) r->content_length &&
            !response_bodyless(r))
                r->keep_alive = false; /* the client still waits for bytes that never come */
        return 0;
}

void response_error(Request *r, int status) {
        char buf[512];
        const char *reason = http_status_reason(status);

        r->keep_alive = false;
        if (r->head_sent || r->failed)
                return;
        int bl = snprintf(NULL, 0, "%d %s\n", status, reason);
        int n = snprintf(buf, sizeof(buf),
                         "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                         "Connection: close\r\n\r\n%d %s\n",
                         status, reason, bl, status, reason);
        if (r->head)
                n -= bl; /* a HEAD response says the length but carries no body */
        r->status = status;
        r->head_sent = true;
        r->bytes_sent = r->head ? 0 : bl;
        struct iovec iov = { buf, MIN(n, (int) sizeof(buf) - 1) };
        (void) request_send_all(r, &iov, 1);
}
