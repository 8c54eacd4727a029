"""The actions a probe runs on the loaded main.py, by name (`_ACTIONS`): "request" (an HTTP request to its app,
through httpx in process or served by uvicorn on the judge's socket when witnessed, with the lesson's
stand-in task in place when asked), "call" (one of its functions, with stand-in models for `{"$model": ...}`
arguments) and "validate" (a model, through a FastAPI route of the kit's; `model_report` reads its answers).
The app's lifespan runs around each. Called by `alfred.inside.running.run_probe`.
"""

# Trusted after load: every function here binds what it uses as keyword-only defaults (the rule is written at
# the top of alfred/inside/probe.py).

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import types
from contextlib import asynccontextmanager
from typing import Any

from pydantic import BaseModel

from alfred.inside.recording import _STUDENT_ERRORS, _class_name, _describe_value, _error_info, _event, _mark_phase
from alfred.inside.wire import (
    MAX_BODY_CHARS,
    MAX_ITEMS,
    MAX_RESPONSE_CHARS,
    MAX_SENT_BODY_BYTES,
    MAX_TEXT_CHARS,
    SERVING,
    _from_json_bytes,
    _to_json,
)
from alfred.inside.world import _swapped, import_dependencies

# The libraries' table `import_dependencies` fills, held here by the actions' defaults alone (deleted below).
_LIBRARIES = import_dependencies.__kwdefaults__["_libraries"]


def _lookup(observer: dict, module, name: str, *, _hasattr=hasattr, _getattr=getattr):
    if not _hasattr(module, name):
        observer["result"]["missing_name"] = name
        return None
    return _getattr(module, name)


def _lifespan_of(module, *, _getattr=getattr, _callable=callable, _type=type, _class_name=_class_name):
    """The lifespan of main.py's `app` when it does something (a lifespan function, startup or shutdown
    handlers), as uvicorn would run it around every request; None otherwise."""
    router = _getattr(_getattr(module, "app", None), "router", None)
    lifespan = _getattr(router, "lifespan_context", None)
    if not _callable(lifespan):
        return None
    # FastAPI's and Starlette's default lifespan only runs the startup and shutdown handlers.
    if _class_name(_type(lifespan)) == "_DefaultLifespan" and not (router.on_startup or router.on_shutdown):
        return None
    return lifespan


@asynccontextmanager
async def _app_running(observer: dict, module, phase: str, *, _lifespan_of=_lifespan_of):
    """Runs the app's lifespan around a probe, as a server would: startup first, shutdown last."""
    lifespan = _lifespan_of(module)
    if lifespan is None:
        observer["phase"] = phase
        yield
        return
    observer["phase"] = "startup"
    async with lifespan(module.app):
        observer["phase"] = phase
        yield
        observer["phase"] = "shutdown"


def _listening_socket(*, _socket=socket.socket, _recv_fds=getattr(socket, "recv_fds", None), _fd=SERVING,
                      _close=os.close, _dup=os.dup, _OSError=OSError, _len=len):
    """The listening socket the judge handed over for the request being served: the last one sent (those of
    earlier probes that never served, main.py having failed to import, are closed unused). Only a witnessed
    process serves this way, on Linux: Windows has no `socket.recv_fds`, and a student's own run never calls it."""
    channel = _socket(fileno=_dup(_fd))
    try:
        channel.settimeout(5)
        _, fds, _, _ = _recv_fds(channel, 1, 1)
        channel.setblocking(False)
        while True:
            try:
                _, more, _, _ = _recv_fds(channel, 1, 1)
            except _OSError:
                break
            if not more:
                break
            for fd in fds:
                _close(fd)
            fds = more
    finally:
        channel.close()
    if _len(fds) != 1:
        raise _OSError("the judge handed no socket to serve on")
    return _socket(fileno=fds[0])


def _serve_one_request(observer: dict, module, app, requests: int = 1, *, _libraries=_LIBRARIES,
                       _lifespan_of=_lifespan_of, _run=asyncio.run, _listening_socket=_listening_socket,
                       _Event=asyncio.Event, _list=list, _mark_phase=_mark_phase) -> None:
    """Serves the judge's request (its `requests` requests, sent one after the other on its connection) with
    uvicorn on the listening socket the judge handed over for it, the lifespan of main.py's app (`module`;
    None: no lifespan) around it as uvicorn runs it, until they and the tasks they started are done."""
    uvicorn = _libraries["uvicorn"]
    done, served = _Event(), [0]

    async def app_until_done(scope, receive, send):
        try:
            await app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                served[0] += 1
                if served[0] >= requests:
                    done.set()

    lifespan = _lifespan_of(module) is not None
    config = uvicorn.Config(app_until_done, lifespan="on" if lifespan else "off", log_config=None,
                            log_level="critical", access_log=False, proxy_headers=False, ws="none",
                            http="h11", timeout_graceful_shutdown=1)
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)

    async def serve():
        observer["phase"] = "startup" if lifespan else "request"
        _mark_phase(observer)
        await server.startup(sockets=[_listening_socket()])
        observer["phase"] = "request"
        _mark_phase(observer)
        try:
            await done.wait()
        finally:
            for listening in server.servers:  # what uvicorn's own shutdown does, without its waits
                listening.close()
            for connection in _list(server.server_state.connections):
                connection.shutdown()
            if lifespan:
                observer["phase"] = "shutdown"
                await server.lifespan.shutdown()

    _run(serve())


STAND_IN_SAYS = " got "  # the stand-in's line: "<function> got <the probe's token> <JSON object of the fields it read>"


def _put_stand_in(observer: dict, module, stand_in: dict, *, _vars=vars, _list=list, _setattr=setattr,
                  _getattr=getattr, _len=len, _TypeError=TypeError, _time=time, _print=print, _to_json=_to_json,
                  _str=str, _isinstance=isinstance, _dict=dict, _says=STAND_IN_SAYS, _Thread=threading.Thread,
                  _Event=threading.Event, _swapped=_swapped) -> None:
    """Replaces main.py's function `stand_in["function"]` (under every name main.py gives it) with one of the
    kit's that does what the lesson's does, visibly: given one object, it reads that object's fields (those
    of its model, else its attributes), prints them as JSON, and works 5 s. What the endpoint hands its task,
    and when, is then seen from outside the process (a print, a sleep), whatever the student's own task does:
    that is the task exercise's.

    A thread the request starts to run it begins once the request is handled (`_threads_after_request`), as
    on a real server, where the response leaves while the thread is at work: so the order the judge sees
    does not depend on how the machine schedules threads."""
    name = stand_in["function"]
    said = name + _says + _str(stand_in.get("token", "")) + " "  # the token: drawn by the judge for this probe
    original = _getattr(module, name, None)
    if original is None:
        return
    handled, started, original_start = _Event(), [], _Thread.start

    def stand_in_task(*args, **kwargs):
        given = [*args, *kwargs.values()]
        if _len(given) != 1:
            raise _TypeError(f"{name}() takes 1 argument, the report request object, but got {_len(given)}")
        fields = _getattr(_getattr(given[0], "__class__", None), "model_fields", None)
        names = _list(fields) if _isinstance(fields, _dict) else _list(_vars(given[0]))  # a dict has no vars()
        read = {field: _str(_getattr(given[0], field)) for field in names}
        _print(said + _to_json(read))
        _time.sleep(5)

    stand_in_task.__name__ = stand_in_task.__qualname__ = name

    def start(thread):
        if _getattr(thread, "_target", None) is stand_in_task:
            def after_the_request(*args, **kwargs):
                handled.wait(10)
                return stand_in_task(*args, **kwargs)

            thread._target = after_the_request
            started.append(thread)
        return original_start(thread)

    observer["stack"].enter_context(_swapped(_Thread, "start", start))
    observer["stand_in_threads"] = (handled, started)
    for attribute, value in _list(_vars(module).items()):
        if value is original:
            _setattr(module, attribute, stand_in_task)


def _threads_after_request(observer: dict) -> None:
    """The request is handled: threads started to run the stand-in may begin, and are waited for."""
    if observer.get("stand_in_threads"):
        handled, started = observer["stand_in_threads"]
        handled.set()
        for thread in started:
            thread.join(10)


def _request(observer: dict, module, probe: dict, *, _libraries=_LIBRARIES, _lookup=_lookup, _event=_event,
             _error_info=_error_info, _app_running=_app_running, _run=asyncio.run, _isinstance=isinstance,
             _Exception=Exception, _RuntimeError=RuntimeError, _type=type, _errors=_STUDENT_ERRORS,
             _from_json_bytes=_from_json_bytes, _to_json=_to_json, _len=len, _ValueError=ValueError,
             _put_stand_in=_put_stand_in, _serve_one_request=_serve_one_request,
             _threads_after_request=_threads_after_request,
             _max_text=MAX_RESPONSE_CHARS, _max_body=MAX_BODY_CHARS) -> None:
    ASGITransport, AsyncClient = _libraries["ASGITransport"], _libraries["AsyncClient"]
    app = _lookup(observer, module, "app")
    if app is None:
        return
    if probe.get("stand_in"):
        _put_stand_in(observer, module, probe["stand_in"])

    async def recorded_app(scope, receive, send):
        async def recording_send(message):
            if message["type"] == "http.response.start":
                _event(observer, "response-start", {"status": message["status"]})
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                _event(observer, "response-complete", {})
                observer["phase"] = "after-response"

        try:
            await app(scope, receive, recording_send)
        except _errors as exc:
            observer["result"]["error"] = _error_info(observer, exc)
            if not _isinstance(exc, _Exception):  # SystemExit: answer 500 like an ordinary crash would
                raise _RuntimeError(f"{_type(exc).__name__} raised by the app") from None
            raise

    if observer["witnessed"]:  # a real server, on the judge's socket: the judge reads what comes back
        _serve_one_request(observer, module, recorded_app)
        _threads_after_request(observer)
        return

    async def send_request():
        transport = ASGITransport(app=recorded_app, raise_app_exceptions=False)
        async with _app_running(observer, module, "request"), \
                AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.request(
                probe.get("method", "GET"),
                probe["path"],
                params=probe.get("params"),
                json=probe.get("json"),
                content=probe.get("content"),
                headers=probe.get("headers"),
            )

    response = _run(send_request())
    _threads_after_request(observer)
    try:
        body_json = _to_json(_from_json_bytes(response.content))  # the body, as Response.json() decodes it
    except _ValueError:
        body_json = None
    observer["result"]["response"] = {
        "status": response.status_code,
        "body_json": body_json if body_json is not None and _len(body_json) <= _max_body else None,
        "text": response.text[:_max_text],
        "text_chars": _len(response.text),
        "content_type": response.headers.get("content-type", ""),
    }
    if response.status_code == 500 and not response.content and not response.headers:
        # The app raised before answering: uvicorn, which serves it when grading, answers so.
        observer["result"]["response"].update(text="Internal Server Error", content_type="text/plain; charset=utf-8")


def _kit_model(name: str, fields: dict, *, _BaseModel=BaseModel, _type=type, _str=str, _dict=dict):
    """A fresh stand-in model per call, made as `class <name>(BaseModel)` with a `str` field per given field
    would make it in alfred.inside.probe, the layer's entry (a class statement would read its module's
    `__name__` from its globals)."""
    namespace = {"__module__": "alfred.inside.probe", "__qualname__": name,
                 "__annotations__": _dict((field, _str) for field in fields)}
    return _type(_BaseModel)(name, (_BaseModel,), namespace)(**fields)


def _materialize(value: Any, module, *, _isinstance=isinstance, _dict=dict, _set=set, _getattr=getattr, _all=all,
                 _str=str, _type=type, _Exception=Exception, _kit_model=_kit_model) -> Any:
    """Turns a `{"$model": {"name": ..., "fields": {...}}}` placeholder into an object of that model.

    The student's own model of that name when it holds these fields faithfully (so a function may read the
    model's further fields), else a stand-in the kit owns: an unfinished model never fails the tests of a
    function that only receives one.
    """
    if not (_isinstance(value, _dict) and _set(value) == {"$model"} and _isinstance(value["$model"], _dict)):
        return value
    name, fields = _str(value["$model"].get("name", "")), value["$model"].get("fields", {})
    own = _getattr(module, name, None)
    try:
        candidate = own.model_validate(fields)
        held = [(_getattr(candidate, field, None), given) for field, given in fields.items()]
        if _all(_type(value) is _type(given) and value == given for value, given in held):  # a builtin's ==
            return candidate
    except _Exception:  # noqa: BLE001 - missing, unfinished or broken: the stand-in takes its place
        pass
    return _kit_model(name, fields)


def _call(observer: dict, module, probe: dict, *, _lookup=_lookup, _materialize=_materialize, _lifespan_of=_lifespan_of,
          _app_running=_app_running, _run=asyncio.run, _type=type, _CoroutineType=types.CoroutineType,
          _errors=_STUDENT_ERRORS, _error_info=_error_info, _describe_value=_describe_value) -> None:
    """Calls main.py's function; what an `async def` returns, a coroutine (by its own class: asyncio.iscoroutine
    would ask the returned object's `__class__`), is run to its end."""
    func = _lookup(observer, module, probe["function"])
    if func is None:
        return
    args = [_materialize(value, module) for value in probe.get("args", [])]
    kwargs = {name: _materialize(value, module) for name, value in probe.get("kwargs", {}).items()}

    async def call_in_the_running_app():
        async with _app_running(observer, module, "call"):
            returned = func(*args, **kwargs)
            return await returned if _type(returned) is _CoroutineType else returned

    try:
        if _lifespan_of(module) is None:  # nothing starts with the app: call it plainly, without an event loop
            observer["phase"] = "call"
            returned = func(*args, **kwargs)
            if _type(returned) is _CoroutineType:
                returned = _run(returned)
        else:
            returned = _run(call_in_the_running_app())
    except _errors as exc:
        observer["result"]["error"] = _error_info(observer, exc)
        return
    observer["result"]["returned"] = _describe_value(observer, returned)


def model_report(exchanges: list, *, _from_json_bytes=_from_json_bytes, _to_json=_to_json, _isinstance=isinstance,
                 _dict=dict, _list=list, _str=str, _len=len, _ValueError=ValueError, _RecursionError=RecursionError,
                 _lookup_errors=(KeyError, TypeError, AttributeError), _max_items=MAX_ITEMS,
                 _max_text=MAX_TEXT_CHARS) -> dict:
    """A model's report from what a FastAPI route taking it as its body answered (`_validate`): `exchanges` is
    [(status, body bytes) of POST /, (status, body bytes) of GET /openapi.json], or [] when no route could take
    it. The same function reads the exchanges the probe saw in process and those the judge's supervisor saw
    told on the channel, so both reach the same report."""
    report = {"is_pydantic": False, "fields": {}, "accepted": False, "values_json": None, "errors": []}
    if _len(exchanges) != 2:
        return report
    (status, body), (_, schema_body) = exchanges
    try:
        answer, schema = _from_json_bytes(body), _from_json_bytes(schema_body)
    except (_ValueError, _RecursionError):
        return report
    if not _isinstance(schema, _dict):
        return report
    report["is_pydantic"] = True
    try:
        reference = schema["paths"]["/"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        model_schema = schema["components"]["schemas"][reference.rsplit("/", 1)[-1]]
        properties, required = model_schema.get("properties", {}), model_schema.get("required", [])
    except _lookup_errors:
        properties, required = {}, []
    if _isinstance(properties, _dict) and _isinstance(required, _list):
        for name in _list(properties)[:_max_items]:
            described = properties[name] if _isinstance(properties[name], _dict) else {}
            kind = described.get("type") or " | ".join(_str(option.get("type", option.get("$ref", "?")))
                                                     for option in described.get("anyOf", []) if _isinstance(option, _dict))
            shown = f"{kind} ({described['format']})" if described.get("format") else _str(kind or "any")
            report["fields"][_str(name)[:_max_text]] = {"required": name in required, "annotation": shown[:_max_text]}
    if status == 200 and _isinstance(answer, _dict):
        report["accepted"] = True
        report["values_json"] = _to_json(answer)
    elif status == 422 and _isinstance(answer, _dict) and _isinstance(answer.get("detail"), _list):
        for error in answer["detail"][:_max_items]:
            if not _isinstance(error, _dict) or not _isinstance(error.get("loc"), _list):
                continue
            loc = error["loc"][1:] if error["loc"][:1] == ["body"] else error["loc"]
            report["errors"].append({"loc": [_str(part)[:_max_text] for part in loc[:_max_items]],
                                     "type": _str(error.get("type", ""))[:_max_text],
                                     "msg": _str(error.get("msg", ""))[:_max_text]})
    return report


def _validate(observer: dict, module, probe: dict, *, _libraries=_LIBRARIES, _lookup=_lookup, _run=asyncio.run,
              _Exception=Exception, _len=len, _list=list, _model_report=model_report,
              _serve_one_request=_serve_one_request, _max_sent=MAX_SENT_BODY_BYTES) -> None:
    """The model as FastAPI uses it: a route of the kit's takes it as its JSON body and answers with what it
    holds; the report is read from the route's answers (and its OpenAPI schema), as a client sees them.
    Witnessed, the route is served by uvicorn on the judge's socket, and the judge reads its answers itself."""
    model = _lookup(observer, module, probe["model"])
    if model is None:
        return
    FastAPI, ASGITransport, AsyncClient = _libraries["FastAPI"], _libraries["ASGITransport"], _libraries["AsyncClient"]

    async def echo(body):
        return body

    echo.__annotations__ = {"body": model}
    try:
        harness = FastAPI()
        harness.post("/")(echo)
    except _Exception:  # noqa: BLE001 - not something a route can take as its body
        observer["result"]["model"] = _model_report([])
        return
    exchanges = []

    async def told(scope, receive, send):
        sent = {"status": 0, "body": b""}

        async def recording_send(message):
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
            elif message["type"] == "http.response.body" and _len(sent["body"]) <= _max_sent:
                sent["body"] += message.get("body", b"")[:_max_sent + 1]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                exchanges.append((sent["status"], sent["body"]))

        await harness(scope, receive, recording_send)

    if observer["witnessed"]:
        _serve_one_request(observer, None, told, requests=2)
        observer["result"]["model"] = _model_report(exchanges)
        return

    async def ask():
        transport = ASGITransport(app=told, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://harness") as client:
            await client.post("/", json=probe["data"])
            await client.get("/openapi.json")

    _run(ask())
    observer["result"]["model"] = _model_report(exchanges)


# The actions, by name: a table nothing can change (student code could reach a dict by name and edit it).
_ACTIONS = types.MappingProxyType({"request": _request, "call": _call, "validate": _validate})


del _LIBRARIES
