/* SPDX-License-Identifier: MIT */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <poll.h>

#include "log.h"
#include "request.h"
#include "wsgi_gevent.h"

/* How it fits together.
 *
 * One thread, the worker's main, runs gevent's hub. The hub watches the listeners; on a
 * connection, the engine's accept() hands out a handle and a greenlet (a bare greenlet whose
 * parent is the hub, not a gevent.Greenlet: nothing links to it or joins it, so the
 * bookkeeping is not worth its cost) runs serve(handle): the same C code as a worker thread
 * runs, parse -> WSGI -> response. A greenlet whose connection closed parks itself for the
 * next one instead of ending: each new greenlet gets a 16 KiB Python data stack that CPython
 * maps and unmaps, and one munmap per request (with its TLB shootdown across the worker's
 * two threads) cost more CPU than everything else the engine does (perf: 16% of the worker).
 * Parked greenlets are bounded by gevent = N, like the slots. Where that code would poll(2) its socket it calls
 * wsgi_gevent_wait(): take the GIL back, wait on an io watcher (gevent.socket.wait), which
 * switches to the hub, and let go of the GIL when the hub switches back. Greenlets switch only
 * inside those waits and inside the app (gevent.sleep, a monkey-patched socket): always with
 * the GIL held, on one thread state, so the C frames below a switch (serve, wsgi_handle) are
 * saved and restored by greenlet like any other stack.
 *
 * The GIL is let go around the C parts only so that the worker's control thread (signals,
 * SIGUSR2's stack report) can take it; nothing else competes for it. */

/* The driver, in Python: small, and no per-request work but a greenlet and its switches. */
static const char driver_code[] =
        "import gevent, gevent.event, gevent.socket\n"
        "from greenlet import greenlet, getcurrent\n"
        "\n"
        "hub = gevent.get_hub()\n"
        "loop = hub.loop\n"
        "_wait = gevent.socket.wait\n"
        "\n"
        "class Expired(Exception):\n"
        "    pass\n"
        "\n"
        "expired = Expired()\n"
        "\n"
        "def wait(fd, events, timeout):\n"
        "    w = loop.io(fd, events)\n"
        "    try:\n"
        "        _wait(w, timeout, expired)\n"
        "        return 0\n"
        "    except Expired:\n"
        "        return 1\n"
        "    finally:\n"
        "        w.close()\n"
        "\n"
        "def run(fds, wake_fd, tick, batch, accept, serve, wake, accepting, done, ready):\n"
        "    watchers = [loop.io(fd, 1) for fd in fds]\n"
        "    armed = [False]\n"
        "    finished = gevent.event.Event()\n"
        "\n"
        "    def sync():\n"
        "        a = accepting()\n"
        "        if a != armed[0]:\n"
        "            armed[0] = a\n"
        "            for i, w in enumerate(watchers):\n"
        "                if a:\n"
        "                    w.start(on_listener, i)\n"
        "                else:\n"
        "                    w.stop()\n"
        "        if done():\n"
        "            finished.set()\n"
        "\n"
        "    parked = []\n"
        "    switch_to_hub = hub.switch\n"
        "\n"
        "    def body(h):  # running_handle() finds h here\n"
        "        while True:\n"
        "            serve(h)\n"
        "            sync()\n"
        "            parked.append(getcurrent())\n"
        "            h = switch_to_hub()\n"
        "\n"
        "    def on_listener(i):\n"
        "        for _ in range(batch):\n"
        "            h = accept(i)\n"
        "            if h < 0:\n"
        "                break\n"
        "            if parked:\n"
        "                parked.pop().switch(h)\n"
        "            else:\n"
        "                greenlet(body, hub).switch(h)\n"
        "        sync()\n"
        "\n"
        "    def on_wake():\n"
        "        wake()\n"
        "        sync()\n"
        "\n"
        "    ww = loop.io(wake_fd, 1)\n"
        "    ww.start(on_wake)\n"
        "    tw = loop.timer(tick, tick)\n"
        "    tw.start(on_wake)\n"
        "    sync()\n"
        "    ready()\n"
        "    finished.wait()\n"
        "    for w in watchers:\n"
        "        w.close()\n"
        "    ww.close()\n"
        "    tw.close()\n";

/* The hub's thread state: every greenlet runs on it. */
static PyThreadState *hub_state;
static unsigned long hub_thread;
static PyObject *wait_func;
static PyObject *body_code; /* the code of run()'s body(h), which every greenlet starts in */
static const WsgiGeventOps *hub_ops;

/* Connections accepted in one go before the hub looks at its other events: with several
 * processes on one listener, also what one wake-up may take from the others. */
#define ACCEPT_BATCH 16

static PyObject *py_accept(PyObject *self, PyObject *arg) {
        (void) self;
        Py_ssize_t i = PyLong_AsSsize_t(arg);
        if (i < 0 && PyErr_Occurred())
                return NULL;
        return PyLong_FromLong(hub_ops->accept(hub_ops->userdata, (size_t) i));
}

static PyObject *py_serve(PyObject *self, PyObject *arg) {
        (void) self;
        long h = PyLong_AsLong(arg);
        if (h < 0 && PyErr_Occurred())
                return NULL;
        PyThreadState *ts = PyEval_SaveThread();
        hub_ops->serve(hub_ops->userdata, (int) h);
        PyEval_RestoreThread(ts);
        Py_RETURN_NONE;
}

static PyObject *py_wake(PyObject *self, PyObject *unused) {
        (void) self;
        (void) unused;
        hub_ops->wake(hub_ops->userdata);
        Py_RETURN_NONE;
}

static PyObject *py_accepting(PyObject *self, PyObject *unused) {
        (void) self;
        (void) unused;
        return PyBool_FromLong(hub_ops->accepting(hub_ops->userdata));
}

static PyObject *py_done(PyObject *self, PyObject *unused) {
        (void) self;
        (void) unused;
        return PyBool_FromLong(hub_ops->done(hub_ops->userdata));
}

static PyObject *py_ready(PyObject *self, PyObject *unused) {
        (void) self;
        (void) unused;
        hub_ops->ready(hub_ops->userdata);
        Py_RETURN_NONE;
}

static PyMethodDef engine_methods[] = {
        { "accept", py_accept, METH_O, NULL },
        { "serve", py_serve, METH_O, NULL },
        { "wake", py_wake, METH_NOARGS, NULL },
        { "accepting", py_accepting, METH_NOARGS, NULL },
        { "done", py_done, METH_NOARGS, NULL },
        { "ready", py_ready, METH_NOARGS, NULL },
};

int wsgi_gevent_wait(int fd, short events, int timeout_ms) {
        int k = 0;

        PyEval_RestoreThread(hub_state);
        PyObject *timeout = timeout_ms >= 0 ? PyFloat_FromDouble(timeout_ms / 1000.0)
                                            : Py_NewRef(Py_None);
        /* libev's READ is 1 and WRITE is 2. */
        PyObject *res = timeout ? PyObject_CallFunction(wait_func, "iiO", fd,
                                                        events & POLLOUT ? 2 : 1, timeout)
                                : NULL;
        Py_XDECREF(timeout);
        if (!res) {
                /* Thrown into the greenlet (gevent.kill, GreenletExit) or out of memory: the
                 * request gives up on its connection, which closes. */
                PyErr_Clear();
                k = -ECANCELED;
        } else if (PyLong_AsLong(res) != 0)
                k = -ETIMEDOUT;
        Py_XDECREF(res);
        hub_state = PyEval_SaveThread();
        return k;
}

int wsgi_gevent_running_handle(void) {
        int h = -1;

        if (!body_code || !Py_IsInitialized())
                return -1;
        /* The hub's thread lets go of the GIL in its waits and every switch interval. */
        PyGILState_STATE gil = PyGILState_Ensure();
        PyObject *frames = _PyThread_CurrentFrames();
        PyObject *key = PyLong_FromUnsignedLong(hub_thread);
        PyObject *f = frames && key ? PyDict_GetItemWithError(frames, key) : NULL; /* borrowed */
        PyFrameObject *frame = f && PyFrame_Check(f) ? (PyFrameObject *) Py_NewRef(f) : NULL;
        while (frame) {
                PyCodeObject *code = PyFrame_GetCode(frame);
                bool found = (PyObject *) code == body_code;
                Py_DECREF(code);
                if (found) {
                        PyObject *locals = PyFrame_GetLocals(frame);
                        PyObject *v = locals ? PyMapping_GetItemString(locals, "h") : NULL;
                        if (v && PyLong_Check(v))
                                h = (int) PyLong_AsLong(v);
                        Py_XDECREF(v);
                        Py_XDECREF(locals);
                        Py_DECREF(frame);
                        break;
                }
                PyFrameObject *back = PyFrame_GetBack(frame);
                Py_DECREF(frame);
                frame = back;
        }
        PyErr_Clear();
        Py_XDECREF(key);
        Py_XDECREF(frames);
        PyGILState_Release(gil);
        return h;
}

static int monkey_patch(void) {
        PyObject *monkey = PyImport_ImportModule("gevent.monkey");
        PyObject *res = monkey ? PyObject_CallMethod(monkey, "patch_all", NULL) : NULL;
        Py_XDECREF(monkey);
        if (!res)
                return -1;
        Py_DECREF(res);
        return 0;
}

int wsgi_gevent_run(const VassalConfig *c, const WsgiGeventOps *ops) {
        PyObject *globals = NULL, *fds = NULL, *res = NULL, *fn[ELEMENTSOF(engine_methods)] = {};
        int r = -EINVAL;

        hub_ops = ops;
        if (c->gevent_monkey_patch && monkey_patch() < 0)
                goto out;
        globals = PyDict_New();
        if (!globals || PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) < 0)
                goto out;
        res = PyRun_String(driver_code, Py_file_input, globals, globals);
        if (!res)
                goto out;
        Py_CLEAR(res);
        wait_func = Py_XNewRef(PyDict_GetItemString(globals, "wait"));
        PyObject *run = PyDict_GetItemString(globals, "run"); /* borrowed */
        fds = PyList_New((Py_ssize_t) ops->n_listeners);
        if (!wait_func || !run || !fds)
                goto out;
        /* body is a nested function: its code is a constant of run's. */
        PyObject *consts = PyObject_GetAttrString(PyFunction_GetCode(run), "co_consts");
        for (Py_ssize_t i = 0; consts && i < PyTuple_Size(consts); i++) {
                PyObject *k = PyTuple_GET_ITEM(consts, i);
                if (PyCode_Check(k) && PyUnicode_CompareWithASCIIString(
                                               ((PyCodeObject *) k)->co_name, "body") == 0)
                        body_code = Py_NewRef(k);
        }
        Py_XDECREF(consts);
        PyErr_Clear();
        hub_thread = PyThread_get_thread_ident();
        for (size_t i = 0; i < ops->n_listeners; i++) {
                PyObject *fd = PyLong_FromLong(ops->listener_fds[i]);
                if (!fd)
                        goto out;
                PyList_SET_ITEM(fds, (Py_ssize_t) i, fd);
        }
        for (size_t i = 0; i < ELEMENTSOF(engine_methods); i++) {
                fn[i] = PyCFunction_New(&engine_methods[i], NULL);
                if (!fn[i])
                        goto out;
        }
        request_set_wait(wsgi_gevent_wait);
        hub_state = PyThreadState_Get();
        res = PyObject_CallFunction(run, "OidiOOOOOO", fds, ops->wake_fd, ops->tick_ms / 1000.0,
                                    ACCEPT_BATCH, fn[0], fn[1], fn[2], fn[3], fn[4], fn[5]);
        request_set_wait(NULL);
        if (res)
                r = 0;
out:
        if (r < 0) {
                if (PyErr_Occurred())
                        PyErr_Print();
                log_error("gevent: the hub failed to run");
        }
        Py_XDECREF(res);
        Py_XDECREF(fds);
        for (size_t i = 0; i < ELEMENTSOF(fn); i++)
                Py_XDECREF(fn[i]);
        Py_XDECREF(globals);
        return r;
}
