/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "macro.h"

/* Content-Length and chunk sizes above this are refused: it leaves headroom for any arithmetic
 * a caller does on int64_t offsets, and nobody uploads 4 EiB. */
#define HTTP_MAX_BODY_SIZE (UINT64_C(1) << 62)

/* A chunk-size line (size and extensions) or one trailer line may not exceed this, and the
 * whole trailer section may not exceed HTTP_CHUNKED_MAX_TRAILERS: neither produces output, so
 * a caller that bounds the body by decoded bytes would not notice them growing. */
#define HTTP_CHUNKED_MAX_LINE 4096
#define HTTP_CHUNKED_MAX_TRAILERS 16384

/* tchar (RFC 9110 section 5.6.2): the characters of a method or a field name. */
static const bool http_tchar[256] = {
        ['!'] = true, ['#'] = true, ['$'] = true, ['%'] = true, ['&'] = true, ['\''] = true,
        ['*'] = true, ['+'] = true, ['-'] = true, ['.'] = true, ['^'] = true, ['_'] = true,
        ['`'] = true, ['|'] = true, ['~'] = true,
        ['0' ... '9'] = true, ['A' ... 'Z'] = true, ['a' ... 'z'] = true,
};

static inline bool is_tchar(char c) {
        return http_tchar[(unsigned char) c];
}

/* A request-target is any visible byte: no SP, no CTL, no DEL. Bytes >= 0x80 are let through
 * (clients do send raw UTF-8 paths); they cannot end the line or split it, so they are harmless
 * to framing, and the application sees them as they came. */
static inline bool is_target_char(char c) {
        unsigned char u = (unsigned char) c;

        return u > 0x20 && u != 0x7f;
}

/* field-vchar, SP or HTAB (RFC 9110 section 5.5), obs-text included. This refuses NUL, CR, LF
 * and the other controls, which is what keeps header values from smuggling line breaks. */
static inline bool is_value_char(char c) {
        unsigned char u = (unsigned char) c;

        return (u >= 0x20 && u != 0x7f) || u == '\t';
}

static inline bool is_ows(char c) {
        return c == ' ' || c == '\t';
}

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

static bool mem_caseeq(const char *s, size_t n, const char *lit) {
        size_t l = strlen(lit);

        return n == l && strncasecmp(s, lit, l) == 0;
}

static int http_fail(HttpRequest *req, int status, const char *why) {
        req->error = why;
        return -status;
}

/* What the header lines said so far. Framing (content_length, chunked) is stored as soon as
 * it is seen; keep_alive and expect_continue need the whole head and are set at its end. */
typedef struct HttpHeadState {
        bool have_host;
        bool have_content_length;
        bool have_transfer_encoding;
        bool connection_close;
        bool connection_keep_alive;
        bool expect_continue;
} HttpHeadState;

/* Parses a Content-Length value: 1*DIGIT, nothing else (no sign, no list, no spaces inside). */
static int parse_content_length(const char *v, size_t n, int64_t *ret) {
        uint64_t x = 0;

        if (n == 0)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                unsigned d = (unsigned char) v[i] - '0';

                if (d > 9)
                        return -EINVAL;
                if (x > (HTTP_MAX_BODY_SIZE - d) / 10)
                        return -ERANGE;
                x = x * 10 + d;
        }
        *ret = (int64_t) x;
        return 0;
}

/* Walks a comma-separated Connection value; options we do not act on are ignored. */
static void parse_connection(const char *v, size_t n, HttpHeadState *st) {
        const char *end = v + n;

        while (v < end) {
                const char *comma = memchr(v, ',', end - v);
                const char *e = comma ?: end;
                const char *s = v;

                while (s < e && is_ows(*s))
                        s++;
                const char *t = e;
                while (t > s && is_ows(t[-1]))
                        t--;
                if (mem_caseeq(s, t - s, "close"))
                        st->connection_close = true;
                else if (mem_caseeq(s, t - s, "keep-alive"))
                        st->connection_keep_alive = true;
                v = comma ? comma + 1 : end;
        }
}

/* Applies the headers that frame or steer the request. Dispatching on the name length first
 * keeps the common case (a header we do not care about) to one switch. */
static int apply_header(HttpRequest *req, HttpHeadState *st, const HttpHeader *h) {
        const char *v = h->value;
        size_t n = h->value_len;
        int64_t cl;
        int r;

        switch (h->name_len) {
        case 4:
                if (!mem_caseeq(h->name, 4, "host"))
                        return 0;
                /* RFC 9112 section 3.2: more than one Host line is a 400. */
                if (st->have_host)
                        return http_fail(req, 400, "duplicate Host header");
                st->have_host = true;
                return 0;

        case 6:
                if (mem_caseeq(h->name, 6, "expect") && mem_caseeq(v, n, "100-continue"))
                        st->expect_continue = true;
                return 0;

        case 10:
                if (mem_caseeq(h->name, 10, "connection"))
                        parse_connection(v, n, st);
                return 0;

        case 14:
                if (!mem_caseeq(h->name, 14, "content-length"))
                        return 0;
                r = parse_content_length(v, n, &cl);
                if (r == -ERANGE)
                        return http_fail(req, 400, "Content-Length too large");
                if (r < 0)
                        return http_fail(req, 400, "invalid Content-Length");
                /* Identical repeats are harmless (RFC 9110 section 8.6); different ones are
                 * the classic request-smuggling ambiguity. */
                if (st->have_content_length && cl != req->content_length)
                        return http_fail(req, 400, "conflicting Content-Length headers");
                st->have_content_length = true;
                req->content_length = cl;
                break;

        case 17:
                if (!mem_caseeq(h->name, 17, "transfer-encoding"))
                        return 0;
                /* RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty
                 * framing; and a second Transfer-Encoding line would make "chunked, chunked". */
                if (req->version_minor == 0)
                        return http_fail(req, 400, "Transfer-Encoding in an HTTP/1.0 request");
                if (st->have_transfer_encoding)
                        return http_fail(req, 400, "duplicate Transfer-Encoding headers");
                st->have_transfer_encoding = true;
                if (!mem_caseeq(v, n, "chunked"))
                        return http_fail(req, 501, "unsupported Transfer-Encoding");
                req->chunked = true;
                break;

        default:
                return 0;
        }

        /* Both framings at once: which one a proxy in front of us believed is unknowable. */
        if (st->have_content_length && st->have_transfer_encoding)
                return http_fail(req, 400, "both Content-Length and Transfer-Encoding");
        return 0;
}

/* Parses "METHOD SP target SP HTTP/1.x CRLF" at *p. Returns 1 and advances *p past the CRLF,
 * 0 when the line is incomplete, or the negative status. Every byte is judged as soon as it is
 * seen, so a prefix of a bad request is either incomplete or refused for the same reason. */
static int parse_request_line(const char **p, const char *end, HttpRequest *req) {
        static const char version[] = "HTTP/d.d\r\n";
        const char *s = *p, *q;

        q = s;
        while (q < end && is_tchar(*q))
                q++;
        if (q == end)
                return 0;
        if (q == s || *q != ' ')
                return http_fail(req, 400, "invalid method");
        req->method = s;
        req->method_len = q - s;

        s = q + 1;
        q = s;
        while (q < end && is_target_char(*q))
                q++;
        if (q == end)
                return 0;
        if (q != s && (*q == '\r' || *q == '\n'))
                return http_fail(req, 400, "request line without HTTP version");
        if (q == s || *q != ' ')
                return http_fail(req, 400, "invalid request target");
        req->target = s;
        req->target_len = q - s;

        /* Split after the scan rather than in it: the bytes are in cache and memchr() is
         * faster than a second test per byte in the loop above. */
        const char *qm = memchr(s, '?', q - s);
        req->path = s;
        req->path_len = (qm ?: q) - s;
        req->query = qm ? qm + 1 : q;
        req->query_len = q - req->query;

        /* "HTTP/" DIGIT "." DIGIT CRLF, matched byte by byte so garbage is refused early. */
        s = q + 1;
        for (size_t i = 0; i < sizeof(version) - 1; i++) {
                if (s + i == end)
                        return 0;
                if (version[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != version[i])
                        return http_fail(req, 400, "malformed HTTP version");
        }
        if (s[5] != '1' || s[7] > '1')
                return http_fail(req, 505, "unsupported HTTP version");
        req->version_minor = s[7] - '0';

        *p = s + sizeof(version) - 1;
        return 1;
}

/* Parses one "name: value CRLF" line at *p into *h, like parse_request_line(). */
static int parse_header_line(const char **p, const char *end, HttpRequest *req, HttpHeader *h) {
        const char *s = *p, *q, *v, *e;

        q = s;
        while (q < end && is_tchar(*q))
                q++;
        if (q == end)
                return 0;
        if (*q != ':') {
                if (is_ows(*q))
                        return http_fail(req, 400, "whitespace before colon in header");
                return http_fail(req, 400, "invalid header name");
        }
        if (q == s)
                return http_fail(req, 400, "empty header name");
        h->name = s;
        h->name_len = q - s;

        q++;
        while (q < end && is_ows(*q))
                q++;
        v = q;
        while (q < end && is_value_char(*q))
                q++;
        if (q == end)
                return 0;
        if (*q == '\n')
                return http_fail(req, 400, "bare LF in header");
        if (*q != '\r')
                return http_fail(req, 400, "control character in header value");
        if (q + 1 == end)
                return 0;
        if (q[1] != '\n')
                return http_fail(req, 400, "bare CR in header");

        e = q;
        while (e > v && is_ows(e[-1]))
                e--;
        h->value = v;
        h->value_len = e - v;

        *p = q + 2;
        return 1;
}

int http_request_parse(const char *buf, size_t len, HttpRequest *ret) {
        HttpHeadState st = {};
        const char *p = buf, *end;
        int r;

        assert(buf || len == 0);
        assert(ret);

        /* The head length is returned as an int; a head that does not fit in one is the
         * caller's 431 like any other head larger than its buffer. */
        end = buf + MIN(len, (size_t) INT_MAX);

        /* Only the scalars: headers[] is written as headers are found, and clearing its
         * 3 KiB on every call would cost more than parsing a typical request. */
        ret->method = ret->target = ret->path = ret->query = NULL;
        ret->method_len = ret->target_len = ret->path_len = ret->query_len = 0;
        /* Until the request line says otherwise, so that an error reply can still be
         * written as "HTTP/1.%d". */
        ret->version_minor = 1;
        ret->n_headers = 0;
        ret->content_length = -1;
        ret->chunked = ret->keep_alive = ret->expect_continue = false;
        ret->error = NULL;

        /* RFC 9112 section 2.2: skip empty lines a client may send before a request. */
        for (;;) {
                if (p == end)
                        return 0;
                if (*p != '\r')
                        break;
                if (p + 1 == end)
                        return 0;
                if (p[1] != '\n')
                        return http_fail(ret, 400, "bare CR before request line");
                p += 2;
        }

        r = parse_request_line(&p, end, ret);
        if (r <= 0)
                return r;

        for (;;) {
                HttpHeader *h;

                if (p == end)
                        return 0;
                if (*p == '\r') {
                        if (p + 1 == end)
                                return 0;
                        if (p[1] != '\n')
                                return http_fail(ret, 400, "bare CR in header");
                        p += 2;
                        break;
                }
                /* RFC 9112 section 5.2: obs-fold in a request is refused. This also refuses
                 * whitespace between the request line and the first header (section 2.2). */
                if (is_ows(*p))
                        return http_fail(ret, 400, "obsolete line folding in header");
                if (*p == '\n')
                        return http_fail(ret, 400, "bare LF in header");
                if (ret->n_headers >= HTTP_MAX_HEADERS)
                        return http_fail(ret, 431, "too many headers");

                h = &ret->headers[ret->n_headers];
                r = parse_header_line(&p, end, ret, h);
                if (r <= 0)
                        return r;
                ret->n_headers++;

                r = apply_header(ret, &st, h);
                if (r < 0)
                        return r;
        }

        if (ret->version_minor == 1 && !st.have_host)
                return http_fail(ret, 400, "HTTP/1.1 request without Host");

        if (st.connection_close)
                ret->keep_alive = false;
        else
                ret->keep_alive = ret->version_minor == 1 || st.connection_keep_alive;
        /* RFC 9110 section 10.1.1: a 100-continue from an HTTP/1.0 client must be ignored. */
        ret->expect_continue = st.expect_continue && ret->version_minor == 1;

        return (int) (p - buf);
}

const HttpHeader *http_request_header(const HttpRequest *req, const char *name) {
        size_t n;

        assert(req);
        assert(name);

        n = strlen(name);
        for (size_t i = 0; i < req->n_headers; i++) {
                const HttpHeader *h = &req->headers[i];

                if (h->name_len == n && strncasecmp(h->name, name, n) == 0)
                        return h;
        }
        return NULL;
}

/* The chunked decoder's states. CHUNK_SIZE_START is 0 so a zeroed HttpChunked is ready. */
enum {
        CHUNK_SIZE_START,    /* first byte of a chunk-size line: must be a hex digit */
        CHUNK_SIZE,          /* more hex digits, or what ends the size */
        CHUNK_SIZE_BWS,      /* whitespace after the size: only ';' may follow */
        CHUNK_EXT,           /* chunk extensions, skipped up to CR */
        CHUNK_SIZE_LF,       /* LF ending the chunk-size line */
        CHUNK_DATA,          /* c->remaining data bytes to copy */
        CHUNK_DATA_CR,       /* CRLF after the data */
        CHUNK_DATA_LF,
        CHUNK_TRAILER_START, /* first byte of a trailer line, or CR of the final empty line */
        CHUNK_TRAILER_NAME,
        CHUNK_TRAILER_VALUE,
        CHUNK_TRAILER_LF,
        CHUNK_END_LF,        /* LF of the final empty line */
        CHUNK_DONE,
        CHUNK_ERROR,
};

static int chunked_fail(HttpChunked *c) {
        c->state = CHUNK_ERROR;
        return -400;
}

/* Feeds one framing byte (anything but chunk data) to the state machine.
 * Returns 1 when the body is complete, 0 to go on, -400 on malformed framing. */
static int chunked_feed(HttpChunked *c, char ch) {
        int d;

        switch (c->state) {
        case CHUNK_SIZE_START ... CHUNK_EXT:
                if (++c->line_len > HTTP_CHUNKED_MAX_LINE && ch != '\r')
                        return chunked_fail(c);
                break;
        case CHUNK_TRAILER_START ... CHUNK_TRAILER_VALUE:
                /* In the trailer section c->remaining is 0 and free: it counts the section. */
                if ((++c->line_len > HTTP_CHUNKED_MAX_LINE && ch != '\r') ||
                    ++c->remaining > HTTP_CHUNKED_MAX_TRAILERS)
                        return chunked_fail(c);
                break;
        }

        switch (c->state) {
        case CHUNK_SIZE_START:
        case CHUNK_SIZE:
                d = hex_digit(ch);
                if (d >= 0) {
                        if (c->remaining > (HTTP_MAX_BODY_SIZE - d) / 16)
                                return chunked_fail(c);
                        c->remaining = c->remaining * 16 + d;
                        c->state = CHUNK_SIZE;
                        return 0;
                }
                if (c->state == CHUNK_SIZE_START)
                        return chunked_fail(c);
                if (ch == '\r')
                        c->state = CHUNK_SIZE_LF;
                else if (ch == ';')
                        c->state = CHUNK_EXT;
                else if (is_ows(ch))
                        c->state = CHUNK_SIZE_BWS;
                else
                        return chunked_fail(c);
                return 0;

        case CHUNK_SIZE_BWS:
                /* BWS is only allowed before ';' (RFC 9112 section 7.1.1); "5 \r\n" is refused
                 * because parsers disagree about it, which is what smuggling feeds on. */
                if (ch == ';')
                        c->state = CHUNK_EXT;
                else if (!is_ows(ch))
                        return chunked_fail(c);
                return 0;

        case CHUNK_EXT:
                if (ch == '\r')
                        c->state = CHUNK_SIZE_LF;
                else if (!is_value_char(ch))
                        return chunked_fail(c);
                return 0;

        case CHUNK_SIZE_LF:
                if (ch != '\n')
                        return chunked_fail(c);
                c->line_len = 0;
                c->state = c->remaining > 0 ? CHUNK_DATA : CHUNK_TRAILER_START;
                return 0;

        case CHUNK_DATA_CR:
                if (ch != '\r')
                        return chunked_fail(c);
                c->state = CHUNK_DATA_LF;
                return 0;

        case CHUNK_DATA_LF:
                if (ch != '\n')
                        return chunked_fail(c);
                c->state = CHUNK_SIZE_START;
                return 0;

        case CHUNK_TRAILER_START:
                if (ch == '\r')
                        c->state = CHUNK_END_LF;
                else if (is_tchar(ch))
                        c->state = CHUNK_TRAILER_NAME;
                else
                        return chunked_fail(c);
                return 0;

        case CHUNK_TRAILER_NAME:
                if (ch == ':')
                        c->state = CHUNK_TRAILER_VALUE;
                else if (!is_tchar(ch))
                        return chunked_fail(c);
                return 0;

        case CHUNK_TRAILER_VALUE:
                if (ch == '\r')
                        c->state = CHUNK_TRAILER_LF;
                else if (!is_value_char(ch))
                        return chunked_fail(c);
                return 0;

        case CHUNK_TRAILER_LF:
                if (ch != '\n')
                        return chunked_fail(c);
                c->line_len = 0;
                c->state = CHUNK_TRAILER_START;
                return 0;

        case CHUNK_END_LF:
                if (ch != '\n')
                        return chunked_fail(c);
                c->state = CHUNK_DONE;
                return 1;

        default:
                /* CHUNK_DATA is handled by the caller; anything else is a corrupted decoder. */
                return chunked_fail(c);
        }
}

int http_chunked_decode(HttpChunked *c, const char *in, size_t in_len, size_t *ret_in_used,
                        char *out, size_t out_size, size_t *ret_out_len) {
        size_t i = 0, o = 0;
        int r = 0;

        assert(c);
        assert(in || in_len == 0);
        assert(out || out_size == 0);
        assert(ret_in_used);
        assert(ret_out_len);

        if (c->state == CHUNK_DONE)
                r = 1;
        else if (c->state == CHUNK_ERROR)
                r = -400;

        while (r == 0 && i < in_len) {
                if (c->state == CHUNK_DATA) {
                        size_t n = MIN(in_len - i, out_size - o);

                        if (n > c->remaining)
                                n = (size_t) c->remaining;
                        if (n == 0)
                                break; /* out is full */
                        /* o <= i always holds (every output byte consumed an input byte), so
                         * with out == in this moves data backwards over the framing. */
                        if (out + o != in + i)
                                memmove(out + o, in + i, n);
                        i += n;
                        o += n;
                        c->remaining -= n;
                        if (c->remaining == 0)
                                c->state = CHUNK_DATA_CR;
                        continue;
                }
                r = chunked_feed(c, in[i++]);
        }

        *ret_in_used = i;
        *ret_out_len = o;
        return r;
}

const char *http_status_reason(int status) {
        /* RFC 9110 section 15, plus the few from other RFCs that servers actually send. */
        switch (status) {
        case 100: return "Continue";
        case 101: return "Switching Protocols";
        case 103: return "Early Hints";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 203: return "Non-Authoritative Information";
        case 204: return "No Content";
        case 205: return "Reset Content";
        case 206: return "Partial Content";
        case 300: return "Multiple Choices";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 402: return "Payment Required";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 406: return "Not Acceptable";
        case 407: return "Proxy Authentication Required";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 411: return "Length Required";
        case 412: return "Precondition Failed";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 416: return "Range Not Satisfiable";
        case 417: return "Expectation Failed";
        case 421: return "Misdirected Request";
        case 422: return "Unprocessable Content";
        case 425: return "Too Early";
        case 426: return "Upgrade Required";
        case 428: return "Precondition Required";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 451: return "Unavailable For Legal Reasons";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
        }
}

size_t http_percent_decode(char *dst, const char *src, size_t len) {
        size_t i = 0, o = 0;

        assert(dst || len == 0);
        assert(src || len == 0);

        /* o <= i throughout, so dst == src is safe. '+' is left alone: it means a space only
         * in form bodies and queries, which is the application's business. */
        while (i < len) {
                int hi, lo;

                if (src[i] == '%' && len - i >= 3 &&
                    (hi = hex_digit(src[i + 1])) >= 0 && (lo = hex_digit(src[i + 2])) >= 0) {
                        dst[o++] = (char) (hi << 4 | lo);
                        i += 3;
                } else
                        dst[o++] = src[i++];
        }
        return o;
}
