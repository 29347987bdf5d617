build-asan/obj/vassal/wsgi_gevent.o: vassal/wsgi_gevent.c \
 /usr/include/python3.11/Python.h /usr/include/python3.11/patchlevel.h \
 /usr/include/python3.11/pyconfig.h /usr/include/python3.11/pymacconfig.h \
 /usr/include/python3.11/pyport.h /usr/include/python3.11/exports.h \
 /usr/include/python3.11/pymacro.h /usr/include/python3.11/pymath.h \
 /usr/include/python3.11/pymem.h /usr/include/python3.11/cpython/pymem.h \
 /usr/include/python3.11/pytypedefs.h /usr/include/python3.11/pybuffer.h \
 /usr/include/python3.11/object.h \
 /usr/include/python3.11/cpython/object.h \
 /usr/include/python3.11/objimpl.h \
 /usr/include/python3.11/cpython/objimpl.h \
 /usr/include/python3.11/typeslots.h /usr/include/python3.11/pyhash.h \
 /usr/include/python3.11/cpython/pydebug.h \
 /usr/include/python3.11/bytearrayobject.h \
 /usr/include/python3.11/cpython/bytearrayobject.h \
 /usr/include/python3.11/bytesobject.h \
 /usr/include/python3.11/cpython/bytesobject.h \
 /usr/include/python3.11/unicodeobject.h \
 /usr/include/python3.11/cpython/unicodeobject.h \
 /usr/include/python3.11/longobject.h \
 /usr/include/python3.11/cpython/longobject.h \
 /usr/include/python3.11/cpython/longintrepr.h \
 /usr/include/python3.11/boolobject.h \
 /usr/include/python3.11/floatobject.h \
 /usr/include/python3.11/cpython/floatobject.h \
 /usr/include/python3.11/complexobject.h \
 /usr/include/python3.11/cpython/complexobject.h \
 /usr/include/python3.11/rangeobject.h \
 /usr/include/python3.11/memoryobject.h \
 /usr/include/python3.11/tupleobject.h \
 /usr/include/python3.11/cpython/tupleobject.h \
 /usr/include/python3.11/listobject.h \
 /usr/include/python3.11/cpython/listobject.h \
 /usr/include/python3.11/dictobject.h \
 /usr/include/python3.11/cpython/dictobject.h \
 /usr/include/python3.11/cpython/odictobject.h \
 /usr/include/python3.11/enumobject.h /usr/include/python3.11/setobject.h \
 /usr/include/python3.11/cpython/setobject.h \
 /usr/include/python3.11/methodobject.h \
 /usr/include/python3.11/cpython/methodobject.h \
 /usr/include/python3.11/moduleobject.h \
 /usr/include/python3.11/cpython/funcobject.h \
 /usr/include/python3.11/cpython/classobject.h \
 /usr/include/python3.11/fileobject.h \
 /usr/include/python3.11/cpython/fileobject.h \
 /usr/include/python3.11/pycapsule.h \
 /usr/include/python3.11/cpython/code.h /usr/include/python3.11/pyframe.h \
 /usr/include/python3.11/cpython/pyframe.h \
 /usr/include/python3.11/traceback.h \
 /usr/include/python3.11/cpython/traceback.h \
 /usr/include/python3.11/sliceobject.h \
 /usr/include/python3.11/cpython/cellobject.h \
 /usr/include/python3.11/iterobject.h \
 /usr/include/python3.11/cpython/initconfig.h \
 /usr/include/python3.11/pystate.h \
 /usr/include/python3.11/cpython/pystate.h \
 /usr/include/python3.11/cpython/genobject.h \
 /usr/include/python3.11/descrobject.h \
 /usr/include/python3.11/cpython/descrobject.h \
 /usr/include/python3.11/genericaliasobject.h \
 /usr/include/python3.11/warnings.h \
 /usr/include/python3.11/cpython/warnings.h \
 /usr/include/python3.11/weakrefobject.h \
 /usr/include/python3.11/cpython/weakrefobject.h \
 /usr/include/python3.11/structseq.h \
 /usr/include/python3.11/cpython/picklebufobject.h \
 /usr/include/python3.11/cpython/pytime.h \
 /usr/include/python3.11/codecs.h /usr/include/python3.11/pyerrors.h \
 /usr/include/python3.11/cpython/pyerrors.h \
 /usr/include/python3.11/pythread.h \
 /usr/include/python3.11/cpython/pythread.h \
 /usr/include/python3.11/cpython/context.h \
 /usr/include/python3.11/modsupport.h \
 /usr/include/python3.11/cpython/modsupport.h \
 /usr/include/python3.11/compile.h \
 /usr/include/python3.11/cpython/compile.h \
 /usr/include/python3.11/pythonrun.h \
 /usr/include/python3.11/cpython/pythonrun.h \
 /usr/include/python3.11/pylifecycle.h \
 /usr/include/python3.11/cpython/pylifecycle.h \
 /usr/include/python3.11/ceval.h /usr/include/python3.11/cpython/ceval.h \
 /usr/include/python3.11/sysmodule.h \
 /usr/include/python3.11/cpython/sysmodule.h \
 /usr/include/python3.11/osmodule.h /usr/include/python3.11/intrcheck.h \
 /usr/include/python3.11/import.h \
 /usr/include/python3.11/cpython/import.h \
 /usr/include/python3.11/abstract.h \
 /usr/include/python3.11/cpython/abstract.h \
 /usr/include/python3.11/bltinmodule.h \
 /usr/include/python3.11/cpython/pyctype.h \
 /usr/include/python3.11/pystrtod.h /usr/include/python3.11/pystrcmp.h \
 /usr/include/python3.11/fileutils.h \
 /usr/include/python3.11/cpython/fileutils.h \
 /usr/include/python3.11/cpython/pyfpe.h \
 /usr/include/python3.11/tracemalloc.h lib/log.h lib/macro.h \
 vassal/request.h lib/http.h vassal/socket.h lib/uwsgi.h \
 vassal/wsgi_gevent.h vassal/config.h lib/conf.h lib/ini.h
/usr/include/python3.11/Python.h:
/usr/include/python3.11/patchlevel.h:
/usr/include/python3.11/pyconfig.h:
/usr/include/python3.11/pymacconfig.h:
/usr/include/python3.11/pyport.h:
/usr/include/python3.11/exports.h:
/usr/include/python3.11/pymacro.h:
/usr/include/python3.11/pymath.h:
/usr/include/python3.11/pymem.h:
/usr/include/python3.11/cpython/pymem.h:
/usr/include/python3.11/pytypedefs.h:
/usr/include/python3.11/pybuffer.h:
/usr/include/python3.11/object.h:
/usr/include/python3.11/cpython/object.h:
/usr/include/python3.11/objimpl.h:
/usr/include/python3.11/cpython/objimpl.h:
/usr/include/python3.11/typeslots.h:
/usr/include/python3.11/pyhash.h:
/usr/include/python3.11/cpython/pydebug.h:
/usr/include/python3.11/bytearrayobject.h:
/usr/include/python3.11/cpython/bytearrayobject.h:
/usr/include/python3.11/bytesobject.h:
/usr/include/python3.11/cpython/bytesobject.h:
/usr/include/python3.11/unicodeobject.h:
/usr/include/python3.11/cpython/unicodeobject.h:
/usr/include/python3.11/longobject.h:
/usr/include/python3.11/cpython/longobject.h:
/usr/include/python3.11/cpython/longintrepr.h:
/usr/include/python3.11/boolobject.h:
/usr/include/python3.11/floatobject.h:
/usr/include/python3.11/cpython/floatobject.h:
/usr/include/python3.11/complexobject.h:
/usr/include/python3.11/cpython/complexobject.h:
/usr/include/python3.11/rangeobject.h:
/usr/include/python3.11/memoryobject.h:
/usr/include/python3.11/tupleobject.h:
/usr/include/python3.11/cpython/tupleobject.h:
/usr/include/python3.11/listobject.h:
/usr/include/python3.11/cpython/listobject.h:
/usr/include/python3.11/dictobject.h:
/usr/include/python3.11/cpython/dictobject.h:
/usr/include/python3.11/cpython/odictobject.h:
/usr/include/python3.11/enumobject.h:
/usr/include/python3.11/setobject.h:
/usr/include/python3.11/cpython/setobject.h:
/usr/include/python3.11/methodobject.h:
/usr/include/python3.11/cpython/methodobject.h:
/usr/include/python3.11/moduleobject.h:
/usr/include/python3.11/cpython/funcobject.h:
/usr/include/python3.11/cpython/classobject.h:
/usr/include/python3.11/fileobject.h:
/usr/include/python3.11/cpython/fileobject.h:
/usr/include/python3.11/pycapsule.h:
/usr/include/python3.11/cpython/code.h:
/usr/include/python3.11/pyframe.h:
/usr/include/python3.11/cpython/pyframe.h:
/usr/include/python3.11/traceback.h:
/usr/include/python3.11/cpython/traceback.h:
/usr/include/python3.11/sliceobject.h:
/usr/include/python3.11/cpython/cellobject.h:
/usr/include/python3.11/iterobject.h:
/usr/include/python3.11/cpython/initconfig.h:
/usr/include/python3.11/pystate.h:
/usr/include/python3.11/cpython/pystate.h:
/usr/include/python3.11/cpython/genobject.h:
/usr/include/python3.11/descrobject.h:
/usr/include/python3.11/cpython/descrobject.h:
/usr/include/python3.11/genericaliasobject.h:
/usr/include/python3.11/warnings.h:
/usr/include/python3.11/cpython/warnings.h:
/usr/include/python3.11/weakrefobject.h:
/usr/include/python3.11/cpython/weakrefobject.h:
/usr/include/python3.11/structseq.h:
/usr/include/python3.11/cpython/picklebufobject.h:
/usr/include/python3.11/cpython/pytime.h:
/usr/include/python3.11/codecs.h:
/usr/include/python3.11/pyerrors.h:
/usr/include/python3.11/cpython/pyerrors.h:
/usr/include/python3.11/pythread.h:
/usr/include/python3.11/cpython/pythread.h:
/usr/include/python3.11/cpython/context.h:
/usr/include/python3.11/modsupport.h:
/usr/include/python3.11/cpython/modsupport.h:
/usr/include/python3.11/compile.h:
/usr/include/python3.11/cpython/compile.h:
/usr/include/python3.11/pythonrun.h:
/usr/include/python3.11/cpython/pythonrun.h:
/usr/include/python3.11/pylifecycle.h:
/usr/include/python3.11/cpython/pylifecycle.h:
/usr/include/python3.11/ceval.h:
/usr/include/python3.11/cpython/ceval.h:
/usr/include/python3.11/sysmodule.h:
/usr/include/python3.11/cpython/sysmodule.h:
/usr/include/python3.11/osmodule.h:
/usr/include/python3.11/intrcheck.h:
/usr/include/python3.11/import.h:
/usr/include/python3.11/cpython/import.h:
/usr/include/python3.11/abstract.h:
/usr/include/python3.11/cpython/abstract.h:
/usr/include/python3.11/bltinmodule.h:
/usr/include/python3.11/cpython/pyctype.h:
/usr/include/python3.11/pystrtod.h:
/usr/include/python3.11/pystrcmp.h:
/usr/include/python3.11/fileutils.h:
/usr/include/python3.11/cpython/fileutils.h:
/usr/include/python3.11/cpython/pyfpe.h:
/usr/include/python3.11/tracemalloc.h:
lib/log.h:
lib/macro.h:
vassal/request.h:
lib/http.h:
vassal/socket.h:
lib/uwsgi.h:
vassal/wsgi_gevent.h:
vassal/config.h:
lib/conf.h:
lib/ini.h:
