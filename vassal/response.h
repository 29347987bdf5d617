/* SPDX-License-Identifier: MIT */
#pragma once

/* The response to a Request (request.h): the status line and the app's headers, validated and
 * kept until the head goes out; the framing (Content-Length, chunked, "Connection: close") is
 * decided here from what the app gave, the protocol and the HTTP version; the body written
 * from iovecs or a file (sendfile(2)). Sends through request.c's socket I/O, so it waits for
 * the client the same way (r->on_wait, the gevent hook). */

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "request.h"

/* The response. status_text is "200 OK". Headers are validated: a name that is not a token or
 * a value with CR, LF or NUL is refused with -EINVAL. Content-Length is remembered; the
 * hop-by-hop Connection, Keep-Alive and Transfer-Encoding headers are ours to set and dropped. */
int response_start(Request *r, const char *status_text, size_t len);
int response_add_header(Request *r, const char *name, size_t name_len, const char *value,
                        size_t value_len);
/* Adds "Content-Length: len" unless the app gave one or the head is out (a list's total). */
int response_set_length(Request *r, uint64_t len);
/* Discards a started response that has not been sent (start_response with exc_info). */
void response_restart(Request *r);
/* Sends the head if it has not been sent, then the body pieces, framed (chunked when the length
 * is unknown on HTTP/1.1). Returns 0 or -errno; once it failed, every later call fails. */
int response_write(Request *r, const struct iovec *iov, int n);
/* Sends count bytes of fd from offset with sendfile(2). */
int response_sendfile(Request *r, int fd, off_t offset, uint64_t count);
/* What out_defer keeps at most: a small response, head and body. */
#define RESPONSE_OUT_SIZE 16384
/* Sends what out_defer kept, and ends deferring: the rest of the response goes out as it is
 * written. wsgi.c defers a response the app gave whole (a list), to send it once it let go of
 * the GIL: a sendmsg() on loopback runs the whole TCP path, the receiver's too, and under the
 * GIL every other thread of the worker waits for it. Returns 0 or -errno. */
int response_flush(Request *r);
/* Ends the response (the head if nothing was sent, the last chunk). Returns 0 or -errno. */
int response_finish(Request *r);
/* Sends a complete plain-text error response when nothing was sent yet, and marks the
 * connection to be closed. */
void response_error(Request *r, int status);
