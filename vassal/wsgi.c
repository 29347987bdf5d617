/* SPDX-License-Identifier: MIT */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "response.h"
#include "wsgi.h"

#ifndef PYTHON_EXECUTABLE
#define PYTHON_EXECUTABLE "/usr/bin/python3"
#endif

/* The first failure to set up Python or load the app, one line, for STATUS= on EX_CONFIG. */
static char error_message[512];

const char *wsgi_error(void) {
        return error_message[0] ? error_message : NULL;
}

/* Logs a setup failure and keeps the first one for wsgi_error(). %m is strerror(error). */
_printf_(2, 3) static int wsgi_fail(int error, const char *fmt, ...) {
        char line[sizeof(error_message)];
        va_list ap;

        errno = abs(error);
        va_start(ap, fmt);
        (void) vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        for (char *c = line; *c; c++)
                if (*c == '\n' || *c == '\r')
                        *c = ' ';
        if (!error_message[0])
                memcpy(error_message, line, sizeof(line));
        log_error("%s", line);
        return -abs(error);
}

/* The exception in flight as "Type: message", left in flight. */
static void exception_line(char *buf, size_t size) {
        PyObject *type, *value, *tb;

        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        PyObject *str = value ? PyObject_Str(value) : NULL;
        const char *msg = str ? PyUnicode_AsUTF8(str) : NULL;
        if (!msg)
                PyErr_Clear();
        (void) snprintf(buf, size, "%s%s%s",
                        type && PyType_Check(type) ? ((PyTypeObject *) type)->tp_name : "Exception",
                        msg && *msg ? ": " : "", msg ? msg : "");
        Py_XDECREF(str);
        PyErr_Restore(type, value, tb);
}

/* The app and what every request shares. Set once before the workers fork. */
static PyObject *wsgi_app; /* NULL with need-app = false and an app that did not load */
static bool wsgi_ready;
static const VassalConfig *wsgi_cfg; /* add-header, mount: the process's config */
static PyThreadState *main_state;

/* ---- wsgi.input ---- */

typedef struct {
        PyObject_HEAD
        Request *req; /* NULL once the request is over: reading then raises */
        char *pending; /* bytes read from the body but not yet returned (readline) */
        size_t pending_len, pending_off, pending_size;
} Input;

static PyObject *input_error(Input *in, ssize_t n) {
        (void) in;
        switch (-n) {
        case ETIMEDOUT:
                return PyErr_Format(PyExc_OSError, "timed out reading the request body");
        case ECONNRESET:
                return PyErr_Format(PyExc_OSError, "client disconnected while sending the body");
        case EFBIG:
                return PyErr_Format(PyExc_OSError, "request body larger than limit-post");
        case EBADMSG:
                return PyErr_Format(PyExc_OSError, "malformed chunked request body");
        default:
                errno = (int) -n;
                return PyErr_SetFromErrno(PyExc_OSError);
        }
}

/* Reads up to size body bytes into buf. The GIL is let go of only if the client has to be
 * waited for (the request's on_wait): a body already received is copied at once. */
static ssize_t input_raw(Input *in, char *buf, size_t size) {
        return request_read_body(in->req, buf, size);
}

static bool input_check(Input *in) {
        if (!in->req) {
                PyErr_SetString(PyExc_ValueError, "wsgi.input used after its request ended");
                return false;
        }
        return true;
}

/* read(size=-1): up to size bytes, fewer only at the end of the body. */
static PyObject *input_read(Input *in, PyObject *args) {
        Py_ssize_t size = -1;
        if (!PyArg_ParseTuple(args, "|n:read", &size) || !input_check(in))
                return NULL;

        size_t cap = size >= 0 ? (size_t) size : 65536, len = 0;
        PyObject *b = PyBytes_FromStringAndSize(NULL, cap);
        if (!b)
                return NULL;
        for (;;) {
                if (size >= 0 && len == (size_t) size)
                        break;
                if (len == cap) {
                        cap *= 2;
                        if (_PyBytes_Resize(&b, cap) < 0)
                                return NULL;
                }
                char *p = PyBytes_AS_STRING(b) + len;
                size_t want = cap - len;
                if (in->pending_off < in->pending_len) {
                        size_t n = MIN(want, in->pending_len - in->pending_off);
                        memcpy(p, in->pending + in->pending_off, n);
                        in->pending_off += n;
                        len += n;
                        continue;
                }
                ssize_t n = input_raw(in, p, want);
                if (n < 0) {
                        Py_DECREF(b);
                        return input_error(in, n);
                }
                if (n == 0)
                        break;
                len += n;
        }
        if (len != cap && _PyBytes_Resize(&b, len) < 0)
                return NULL;
        return b;
}

/* Makes sure pending has unread bytes; returns false at the end of the body or on error. */
static int input_fill(Input *in) {
        if (in->pending_off < in->pending_len)
                return 1;
        if (!in->pending) {
                in->pending_size = 16384;
                in->pending = PyMem_Malloc(in->pending_size);
                if (!in->pending) {
                        PyErr_NoMemory();
                        return -1;
                }
        }
        ssize_t n = input_raw(in, in->pending, in->pending_size);
        if (n < 0) {
                input_error(in, n);
                return -1;
        }
        in->pending_off = 0;
        in->pending_len = n;
        return n > 0;
}

static PyObject *input_readline_impl(Input *in, Py_ssize_t size) {
        PyObject *out = NULL;
        size_t len = 0;

        for (;;) {
                int k = input_fill(in);
                if (k < 0) {
                        Py_XDECREF(out);
                        return NULL;
                }
                if (k == 0)
                        break;
                const char *p = in->pending + in->pending_off;
                size_t avail = in->pending_len - in->pending_off;
                if (size >= 0)
                        avail = MIN(avail, (size_t) size - len);
                const char *nl = memchr(p, '\n', avail);
                size_t take = nl ? (size_t) (nl - p) + 1 : avail;

                if (!out)
                        out = PyBytes_FromStringAndSize(p, take);
                else if (_PyBytes_Resize(&out, len + take) == 0)
                        memcpy(PyBytes_AS_STRING(out) + len, p, take);
                if (!out)
                        return NULL;
                len += take;
                in->pending_off += take;
                if (nl || (size >= 0 && len >= (size_t) size))
                        break;
        }
        return out ? out : PyBytes_FromStringAndSize("", 0);
}

static PyObject *input_readline(Input *in, PyObject *args) {
        Py_ssize_t size = -1;
        if (!PyArg_ParseTuple(args, "|n:readline", &size) || !input_check(in))
                return NULL;
        return input_readline_impl(in, size);
}

static PyObject *input_readlines(Input *in, PyObject *args) {
        Py_ssize_t hint = -1, total = 0;
        if (!PyArg_ParseTuple(args, "|n:readlines", &hint) || !input_check(in))
                return NULL;
        PyObject *list = PyList_New(0);
        if (!list)
                return NULL;
        for (;;) {
                PyObject *line = input_readline_impl(in, -1);
                if (!line) {
                        Py_DECREF(list);
                        return NULL;
                }
                Py_ssize_t n = PyBytes_GET_SIZE(line);
                if (n == 0) {
                        Py_DECREF(line);
                        break;
                }
                int k = PyList_Append(list, line);
                Py_DECREF(line);
                if (k < 0) {
                        Py_DECREF(list);
                        return NULL;
                }
                total += n;
                if (hint > 0 && total >= hint)
                        break;
        }
        return list;
}

static PyObject *input_iternext(Input *in) {
        if (!input_check(in))
                return NULL;
        PyObject *line = input_readline_impl(in, -1);
        if (line && PyBytes_GET_SIZE(line) == 0) {
                Py_DECREF(line);
                return NULL; /* StopIteration */
        }
        return line;
}

static void input_dealloc(Input *in) {
        PyMem_Free(in->pending);
        PyObject_Free(in);
}

static PyMethodDef input_methods[] = {
        { "read", (PyCFunction) input_read, METH_VARARGS, "read([size]) -> bytes" },
        { "readline", (PyCFunction) input_readline, METH_VARARGS, "readline([size]) -> bytes" },
        { "readlines", (PyCFunction) input_readlines, METH_VARARGS, "readlines([hint]) -> list" },
        { NULL, NULL, 0, NULL },
};

static PyTypeObject InputType = {
        PyVarObject_HEAD_INIT(NULL, 0)
        .tp_name = "vassal.Input",
        .tp_basicsize = sizeof(Input),
        .tp_dealloc = (destructor) input_dealloc,
        .tp_flags = Py_TPFLAGS_DEFAULT,
        .tp_doc = "wsgi.input: the request body",
        .tp_iter = PyObject_SelfIter,
        .tp_iternext = (iternextfunc) input_iternext,
        .tp_methods = input_methods,
};

/* ---- wsgi.file_wrapper ---- */

typedef struct {
        PyObject_HEAD
        PyObject *filelike;
        Py_ssize_t blksize;
} FileWrapper;

static int filewrapper_init(FileWrapper *self, PyObject *args, PyObject *kw) {
        static char *kwlist[] = { "filelike", "blksize", NULL };
        PyObject *f;
        self->blksize = 8192;
        if (!PyArg_ParseTupleAndKeywords(args, kw, "O|n:file_wrapper", kwlist, &f, &self->blksize))
                return -1;
        if (self->blksize <= 0)
                self->blksize = 8192;
        Py_XSETREF(self->filelike, Py_NewRef(f));
        return 0;
}

static PyObject *filewrapper_iternext(FileWrapper *self) {
        PyObject *data = PyObject_CallMethod(self->filelike, "read", "n", self->blksize);
        if (!data)
                return NULL;
        if (PyObject_Length(data) == 0) {
                Py_DECREF(data);
                return NULL;
        }
        return data;
}

static PyObject *filewrapper_close(FileWrapper *self, PyObject *unused) {
        (void) unused;
        if (PyObject_HasAttrString(self->filelike, "close"))
                return PyObject_CallMethod(self->filelike, "close", NULL);
        Py_RETURN_NONE;
}

static void filewrapper_dealloc(FileWrapper *self) {
        Py_XDECREF(self->filelike);
        Py_TYPE(self)->tp_free(self);
}

static PyMethodDef filewrapper_methods[] = {
        { "close", (PyCFunction) filewrapper_close, METH_NOARGS, "close the file" },
        { NULL, NULL, 0, NULL },
};

static PyTypeObject FileWrapperType = {
        PyVarObject_HEAD_INIT(NULL, 0)
        .tp_name = "vassal.FileWrapper",
        .tp_basicsize = sizeof(FileWrapper),
        .tp_dealloc = (destructor) filewrapper_dealloc,
        .tp_flags = Py_TPFLAGS_DEFAULT,
        .tp_doc = "wsgi.file_wrapper: served with sendfile(2) when the file has a fileno()",
        .tp_iter = PyObject_SelfIter,
        .tp_iternext = (iternextfunc) filewrapper_iternext,
        .tp_methods = filewrapper_methods,
        .tp_init = (initproc) filewrapper_init,
        .tp_new = PyType_GenericNew,
};

/* ---- start_response and write ---- */

typedef struct {
        PyObject_HEAD
        Request *req;
} Responder;

static Request *responder_req(Responder *self) {
        if (!self->req)
                PyErr_SetString(PyExc_RuntimeError, "start_response used outside its request");
        return self->req;
}

/* Encodes a native string (PEP 3333: str holding latin-1 code points) to bytes. */
static PyObject *native_bytes(PyObject *s, const char *what) {
        if (!PyUnicode_Check(s))
                return PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what,
                                    Py_TYPE(s)->tp_name);
        PyObject *b = PyUnicode_AsLatin1String(s);
        if (!b) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError, "%s %R is not latin-1", what, s);
        }
        return b;
}

static int add_headers(Request *req, PyObject *headers) {
        PyObject *seq = PySequence_Fast(headers, "response headers must be a list of tuples");
        if (!seq)
                return -1;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        for (Py_ssize_t i = 0; i < n; i++) {
                PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
                if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
                        PyErr_SetString(PyExc_TypeError,
                                        "each response header must be a (name, value) tuple");
                        Py_DECREF(seq);
                        return -1;
                }
                PyObject *name = native_bytes(PyTuple_GET_ITEM(item, 0), "header name");
                PyObject *value = name ? native_bytes(PyTuple_GET_ITEM(item, 1), "header value")
                                       : NULL;
                int k = -1;
                if (value) {
                        k = response_add_header(req, PyBytes_AS_STRING(name),
                                                PyBytes_GET_SIZE(name), PyBytes_AS_STRING(value),
                                                PyBytes_GET_SIZE(value));
                        if (k < 0)
                                PyErr_Format(PyExc_ValueError,
                                             "invalid response header %R: %R (CR, LF or "
                                             "another control character, or a bad name)",
                                             PyTuple_GET_ITEM(item, 0), PyTuple_GET_ITEM(item, 1));
                }
                Py_XDECREF(name);
                Py_XDECREF(value);
                if (k < 0) {
                        Py_DECREF(seq);
                        return -1;
                }
        }
        Py_DECREF(seq);
        return 0;
}

static PyObject *responder_start_response(Responder *self, PyObject *args) {
        PyObject *status, *headers, *exc_info = Py_None;
        Request *req = responder_req(self);

        if (!req || !PyArg_ParseTuple(args, "OO|O:start_response", &status, &headers, &exc_info))
                return NULL;

        if (exc_info != Py_None) {
                if (req->head_sent) {
                        /* Too late to change the response: re-raise, as PEP 3333 says. */
                        PyObject *t, *v, *tb;
                        if (!PyArg_ParseTuple(exc_info, "OOO", &t, &v, &tb))
                                return NULL;
                        PyErr_Restore(Py_NewRef(t), Py_NewRef(v), Py_NewRef(tb));
                        return NULL;
                }
                response_restart(req);
        } else if (req->started) {
                PyErr_SetString(PyExc_RuntimeError,
                                "start_response called a second time without exc_info");
                return NULL;
        }

        PyObject *sb = native_bytes(status, "status");
        if (!sb)
                return NULL;
        int k = response_start(req, PyBytes_AS_STRING(sb), PyBytes_GET_SIZE(sb));
        Py_DECREF(sb);
        if (k < 0)
                return PyErr_Format(PyExc_ValueError, "invalid status %R", status);
        if (add_headers(req, headers) < 0) {
                response_restart(req);
                return NULL;
        }
        /* add-header: after the app's own; checked when the config was loaded. */
        for (char **h = wsgi_cfg ? wsgi_cfg->add_header : NULL; h && *h; h++) {
                const char *colon = strchr(*h, ':'), *v = colon + 1;
                v += strspn(v, " \t");
                if (response_add_header(req, *h, colon - *h, v, strlen(v)) < 0) {
                        response_restart(req);
                        return PyErr_Format(PyExc_ValueError, "add-header '%s' is not a valid "
                                            "header", *h);
                }
        }
        return PyObject_GetAttrString((PyObject *) self, "write");
}

/* Sends with the GIL held: the socket is non-blocking, and the GIL is let go of only to wait
 * for a client that does not take the bytes (the request's on_wait). */
static int send_iov(Request *req, const struct iovec *iov, int n) {
        return response_write(req, iov, n);
}

static PyObject *responder_write(Responder *self, PyObject *data) {
        Request *req = responder_req(self);
        Py_buffer view;

        if (!req)
                return NULL;
        if (!req->started) {
                PyErr_SetString(PyExc_RuntimeError, "write() called before start_response()");
                return NULL;
        }
        if (!PyBytes_Check(data))
                return PyErr_Format(PyExc_TypeError, "write() takes bytes, not %.100s",
                                    Py_TYPE(data)->tp_name);
        if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
                return NULL;
        struct iovec iov = { view.buf, view.len };
        int k = send_iov(req, &iov, 1);
        PyBuffer_Release(&view);
        if (k < 0) {
                errno = -k;
                return PyErr_SetFromErrno(PyExc_OSError);
        }
        Py_RETURN_NONE;
}

static PyMethodDef responder_methods[] = {
        { "start_response", (PyCFunction) responder_start_response, METH_VARARGS,
          "start_response(status, headers, exc_info=None)" },
        { "write", (PyCFunction) responder_write, METH_O, "write(data)" },
        { NULL, NULL, 0, NULL },
};

static PyTypeObject ResponderType = {
        PyVarObject_HEAD_INIT(NULL, 0)
        .tp_name = "vassal.Responder",
        .tp_basicsize = sizeof(Responder),
        .tp_flags = Py_TPFLAGS_DEFAULT,
        .tp_methods = responder_methods,
};

/* ---- interpreter and app ---- */

bool wsgi_initialized(void) {
        return Py_IsInitialized();
}

/* A virtualenv made by another Python (pyenv's, say) would load its stdlib into our libpython
 * with no error at all: refuse it, saying why. */
static int check_virtualenv(const char *venv, char *exe, size_t exe_size) {
        char cfg_path[PATH_MAX + 16], line[1024], home[PATH_MAX] = "", version[64] = "";

        if (snprintf(exe, exe_size, "%s/bin/python", venv) >= (int) exe_size)
                return wsgi_fail(ENAMETOOLONG, "virtualenv '%s': path too long", venv);
        if (access(exe, X_OK) < 0)
                return wsgi_fail(errno, "virtualenv '%s': no bin/python: %m", venv);
        (void) snprintf(cfg_path, sizeof(cfg_path), "%s/pyvenv.cfg", venv);
        FILE *f = fopen(cfg_path, "re");
        if (!f)
                return wsgi_fail(errno, "virtualenv '%s': cannot read pyvenv.cfg: %m", venv);
        while (fgets(line, sizeof(line), f)) {
                char *eq = strchr(line, '=');
                if (!eq)
                        continue;
                *eq = 0;
                char *k = line, *v = eq + 1;
                while (*k == ' ')
                        k++;
                for (char *e = k + strlen(k); e > k && e[-1] == ' '; e--)
                        e[-1] = 0;
                v += strspn(v, " ");
                v[strcspn(v, "\r\n")] = 0;
                if (streq(k, "home"))
                        (void) snprintf(home, sizeof(home), "%s", v);
                else if (streq(k, "version") || streq(k, "version_info"))
                        (void) snprintf(version, sizeof(version), "%s", v);
        }
        fclose(f);

        char want[32];
        (void) snprintf(want, sizeof(want), "%d.%d.", PY_MAJOR_VERSION, PY_MINOR_VERSION);
        if (version[0] && strncmp(version, want, strlen(want)) != 0)
                return wsgi_fail(EINVAL,
                                       "virtualenv '%s' is for Python %s, but this vassal embeds "
                                       "Python %d.%d", venv, version, PY_MAJOR_VERSION,
                                       PY_MINOR_VERSION);
        if (home[0]) {
                char a[PATH_MAX], b[PATH_MAX], candidate[PATH_MAX + 32];
                (void) snprintf(candidate, sizeof(candidate), "%s/python%d.%d", home,
                                PY_MAJOR_VERSION, PY_MINOR_VERSION);
                if (!realpath(candidate, a) || !realpath(PYTHON_EXECUTABLE, b) || !streq(a, b))
                        return wsgi_fail(EINVAL,
                                               "virtualenv '%s' was made by another Python "
                                               "(home = %s), not %s: recreate it with '%s -m venv'",
                                               venv, home, PYTHON_EXECUTABLE, PYTHON_EXECUTABLE);
        }
        return 0;
}

static int sys_path_insert(Py_ssize_t index, const char *dir) {
        PyObject *path = PySys_GetObject("path"); /* borrowed */
        PyObject *s = PyUnicode_DecodeFSDefault(dir);
        int k = s && path ? PyList_Insert(path, index, s) : -1;
        Py_XDECREF(s);
        return k;
}

/* The GIL's switch interval. A thread waiting for the GIL wakes up every interval to ask for
 * it (CPython's take_gil: a timed wait on a condition variable, then the mutex again), so with
 * hundreds of threads waiting at once the waiters alone make tens of thousands of futex
 * wake-ups a second, fight over the GIL's mutex, and the worker's CPU goes there instead of to
 * the app (perf: pthread_cond_timedwait, lll_lock_wait/wake); every request pays, and a worker
 * of 1000 threads served 450-800 requests a second of a 0.2 s app instead of 2200 (ab -c 1000,
 * 2 processes). The interval is also how long a thread running Python may keep the GIL while
 * others wait, so it stays Python's 5 ms up to 100 threads and grows past that by 1 ms per 20
 * threads, to 100 ms at most: about as many wake-ups whatever the thread count. The app may
 * still call sys.setswitchinterval() itself; `switch-interval` sets it here. */
static int set_switch_interval(const VassalConfig *c) {
        int64_t ms = c->switch_interval;
        if (ms == 0)
                ms = MIN(MAX(c->threads / 20, (int64_t) 5), (int64_t) 100);
        PyObject *sys = PyImport_ImportModule("sys");
        PyObject *res = sys ? PyObject_CallMethod(sys, "setswitchinterval", "d", ms / 1000.0)
                            : NULL;
        Py_XDECREF(sys);
        if (!res)
                return -1;
        Py_DECREF(res);
        return 0;
}

int wsgi_init(const VassalConfig *c) {
        char exe[PATH_MAX] = PYTHON_EXECUTABLE;
        PyStatus st;
        PyConfig cfg;
        int r;

        if (c->virtualenv) {
                r = check_virtualenv(c->virtualenv, exe, sizeof(exe));
                if (r < 0)
                        return r;
        }

        wsgi_cfg = c;
        PyConfig_InitIsolatedConfig(&cfg);
        cfg.site_import = 1;          /* Debian's dist-packages come from site.py */
        cfg.buffered_stdio = 0;       /* app prints reach the log at once, in order */
        cfg.install_signal_handlers = 0; /* signals are the master's and workers' C code's */
        /* Without an executable, getpath searches $PATH for python3 and may pick another
         * installation's stdlib (see PLATFORM.md). */
        st = PyConfig_SetBytesString(&cfg, &cfg.executable, exe);
        if (!PyStatus_Exception(st))
                st = PyConfig_SetBytesString(&cfg, &cfg.program_name, exe);
        if (!PyStatus_Exception(st)) {
                /* sys.argv: "vassal", then pyargv's words. */
                _cleanup_free_ char *words = c->pyargv ? strdup(c->pyargv) : NULL;
                char *argv[64] = { (char *) "vassal" };
                int argc = 1;
                for (char *w = words ? strtok(words, " \t") : NULL;
                     w && argc < (int) ELEMENTSOF(argv) - 1; w = strtok(NULL, " \t"))
                        argv[argc++] = w;
                if (c->pyargv && !words)
                        return log_oom();
                st = PyConfig_SetBytesArgv(&cfg, argc, argv);
        }
        if (!PyStatus_Exception(st))
                st = Py_InitializeFromConfig(&cfg);
        PyConfig_Clear(&cfg);
        if (PyStatus_Exception(st))
                return wsgi_fail(EINVAL, "Failed to initialise Python: %s",
                                       strempty(st.err_msg));

        if (PyType_Ready(&InputType) < 0 || PyType_Ready(&FileWrapperType) < 0 ||
            PyType_Ready(&ResponderType) < 0) {
                PyErr_Print();
                return wsgi_fail(EINVAL, "Failed to set up Python types");
        }
        if (set_switch_interval(c) < 0) {
                PyErr_Print();
                return wsgi_fail(EINVAL, "Failed to set the switch interval");
        }

        /* sys.path: the working directory first (uWSGI does the same for module=), then every
         * pythonpath entry in order, ahead of the stdlib. */
        char cwd[PATH_MAX];
        Py_ssize_t at = 0;
        if (getcwd(cwd, sizeof(cwd)) && sys_path_insert(at++, cwd) < 0)
                goto fail;
        for (char **p = c->pythonpath; p && *p; p++)
                if (sys_path_insert(at++, *p) < 0)
                        goto fail;
        return 0;
fail:
        PyErr_Print();
        return wsgi_fail(EINVAL, "Failed to set sys.path");
}

static PyObject *load_wsgi_file(const char *path) {
        char full[PATH_MAX], name[PATH_MAX + 16];
        PyObject *util = NULL, *spec = NULL, *mod = NULL, *loader = NULL, *res = NULL;

        if (!realpath(path, full)) {
                (void) wsgi_fail(errno, "wsgi-file '%s': %m", path);
                return NULL;
        }
        /* A module name from the path, as uWSGI does: /srv/app/wsgi.py -> uwsgi_file__srv_app_wsgi */
        size_t n = snprintf(name, sizeof(name), "uwsgi_file_%s", full);
        for (size_t i = 11; i < n; i++)
                if (!isalnum((unsigned char) name[i]))
                        name[i] = '_';
        if (n > 14 && streq(name + n - 3, "_py"))
                name[n - 3] = 0;

        /* The file's directory goes on sys.path so its sibling modules import. */
        char dir[PATH_MAX];
        (void) snprintf(dir, sizeof(dir), "%s", full);
        char *slash = strrchr(dir, '/');
        if (slash) {
                *slash = 0;
                if (sys_path_insert(0, dir[0] ? dir : "/") < 0)
                        goto finish;
        }

        util = PyImport_ImportModule("importlib.util");
        if (!util)
                goto finish;
        spec = PyObject_CallMethod(util, "spec_from_file_location", "ss", name, full);
        if (!spec || spec == Py_None) {
                if (spec == Py_None)
                        PyErr_Format(PyExc_ImportError, "cannot load '%s' as Python", full);
                goto finish;
        }
        mod = PyObject_CallMethod(util, "module_from_spec", "O", spec);
        if (!mod)
                goto finish;
        if (PyDict_SetItemString(PyImport_GetModuleDict(), name, mod) < 0)
                goto finish;
        loader = PyObject_GetAttrString(spec, "loader");
        if (!loader)
                goto finish;
        res = PyObject_CallMethod(loader, "exec_module", "O", mod);
finish:
        Py_XDECREF(util);
        Py_XDECREF(spec);
        Py_XDECREF(loader);
        if (!res) {
                Py_XDECREF(mod);
                return NULL;
        }
        Py_DECREF(res);
        return mod;
}

/* gevent = N: gevent must import (a clear EX_CONFIG now, not a worker failing later), and with
 * gevent-early-monkey-patch it patches the stdlib before the app imports it. */
static int prepare_gevent(const VassalConfig *c) {
        const char *code = c->gevent_early_monkey_patch
                                   ? "from gevent import monkey\nmonkey.patch_all()\n"
                                   : "import gevent\n";
        PyObject *globals = PyDict_New(), *res = NULL;

        if (globals && PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0)
                res = PyRun_String(code, Py_file_input, globals, globals);
        Py_XDECREF(globals);
        if (!res) {
                char exc[400] = "";
                if (PyErr_Occurred()) {
                        exception_line(exc, sizeof(exc));
                        PyErr_Clear();
                }
                return wsgi_fail(ENOENT, "gevent = %lld: %s gevent failed: %s (install "
                                 "python3-gevent, or gevent in the virtualenv)",
                                 (long long) c->gevent,
                                 c->gevent_early_monkey_patch ? "monkey-patching with" :
                                                                "importing", exc);
        }
        Py_DECREF(res);
        return 0;
}

/* gc-freeze: once the app is imported, its garbage is collected and every object left (the
 * modules, the framework, the app: a Flask app is about 100k objects) moves to the permanent
 * generation, which the collector never walks again. Otherwise every full collection in a
 * worker walks them all with the GIL held, and every request of the worker waits: under wrk,
 * Flask's p99 was 120-220 ms with it, 21 ms without (uWSGI: 37 ms). The pages those objects
 * live on also stay shared with the master after fork (a walk writes to each object's header).
 * Frozen objects are never freed, which is what import-time objects are for anyway. */
static void gc_freeze(void) {
        PyObject *gc = PyImport_ImportModule("gc");
        PyObject *res = gc ? PyObject_CallMethod(gc, "collect", NULL) : NULL;
        Py_XDECREF(res);
        res = res ? PyObject_CallMethod(gc, "freeze", NULL) : NULL;
        Py_XDECREF(gc);
        if (!res) {
                PyErr_Print();
                log_warning("Failed to freeze the app's objects (gc.freeze()), ignoring");
                return;
        }
        Py_DECREF(res);
}

int wsgi_load_app(const VassalConfig *c) {
        _cleanup_free_ char *modname = NULL;
        const char *callable = c->callable ?: "application";
        PyObject *mod;

        if (c->gevent > 0) {
                int r = prepare_gevent(c);
                if (r < 0)
                        return r;
        }
        if (!c->module && !c->wsgi_file)
                return wsgi_fail(ENOENT, "no app configured (module, wsgi-file or mount)");
        if (c->module) {
                modname = strdup(c->module);
                if (!modname)
                        return log_oom();
                char *colon = strchr(modname, ':');
                if (colon) {
                        *colon = 0;
                        callable = c->module + (colon - modname) + 1;
                }
                mod = PyImport_ImportModule(modname);
        } else
                mod = load_wsgi_file(c->wsgi_file);

        const char *what = c->module ? c->module : c->wsgi_file;
        if (!mod) {
                char exc[400] = "";
                if (PyErr_Occurred()) {
                        exception_line(exc, sizeof(exc));
                        PyErr_Print();
                }
                return wsgi_fail(ENOENT, "Failed to import the app '%s'%s%s", what,
                                 exc[0] ? ": " : "", exc);
        }
        wsgi_app = PyObject_GetAttrString(mod, callable);
        Py_DECREF(mod);
        if (!wsgi_app || !PyCallable_Check(wsgi_app)) {
                PyErr_Clear();
                Py_CLEAR(wsgi_app);
                return wsgi_fail(ENOENT, "The app '%s' has no callable '%s'", what,
                                       callable);
        }
        if (c->gc_freeze)
                gc_freeze();
        wsgi_ready = true;
        log_info("app '%s' loaded (callable '%s')", what, callable);
        return 0;
}

void wsgi_before_fork(void) {
        if (Py_IsInitialized())
                PyOS_BeforeFork();
}

void wsgi_after_fork_parent(void) {
        if (Py_IsInitialized())
                PyOS_AfterFork_Parent();
}

void wsgi_after_fork_child(void) {
        if (Py_IsInitialized())
                PyOS_AfterFork_Child();
}

bool wsgi_module_changed(const struct timespec *since, char *buf, size_t size) {
        bool changed = false;

        if (!Py_IsInitialized())
                return false;
        PyGILState_STATE g = PyGILState_Ensure();
        /* A copy: stat() does not import, but the list must not change under the loop. */
        PyObject *mods = PyDict_Values(PyImport_GetModuleDict());
        for (Py_ssize_t i = 0; mods && i < PyList_GET_SIZE(mods) && !changed; i++) {
                PyObject *file = PyObject_GetAttrString(PyList_GET_ITEM(mods, i), "__file__");
                const char *path = file && PyUnicode_Check(file) ? PyUnicode_AsUTF8(file) : NULL;
                struct stat st;
                if (path && stat(path, &st) == 0 &&
                    (st.st_mtim.tv_sec > since->tv_sec ||
                     (st.st_mtim.tv_sec == since->tv_sec && st.st_mtim.tv_nsec > since->tv_nsec))) {
                        snprintf(buf, size, "%s", path);
                        changed = true;
                }
                Py_XDECREF(file);
                PyErr_Clear(); /* builtins have no __file__; namespace packages have None */
        }
        Py_XDECREF(mods);
        PyErr_Clear();
        PyGILState_Release(g);
        return changed;
}

void wsgi_release_main(void) {
        if (Py_IsInitialized() && !main_state)
                main_state = PyEval_SaveThread();
}

/* Every other Python thread's stack, formatted by traceback, as a list of lines in `lines`.
 * Threads our C code made have a name only once the app asked threading for it. */
static const char stacks_code[] =
        "import sys, threading, traceback\n"
        "names = {t.ident: t.name for t in threading.enumerate()}\n"
        "me = threading.get_ident()\n"
        "lines = []\n"
        "for ident, frame in sorted(sys._current_frames().items()):\n"
        "    if ident == me:\n"
        "        continue\n"
        "    name = \" '%s'\" % names[ident] if ident in names else ''\n"
        "    lines.append('Python thread %#x%s, most recent call last:' % (ident, name))\n"
        "    for entry in traceback.format_stack(frame):\n"
        "        lines.extend(entry.rstrip('\\n').split('\\n'))\n"
        "if not lines:\n"
        "    lines.append('no Python thread is running code')\n";

void wsgi_log_stacks(void) {
        if (!Py_IsInitialized())
                return;
        /* A thread in time.sleep() or in socket I/O has let go of the GIL; one running Python
         * hands it over within the switch interval. One stuck in C holding it keeps us here,
         * and the master's SIGKILL ends the wait. */
        PyGILState_STATE gil = PyGILState_Ensure();
        PyObject *globals = PyDict_New(), *res = NULL, *lines = NULL;
        if (globals && PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0)
                res = PyRun_String(stacks_code, Py_file_input, globals, globals);
        if (res)
                lines = PyDict_GetItemString(globals, "lines"); /* borrowed */
        if (lines && PyList_Check(lines)) {
                for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lines); i++) {
                        const char *line = PyUnicode_Check(PyList_GET_ITEM(lines, i))
                                                   ? PyUnicode_AsUTF8(PyList_GET_ITEM(lines, i))
                                                   : NULL;
                        if (line)
                                log_warning("%s", line);
                }
        }
        if (PyErr_Occurred()) {
                char exc[400];
                exception_line(exc, sizeof(exc));
                PyErr_Clear();
                log_warning("Failed to format the Python stacks: %s", exc);
        }
        Py_XDECREF(res);
        Py_XDECREF(globals);
        PyGILState_Release(gil);
}

/* ---- per thread ---- */

struct WsgiThread {
        PyGILState_STATE gil;
        PyThreadState *ts;
        Responder *responder;
        PyObject *start_response;
        PyObject *environ_template;
        char *scratch;
};

/* Interned environ keys used on every request. */
static PyObject *key_input, *key_scheme;

WsgiThread *wsgi_thread_new(const VassalConfig *c) {
        WsgiThread *t = calloc(1, sizeof(*t));
        if (!t) {
                log_oom();
                return NULL;
        }
        t->gil = PyGILState_Ensure();

        if (!key_input) {
                key_input = PyUnicode_InternFromString("wsgi.input");
                key_scheme = PyUnicode_InternFromString("wsgi.url_scheme");
        }
        t->responder = PyObject_New(Responder, &ResponderType);
        if (t->responder)
                t->responder->req = NULL;
        t->start_response = t->responder
                                    ? PyObject_GetAttrString((PyObject *) t->responder,
                                                             "start_response")
                                    : NULL;
        PyObject *d = t->environ_template = PyDict_New();
        PyObject *version = Py_BuildValue("(ii)", 1, 0);
        PyObject *errors = PySys_GetObject("stderr"); /* borrowed */
        bool ok = t->start_response && d && version && errors && key_input && key_scheme &&
                  PyDict_SetItemString(d, "wsgi.version", version) == 0 &&
                  PyDict_SetItemString(d, "wsgi.errors", errors) == 0 &&
                  PyDict_SetItemString(d, "wsgi.multithread",
                                       c->threads > 1 ? Py_True : Py_False) == 0 &&
                  PyDict_SetItemString(d, "wsgi.multiprocess",
                                       c->processes > 1 ? Py_True : Py_False) == 0 &&
                  PyDict_SetItemString(d, "wsgi.run_once", Py_False) == 0 &&
                  /* read() returns b"" at the end of every body, chunked ones too, so apps
                   * (werkzeug) may read without a Content-Length. */
                  PyDict_SetItemString(d, "wsgi.input_terminated", Py_True) == 0 &&
                  PyDict_SetItemString(d, "wsgi.file_wrapper", (PyObject *) &FileWrapperType) ==
                          0;
        Py_XDECREF(version);
        if (!ok) {
                if (PyErr_Occurred())
                        PyErr_Print();
                log_error("Failed to set up a worker thread's Python objects");
                t->ts = PyEval_SaveThread();
                wsgi_thread_free(t);
                return NULL;
        }
        t->ts = PyEval_SaveThread();
        return t;
}

void wsgi_thread_free(WsgiThread *t) {
        if (!t)
                return;
        PyEval_RestoreThread(t->ts);
        Py_XDECREF(t->start_response);
        Py_XDECREF(t->responder);
        Py_XDECREF(t->environ_template);
        PyGILState_Release(t->gil);
        free(t);
}

/* The request's on_wait while the app runs: this thread holds the GIL, and lets go of it while
 * it waits for the client. */
static void on_client_wait(void *userdata, bool begin) {
        WsgiThread *t = userdata;
        if (begin)
                t->ts = PyEval_SaveThread();
        else
                PyEval_RestoreThread(t->ts);
}

static PyObject *latin1(const char *s, size_t n) {
        return PyUnicode_DecodeLatin1(s, n, NULL);
}

/* manage-script-name: a PATH_INFO at or under the mount point is split there, SCRIPT_NAME the
 * mount point and PATH_INFO the rest ("/app/x" under /app: "/app" and "/x"). Any other path
 * reaches the app as it came (uWSGI's default app). Returns 0, -1 with a Python error. */
static int mount_split(PyObject *env, Request *r) {
        const char *prefix = wsgi_cfg ? wsgi_cfg->mount_prefix : NULL;
        size_t pl, n;
        const char *path;

        if (!prefix || !prefix[0] || !wsgi_cfg->manage_script_name)
                return 0;
        path = request_get_var(r, "PATH_INFO", &n);
        pl = strlen(prefix);
        if (!path || n < pl || memcmp(path, prefix, pl) != 0 || (n > pl && path[pl] != '/'))
                return 0;
        PyObject *sn = latin1(prefix, pl), *pi = sn ? latin1(path + pl, n - pl) : NULL;
        int rc = pi && PyDict_SetItemString(env, "SCRIPT_NAME", sn) == 0 &&
                                 PyDict_SetItemString(env, "PATH_INFO", pi) == 0
                         ? 0
                         : -1;
        Py_XDECREF(sn);
        Py_XDECREF(pi);
        return rc;
}

static PyObject *build_environ(WsgiThread *t, Request *r, Input *input) {
        PyObject *env = PyDict_Copy(t->environ_template);
        if (!env)
                return NULL;
        for (size_t i = 0; i < r->n_vars; i++) {
                const RequestVar *v = &r->vars[i];
                PyObject *k = latin1(v->key, v->key_len);
                PyObject *val = k ? latin1(v->value, v->value_len) : NULL;
                int rc = val ? PyDict_SetItem(env, k, val) : -1;
                Py_XDECREF(k);
                Py_XDECREF(val);
                if (rc < 0) {
                        Py_DECREF(env);
                        return NULL;
                }
        }
        if (mount_split(env, r) < 0) {
                Py_DECREF(env);
                return NULL;
        }
        PyObject *scheme = PyUnicode_FromString(r->url_scheme);
        int rc = scheme ? PyDict_SetItem(env, key_scheme, scheme) : -1;
        Py_XDECREF(scheme);
        if (rc < 0 || PyDict_SetItem(env, key_input, (PyObject *) input) < 0) {
                Py_DECREF(env);
                return NULL;
        }
        return env;
}

/* Logs the exception in flight with what request raised it. */
static void log_exception(Request *r, const char *what) {
        log_error("%s in the app for %.*s %.*s:", what, (int) r->method_len, r->method,
                  (int) MIN(r->uri_len, 512u), r->uri);
        PyErr_Print();
}

/* The response a failure gets when nothing was sent yet: a body-reading error says what the
 * client did wrong; anything else is the app's 500. */
static void fail_response(Request *r) {
        int status = 500;
        switch (r->body_errno) {
        case EFBIG:
                status = 413;
                break;
        case ETIMEDOUT:
                status = 408;
                break;
        case EBADMSG:
                status = 400;
                break;
        }
        response_error(r, status);
}

/* Serves a file_wrapper over a real file with sendfile(2). Returns 1 when done that way, 0 when
 * the object is not such a file (iterate it instead), -1 on a Python error. */
static int try_sendfile(Request *r, PyObject *result) {
        if (Py_TYPE(result) != &FileWrapperType)
                return 0;
        PyObject *fn = PyObject_CallMethod(((FileWrapper *) result)->filelike, "fileno", NULL);
        if (!fn) {
                PyErr_Clear();
                return 0;
        }
        int fd = (int) PyLong_AsLong(fn);
        Py_DECREF(fn);
        if (fd < 0 || PyErr_Occurred()) {
                PyErr_Clear();
                return 0;
        }
        /* Python's buffered file may have read ahead: its position is what counts. */
        PyObject *pos = PyObject_CallMethod(((FileWrapper *) result)->filelike, "tell", NULL);
        off_t offset = 0;
        if (pos) {
                offset = PyLong_AsLongLong(pos);
                Py_DECREF(pos);
        }
        PyErr_Clear();
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || offset < 0 || offset > st.st_size)
                return 0;
        if (!r->started) {
                PyErr_SetString(PyExc_RuntimeError, "the app did not call start_response");
                return -1;
        }
        uint64_t count = st.st_size - offset;
        if (r->content_length < 0)
                (void) response_set_length(r, count);
        /* Without the GIL all along: the file may have to come from the disk. */
        void (*on_wait)(void *, bool) = r->on_wait;
        r->on_wait = NULL;
        Py_BEGIN_ALLOW_THREADS
        (void) response_sendfile(r, fd, offset, count);
        Py_END_ALLOW_THREADS
        r->on_wait = on_wait;
        return 1;
}

/* A list or tuple of bytes: one writev, with Content-Length when the app gave none. */
static int send_sequence(Request *r, PyObject *seq) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        struct iovec stack_iov[16], *iov = stack_iov;
        uint64_t total = 0;

        for (Py_ssize_t i = 0; i < n; i++) {
                PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
                if (!PyBytes_Check(item)) {
                        PyErr_Format(PyExc_TypeError,
                                     "the app returned %.100s in its response, not bytes",
                                     Py_TYPE(item)->tp_name);
                        return -1;
                }
                total += PyBytes_GET_SIZE(item);
        }
        if (!r->started) {
                PyErr_SetString(PyExc_RuntimeError, "the app did not call start_response");
                return -1;
        }
        if (n > (Py_ssize_t) ELEMENTSOF(stack_iov)) {
                iov = PyMem_Malloc(n * sizeof(*iov));
                if (!iov) {
                        PyErr_NoMemory();
                        return -1;
                }
        }
        for (Py_ssize_t i = 0; i < n; i++) {
                PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
                iov[i] = (struct iovec) { PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item) };
        }
        if (r->content_length < 0)
                (void) response_set_length(r, total);
        /* The sequence (and so every item) stays referenced while the GIL is released. */
        (void) send_iov(r, iov, (int) n);
        if (iov != stack_iov)
                PyMem_Free(iov);
        return 0;
}

/* Any other iterable: each non-empty item is sent as it comes (chunked without a length). */
static int send_iterable(Request *r, PyObject *result) {
        PyObject *it = PyObject_GetIter(result), *item;
        if (!it)
                return -1;
        while ((item = PyIter_Next(it))) {
                if (!PyBytes_Check(item)) {
                        PyErr_Format(PyExc_TypeError,
                                     "the app yielded %.100s in its response, not bytes",
                                     Py_TYPE(item)->tp_name);
                        Py_DECREF(item);
                        break;
                }
                if (!r->started) {
                        PyErr_SetString(PyExc_RuntimeError, "the app did not call start_response");
                        Py_DECREF(item);
                        break;
                }
                if (PyBytes_GET_SIZE(item) > 0) {
                        struct iovec iov = { PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item) };
                        int k = send_iov(r, &iov, 1);
                        Py_DECREF(item);
                        if (k < 0)
                                break; /* the client is gone: stop producing */
                } else
                        Py_DECREF(item);
        }
        Py_DECREF(it);
        if (PyErr_Occurred())
                return -1;
        if (!r->started && !r->failed) {
                PyErr_SetString(PyExc_RuntimeError, "the app did not call start_response");
                return -1;
        }
        return 0;
}

int wsgi_handle(WsgiThread *t, Request *r, bool *ret_exception) {
        PyObject *env = NULL, *result = NULL;
        bool failed = false;
        int k;

        if (!wsgi_app) {
                /* need-app = false and the app did not load: uWSGI's answer. */
                log_error("no app loaded (need-app = false): %.*s %.*s answered 500",
                          (int) r->method_len, r->method, (int) MIN(r->uri_len, 512u), r->uri);
                response_error(r, 500);
                *ret_exception = false;
                return 0;
        }
        PyEval_RestoreThread(t->ts);
        /* From here the GIL is held until the response is out, and let go of only to wait for
         * the client: with thousands of threads, every release is a hand-off through the GIL's
         * queue (a futex wake and a wait behind the others), so the common request (its body
         * received with its head, its response fitting the socket buffer) takes the GIL once,
         * plus whatever the app itself waits for. */
        r->on_wait = on_client_wait;
        r->on_wait_userdata = t;

        Input *input = PyObject_New(Input, &InputType);
        if (!input) {
                PyErr_Print();
                r->on_wait = NULL;
                t->ts = PyEval_SaveThread();
                response_error(r, 500);
                *ret_exception = true;
                return 0;
        }
        input->req = r;
        input->pending = NULL;
        input->pending_len = input->pending_off = input->pending_size = 0;
        t->responder->req = r;

        env = build_environ(t, r, input);
        if (env)
                result = PyObject_CallFunctionObjArgs(wsgi_app, env, t->start_response, NULL);
        if (!result) {
                log_exception(r, "Exception");
                failed = true;
                goto done;
        }

        k = try_sendfile(r, result);
        if (k == 0) {
                if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
                        /* Whole already: a small one is sent once the GIL is let go of
                         * (response_flush()). An iterable is sent as it comes, so a
                         * streaming app's first bytes never wait for its next ones. */
                        r->out_defer = true;
                        k = send_sequence(r, result);
                } else
                        k = send_iterable(r, result);
        }
        if (k < 0) {
                log_exception(r, "Error");
                failed = true;
        }

        /* close() is always called, whatever happened (PEP 3333). */
        if (PyObject_HasAttrString(result, "close")) {
                PyObject *res = PyObject_CallMethod(result, "close", NULL);
                if (!res) {
                        log_exception(r, "Exception in close()");
                        failed = true;
                }
                Py_XDECREF(res);
        }

done:
        if (failed)
                fail_response(r);
        else
                (void) response_finish(r);
        Py_XDECREF(result);
        Py_XDECREF(env);
        input->req = NULL;
        Py_DECREF(input);
        t->responder->req = NULL;
        r->on_wait = NULL;
        t->ts = PyEval_SaveThread();
        if (response_flush(r) < 0)
                r->keep_alive = false;
        *ret_exception = failed;
        return 0;
}
